/**
 * Pulumi unit-test mocks (`pulumi.runtime.setMocks`) that record every registered resource and
 * invoke, and answer with realistic ids/ARNs so outputs can be asserted.
 */
import * as pulumi from "@pulumi/pulumi";

export const MOCK_ACCOUNT = "123456789012";
/** The Pulumi organization of the mocked stacks. */
export const MOCK_ORGANIZATION = "acme";
export const MOCK_REGION = "eu-west-1";
export const MOCK_VPC_CIDR = "10.42.0.0/16";
/** A secondary CIDR, as EKS custom networking puts pods in. */
export const MOCK_VPC_SECONDARY_CIDR = "100.64.0.0/16";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly id: string;
  readonly state: Record<string, unknown>;
  /** Provider reference (`<urn>::<id>`) when the resource has an explicit provider. */
  readonly provider?: string;
  /** Resource options the program registered it with (as the engine receives them). */
  readonly options: RegistrationOptions;
}

/** The resource options of a registration, read off the engine request. */
export interface RegistrationOptions {
  /** URNs of the resources it waits for (`dependsOn`, components expanded to their children). */
  readonly dependsOn: readonly string[];
  readonly parent: string;
  readonly protect: boolean;
  readonly deleteBeforeReplace: boolean;
  readonly replaceOnChanges: readonly string[];
  readonly customTimeouts?: { readonly create: string; readonly update: string; readonly delete: string };
}

/** Options of the registration in flight, keyed by `<type>::<name>` (set by the monitor hook). */
const inflight = new Map<string, RegistrationOptions>();
const NO_OPTIONS: RegistrationOptions = { dependsOn: [], parent: "", protect: false, deleteBeforeReplace: false, replaceOnChanges: [] };

interface RegisterRequestObject {
  type: string;
  name: string;
  parent: string;
  protect?: boolean;
  dependenciesList: string[];
  deletebeforereplace: boolean;
  replaceonchangesList: string[];
  customtimeouts?: { create: string; update: string; pb_delete: string };
}

/** Wraps the mock monitor so every registration's options are recorded with the resource. */
function hookMonitor(): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: (req: { toObject(): RegisterRequestObject }, cb: unknown) => unknown; __remedyHooked?: boolean };
  if (!monitor || monitor.__remedyHooked) return;
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const o = req.toObject();
    inflight.set(`${o.type}::${o.name}`, {
      dependsOn: o.dependenciesList,
      parent: o.parent,
      protect: o.protect ?? false,
      deleteBeforeReplace: o.deletebeforereplace,
      replaceOnChanges: o.replaceonchangesList,
      ...(o.customtimeouts ? { customTimeouts: { create: o.customtimeouts.create, update: o.customtimeouts.update, delete: o.customtimeouts.pb_delete } } : {}),
    });
    return original(req, cb);
  };
  monitor.__remedyHooked = true;
}

export interface RecordedInvoke {
  readonly token: string;
  readonly inputs: Record<string, unknown>;
}

/** What the mocked `aws.eks.getCluster` reports about access (tests change it, then call {@link resetMockCluster}). */
export const mockCluster = { authenticationMode: "API_AND_CONFIG_MAP", endpointPublicAccess: true, endpointPrivateAccess: true, publicAccessCidrs: ["0.0.0.0/0"] };
export function resetMockCluster(): void {
  Object.assign(mockCluster, { authenticationMode: "API_AND_CONFIG_MAP", endpointPublicAccess: true, endpointPrivateAccess: true, publicAccessCidrs: ["0.0.0.0/0"] });
}

export const recorded: { resources: RecordedResource[]; invokes: RecordedInvoke[] } = {
  resources: [],
  invokes: [],
};

/** A stable number per resource type + name, so ids and ARNs are the same on every run of a program, as in AWS. */
let currentStack = "prod";

/** Outputs a mocked `StackReference` returns, by referenced stack name (set by tests). */
export const stackReferenceOutputs = new Map<string, Record<string, unknown>>();

function seed(type: string, name: string): number {
  let h = 2166136261;
  for (const c of `${currentStack}::${type}::${name}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h;
}
function hex(n: number): string {
  return (n * 2654435761).toString(16).padStart(16, "0").slice(-16);
}

/** Provider-computed state a real `pulumi up` would return for the types remedy creates. */
function stateFor(type: string, name: string, inputs: Record<string, unknown>, id: string): Record<string, unknown> {
  const arn = (resource: string) => `arn:aws:elasticloadbalancing:${MOCK_REGION}:${MOCK_ACCOUNT}:${resource}`;
  switch (type) {
    case "aws:lb/targetGroup:TargetGroup": {
      const tgName = (inputs.name as string | undefined) ?? `${name}-${id.slice(0, 7)}`;
      return { ...inputs, name: tgName, arn: arn(`targetgroup/${tgName}/${id}`) };
    }
    case "aws:lb/loadBalancer:LoadBalancer":
      return {
        ...inputs,
        name: `${name}-${id.slice(0, 7)}`,
        arn: arn(`loadbalancer/app/${name}/${id}`),
        dnsName: `${name}-${id.slice(0, 7)}.${MOCK_REGION}.elb.amazonaws.com`,
      };
    case "aws:lb/listener:Listener":
      return { ...inputs, arn: arn(`listener/app/remedy/${hex(seed(type, `${name}#lb`))}/${hex(seed(type, name))}`) };
    case "aws:lb/listenerRule:ListenerRule": {
      // ELB's shape, listener-rule/app/<lb>/<lb id>/<listener id>/<rule id>: the one IAM's data
      // (and so iam-simulate) accepts as a listener-rule resource.
      const listener = typeof inputs.listenerArn === "string" && inputs.listenerArn.includes(":listener/app/") ? inputs.listenerArn : arn(`listener/app/remedy/${hex(seed(type, "#lb"))}/${hex(seed(type, "#listener"))}`);
      return { ...inputs, arn: `${listener.replace(":listener/app/", ":listener-rule/app/")}/${hex(seed(type, name))}` };
    }
    case "aws:ec2/securityGroup:SecurityGroup":
      return { ...inputs, arn: `arn:aws:ec2:${MOCK_REGION}:${MOCK_ACCOUNT}:security-group/${id}` };
    case "aws:lambda/functionUrl:FunctionUrl":
      // Lambda's shape: https://<32-character url id>.lambda-url.<region>.on.aws/
      return { ...inputs, functionUrl: `https://${(hex(seed(type, name)) + hex(seed(type, `${name}#2`))).slice(0, 32)}.lambda-url.${MOCK_REGION}.on.aws/`, urlId: hex(seed(type, name)) };
    case "aws:lambda/function:Function":
      return { ...inputs, name: (inputs.name as string | undefined) ?? id, arn: `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:${id}` };
    case "aws:secretsmanager/secret:Secret":
      // Secrets Manager's shape: secret:<name>-<6 random characters>.
      return { ...inputs, name: id, arn: `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:${id}-${hex(seed(type, name)).slice(0, 6)}` };
    case "aws:dynamodb/table:Table":
      return { ...inputs, name: id, arn: `arn:aws:dynamodb:${MOCK_REGION}:${MOCK_ACCOUNT}:table/${id}` };
    case "aws:sns/topic:Topic":
      return { ...inputs, name: id, arn: `arn:aws:sns:${MOCK_REGION}:${MOCK_ACCOUNT}:${id}` };
    case "aws:kms/key:Key":
      return { ...inputs, keyId: id, arn: `arn:aws:kms:${MOCK_REGION}:${MOCK_ACCOUNT}:key/${id}` };
    case "aws:sqs/queue:Queue":
      return { ...inputs, name: id, arn: `arn:aws:sqs:${MOCK_REGION}:${MOCK_ACCOUNT}:${id}`, url: `https://sqs.${MOCK_REGION}.amazonaws.com/${MOCK_ACCOUNT}/${id}` };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { ...inputs, name: id, arn: `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:${id}` };
    case "aws:iam/role:Role":
      return { ...inputs, name: id, arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${id}` };
    case "aws:cloudwatch/eventRule:EventRule": {
      const ruleName = (inputs.name as string | undefined) ?? id;
      return { ...inputs, name: ruleName, arn: `arn:aws:events:${MOCK_REGION}:${MOCK_ACCOUNT}:rule/${ruleName}` };
    }
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      return { ...inputs, arn: `arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:${String(inputs.name ?? id)}` };
    default:
      return { ...inputs };
  }
}

/** Installs the mocks. Idempotent; call from a root `before` hook before importing programs. */
export async function installMocks(stack = "prod", preview = false): Promise<void> {
  currentStack = stack;
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        if (args.type === "pulumi:pulumi:StackReference") {
          const refName = String(args.inputs.name);
          const outputs = stackReferenceOutputs.get(refName);
          if (!outputs) throw new Error(`unit tests: no outputs registered for stack reference ${refName}`);
          recorded.resources.push({ type: args.type, name: args.name, inputs: args.inputs, id: refName, state: { outputs }, options: NO_OPTIONS });
          return { id: refName, state: { name: refName, outputs, secretOutputNames: [] } };
        }
        const n = seed(args.type, args.name);
        const id = args.type === "aws:ec2/securityGroup:SecurityGroup" ? `sg-${hex(n)}` : `${args.name}-${hex(n)}`;
        const state = stateFor(args.type, args.name, args.inputs as Record<string, unknown>, id);
        const options = inflight.get(`${args.type}::${args.name}`) ?? NO_OPTIONS;
        recorded.resources.push({ type: args.type, name: args.name, inputs: args.inputs, id, state, provider: args.provider, options });
        return { id, state };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        recorded.invokes.push({ token: args.token, inputs: args.inputs });
        if (args.token === "aws:ec2/getVpc:getVpc") {
          return {
            id: args.inputs.id,
            cidrBlock: MOCK_VPC_CIDR,
            cidrBlockAssociations: [
              { associationId: "vpc-cidr-assoc-1", cidrBlock: MOCK_VPC_CIDR, state: "associated" },
              { associationId: "vpc-cidr-assoc-2", cidrBlock: MOCK_VPC_SECONDARY_CIDR, state: "associated" },
              { associationId: "vpc-cidr-assoc-3", cidrBlock: "172.31.0.0/16", state: "disassociated" },
            ],
            arn: `arn:aws:ec2:${MOCK_REGION}:${MOCK_ACCOUNT}:vpc/${args.inputs.id}`,
          };
        }
        if (args.token === "aws:ec2/getSubnet:getSubnet") {
          // A /24 of the VPC per subnet, numbered from the id, as AWS would return it.
          const third = seed("subnet", String(args.inputs.id)) % 250;
          return { id: args.inputs.id, cidrBlock: `10.0.${third}.0/24`, arn: `arn:aws:ec2:${MOCK_REGION}:${MOCK_ACCOUNT}:subnet/${String(args.inputs.id)}` };
        }
        if (args.token === "aws:eks/getCluster:getCluster") {
          return {
            id: args.inputs.name,
            name: args.inputs.name,
            arn: `arn:aws:eks:${MOCK_REGION}:${MOCK_ACCOUNT}:cluster/${String(args.inputs.name)}`,
            endpoint: `https://${hex(seed("eks", String(args.inputs.name))).toUpperCase()}.gr7.${MOCK_REGION}.eks.amazonaws.com`,
            certificateAuthorities: [{ data: Buffer.from(`mock CA of ${String(args.inputs.name)}`).toString("base64") }],
            accessConfigs: [{ authenticationMode: mockCluster.authenticationMode, bootstrapClusterCreatorAdminPermissions: true }],
            vpcConfig: { endpointPublicAccess: mockCluster.endpointPublicAccess, endpointPrivateAccess: mockCluster.endpointPrivateAccess, publicAccessCidrs: [...mockCluster.publicAccessCidrs] },
          };
        }
        if (args.token === "aws:index/getRegion:getRegion") return { id: MOCK_REGION, name: MOCK_REGION, region: MOCK_REGION };
        if (args.token === "aws:iam/getSessionContext:getSessionContext") {
          // An assumed-role session resolves to its role (with the role's path); a user to itself.
          const m = /^arn:aws:sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(String(args.inputs.arn));
          return m
            ? { id: args.inputs.arn, arn: args.inputs.arn, issuerArn: `arn:aws:iam::${m[1]}:role/deploy/${m[2]}`, issuerId: "AROAEXAMPLE", issuerName: m[2], sessionName: m[3] }
            : { id: args.inputs.arn, arn: args.inputs.arn, issuerArn: args.inputs.arn, issuerId: "AIDAEXAMPLE", issuerName: "ci", sessionName: "" };
        }
        if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") {
          return { id: MOCK_ACCOUNT, accountId: MOCK_ACCOUNT, arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/ci`, userId: "AIDAEXAMPLE" };
        }
        throw new Error(`unexpected invoke ${args.token} in unit tests`);
      },
    },
    "remedy",
    stack,
    preview,
    MOCK_ORGANIZATION,
  );
  hookMonitor();
}

/** The URN the mock engine gives a resource registered under `parentTypes` (outermost first). */
export function urnOf(r: RecordedResource): string {
  const parentType = r.options.parent ? r.options.parent.split("::")[2].split("$").pop() : undefined;
  return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${parentType ? `${parentType}$` : ""}${r.type}::${r.name}`;
}

/** True when `r` was registered to wait for `dep`. */
export function dependsOn(r: RecordedResource, dep: RecordedResource): boolean {
  return r.options.dependsOn.includes(urnOf(dep));
}

/** Forgets recorded resources and invokes (call in `beforeEach`). */
export function resetRecorded(): void {
  recorded.resources.length = 0;
  recorded.invokes.length = 0;
}

/** Waits until every registration and invoke issued so far has been answered. */
export { settle } from "../../cli/rehearsal/pulumiRuntime";

/** Resolves an Output's value (known under mocks). */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** Recorded resources of one type token, optionally with one name. */
export function ofType(type: string, name?: string): RecordedResource[] {
  return recorded.resources.filter((r) => r.type === type && (name === undefined || r.name === name));
}

/** The blue/green weights of a service's recorded listener rule (blue's target group first). */
export function ruleWeights(service: string): { blue: number; green: number } {
  const rule = one(T.rule, service).inputs as { actions: { forward: { targetGroups: { weight: number }[] } }[] };
  const [blue, green] = rule.actions[0].forward.targetGroups.map((g) => g.weight);
  return { blue, green };
}

/**
 * The single recorded resource of a type and name (among `from`, e.g. a suite's snapshot; default
 * everything recorded); fails clearly if absent or duplicated.
 */
export function one(type: string, name: string, from: readonly RecordedResource[] = recorded.resources): RecordedResource {
  const found = from.filter((r) => r.type === type && r.name === name);
  if (found.length !== 1) {
    const names = from.filter((r) => r.type === type).map((r) => r.name);
    throw new Error(`expected one ${type} named ${name}, found ${found.length} (have: ${names.join(", ") || "none"})`);
  }
  return found[0];
}

export const T = {
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  component: "remedy:delivery:BlueGreenService",
  ingress: "remedy:delivery:SharedIngress",
  tg: "aws:lb/targetGroup:TargetGroup",
  rule: "aws:lb/listenerRule:ListenerRule",
  lb: "aws:lb/loadBalancer:LoadBalancer",
  listener: "aws:lb/listener:Listener",
  sg: "aws:ec2/securityGroup:SecurityGroup",
  deployment: "kubernetes:apps/v1:Deployment",
  service: "kubernetes:core/v1:Service",
  pdb: "kubernetes:policy/v1:PodDisruptionBudget",
  tgb: "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding",
  namespace: "kubernetes:core/v1:Namespace",
} as const;

/** The text of a file in a recorded asset archive input (e.g. a Lambda's `code`). */
export async function archiveFile(archive: unknown, file: string): Promise<string> {
  const assets = ((await (archive as { assets?: unknown }).assets) ?? {}) as Record<string, { text?: unknown }>;
  const text = await assets[file]?.text;
  if (typeof text !== "string") throw new Error(`no text file ${file} in the archive (files: ${Object.keys(assets).join(", ") || "none"})`);
  return text;
}
