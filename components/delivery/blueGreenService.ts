import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, type EnvValue, type ServiceInput, type ServiceSpec, type SlotSpec, parseServiceSpec } from "../../core/config";
import * as defaults from "../../core/defaults";
import { type LaneKey, type LaneSide, ROLLBACK_RULE_TAG, laneKey, slotObjectName, targetGroupBindingName, targetGroupName } from "../../core/naming";
import { type LaneRuleState, type LegacyLaneResources, createLegacyLane } from "./legacyLane";

export type { LegacyLaneResources } from "./legacyLane";
import { SLOTS, type Slot } from "../../core/slots";
import { type SlotWeights, splitTraffic } from "../../core/weights";
import type { IngressAttachment } from "./sharedIngress";

export interface BlueGreenServiceArgs {
  /**
   * The service: name, port, health path, per-slot images, routing, stable slot and candidate
   * weight, exactly as under `remedy:services` in stack config. Validated when the component is
   * constructed; a bad field throws naming `args.service.<field>`. These are plain values, not
   * Inputs, because they decide the shape of the resource graph (which slots exist, the weights).
   * Exactly one of `service` and `spec`.
   */
  readonly service?: ServiceInput;
  /**
   * The service already validated by `parseStackConfig` / `parseServiceSpec` (what the stack
   * program passes: config is validated once, and nothing is mapped back to input form).
   * Exactly one of `service` and `spec`.
   */
  readonly spec?: ServiceSpec;
  /** Listener, ALB security group and VPC to attach to; usually `SharedIngress.attachment()`. */
  readonly ingress: IngressAttachment;
  /**
   * Namespace to deploy into. Default: `service.namespace` (itself defaulting to the service
   * name). Pass a `Namespace` resource's `metadata.name` to make every object depend on it.
   */
  readonly namespace?: pulumi.Input<string>;
  /** Tags added to every AWS resource. Default none. */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Tags on the weighted listener rule only (not the test-route rule): the program sets
   * `remedy:rollback` (and, for a progressive service, `remedy:release-driver`) to the stack's
   * alarm prefix, which is what lets its Lambdas modify the rule. Default none.
   */
  readonly ruleTags?: Readonly<Record<string, string>>;
  /**
   * Weights the listener rule forwards with, overriding `service.stable` + `candidate.weight`.
   * The stack program passes the weights it converged on with release state (a rolled-back
   * candidate is held at 0). Default: from `service`.
   */
  readonly weights?: pulumi.Input<SlotWeights>;
  /** Release state's word on each legacy lane's rule (a lane rollback, a brownout). Default: forward to the lane. */
  readonly laneStates?: Partial<Record<LaneKey, pulumi.Input<LaneRuleState>>>;
  /** Replica count per slot, overriding `service` (e.g. 0 once a rollback window is over). */
  readonly replicas?: Partial<Record<Slot, pulumi.Input<number>>>;
  /**
   * Kubernetes name of a slot's TargetGroupBinding. Default: named after its target group
   * (`<service>-<slot>-<hash>`). The program passes the name release state recorded while the
   * target group is unchanged (see `core/naming.ts` bindingNameFor).
   */
  readonly bindingNames?: Partial<Record<Slot, pulumi.Input<string>>>;
  /**
   * Treat the plain `env` values as secrets (encrypted in Pulumi state): the program sets it when
   * `remedy:services` holds a Pulumi secret (set with `--secret --path`), since which nested value
   * was secret is not known at run time. Default false.
   */
  readonly secretEnv?: boolean;
  /**
   * Extra annotations on a slot's Deployment. The program sets {@link RETIRED_AT_ANNOTATION} on a
   * slot the release driver scaled to 0 and this update brings back, so the Deployment changes
   * (and Pulumi re-applies its replicas and awaits the rollout) even though its last inputs already
   * had them. Default none.
   */
  readonly deploymentAnnotations?: Partial<Record<Slot, pulumi.Input<Record<string, string>>>>;
  /**
   * Resources the new version must wait for (e.g. the migration Job whose expand phase it
   * needs): the Deployments and the listener rule depend on them. Default none.
   */
  readonly deployAfter?: readonly pulumi.Resource[];
  /**
   * Checks the live database before each pod of a slot starts: an init container runs
   * `<command> --uses <the version's database.uses>` (remedy migrate check), which fails while a
   * column is missing or its backfill is not recorded in the migration ledger, so a version never
   * starts (and, since the rule waits for rollout, never gets traffic) ahead of its schema.
   * Default: none.
   */
  readonly schemaGate?: SchemaGateArgs;
}

/** The init container that checks the schema a version needs against the live database. */
export interface SchemaGateArgs {
  /** Image with remedy's CLI. */
  readonly image: string;
  /** Command; `--uses <columns>` is appended. E.g. `["npx", "--no-install", "remedy", "migrate", "check"]`. */
  readonly command: readonly string[];
  /** Secret and key holding a read-only `DATABASE_URL` (CONNECT, USAGE on the schema, SELECT on the ledger). */
  readonly databaseUrlSecret: { readonly name: string; readonly key: string };
}

/** Kubernetes objects of one slot; absent for a slot that has no image yet. */
export interface SlotWorkload {
  readonly deployment: k8s.apps.v1.Deployment;
  readonly service: k8s.core.v1.Service;
  readonly podDisruptionBudget: k8s.policy.v1.PodDisruptionBudget;
  readonly targetGroupBinding: k8s.apiextensions.CustomResource;
}

/**
 * Set on every slot Deployment: the Kubernetes provider applies it server-side with `force`, so it
 * takes `.spec.replicas` back from the release driver's field manager (`remedy-release-driver`,
 * which scales a retired slot to 0). Without it the next `up` that sets replicas on that
 * Deployment (the next release into the retired slot) fails with a field-manager conflict: the
 * provider applies without force by default, and a conflict is any field another manager owns with
 * a different value (kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts;
 * pulumi-kubernetes: "conflicts ... can be forced using the pulumi.com/patchForce annotation").
 */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

/** On a Deployment the release driver had scaled to 0: when, and that this update brings it back. */
export const RETIRED_AT_ANNOTATION = "remedy.dev/retired-at";

/**
 * The name of a slot's container port and Service port: the one thing a TargetGroupBinding, the
 * Service's targetPort and the probes refer to, so a port change moves a number in one place only.
 */
export const SERVICE_PORT_NAME = "http";

/** API version and kind of the AWS Load Balancer Controller's binding resource. */
export const TARGET_GROUP_BINDING = { apiVersion: "elbv2.k8s.aws/v1beta1", kind: "TargetGroupBinding" } as const;

/**
 * One microservice with two slots, blue and green. Each slot is a Kubernetes Deployment, Service
 * and PodDisruptionBudget, registered into its own ALB target group by a TargetGroupBinding. One
 * listener rule forwards to both target groups with weights: the stable slot gets
 * `100 - candidate weight`, the other slot (the candidate) gets the rest.
 */
export class BlueGreenService extends pulumi.ComponentResource {
  /** The validated, defaulted service spec this component was built from. */
  public readonly spec: ServiceSpec;
  /** Target group per slot (always both, so the rule can shift weight without replacement). */
  public readonly targetGroups: Readonly<Record<Slot, aws.lb.TargetGroup>>;
  /** Kubernetes objects per slot that has an image. */
  public readonly workloads: Readonly<Partial<Record<Slot, SlotWorkload>>>;
  /** The weighted-forward listener rule. */
  public readonly rule: aws.lb.ListenerRule;
  /** The header-matched rule to the candidate slot (`service.testRoute`), when the candidate has a workload. */
  public readonly testRule?: aws.lb.ListenerRule;
  /** The service's legacy lanes, each with its own target group, workload and rule. */
  public readonly legacyLanes: readonly LegacyLaneResources[];

  public readonly targetGroupArns: pulumi.Output<Record<Slot, string>>;
  public readonly targetGroupNames: pulumi.Output<Record<Slot, string>>;
  public readonly ruleArn: pulumi.Output<string>;
  /** The stable slot: the one serving the released version. */
  public readonly activeSlot: pulumi.Output<Slot>;
  /** The other slot. */
  public readonly candidateSlot: pulumi.Output<Slot>;
  public readonly weights: pulumi.Output<SlotWeights>;
  /** Version running in each slot that has an image. */
  public readonly versions: pulumi.Output<Partial<Record<Slot, string>>>;

  constructor(name: string, args: BlueGreenServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("remedy:delivery:BlueGreenService", name, {}, opts);
    if ((args.service === undefined) === (args.spec === undefined)) {
      throw new pulumi.ResourceError(`BlueGreenService ${name}: pass exactly one of \`args.service\` (the service as written in config, validated here) and \`args.spec\` (a service parseStackConfig or parseServiceSpec already validated)`, this);
    }
    try {
      this.spec = args.spec ?? parseServiceSpec(args.service, "args.service");
    } catch (err) {
      if (err instanceof ConfigError) {
        throw new pulumi.ResourceError(`BlueGreenService ${name}: ${err.message}`, this);
      }
      throw err;
    }
    const spec = this.spec;
    const split = splitTraffic(spec.stable, spec.candidateWeight);
    const weights = pulumi.output(args.weights ?? split.weights);
    const namespace = args.namespace ?? spec.namespace;
    const tags = { ...args.tags, "remedy:service": spec.name, "remedy:stack": pulumi.getStack() };

    const targetGroups = {} as Record<Slot, aws.lb.TargetGroup>;
    const workloads: Partial<Record<Slot, SlotWorkload>> = {};
    for (const slot of SLOTS) {
      targetGroups[slot] = createTargetGroup(name, this, spec, slot, args.ingress.vpcId, tags);
      const slotSpec = spec.slots[slot];
      if (slotSpec !== undefined) {
        const replicas = args.replicas?.[slot] ?? slotSpec.replicas;
        workloads[slot] = createSlotWorkload(name, this, spec, slot, slotSpec, replicas, namespace, targetGroups[slot], args.ingress, args.deployAfter ?? [], args.schemaGate, args.deploymentAnnotations?.[slot], args.bindingNames?.[slot], args.secretEnv ?? false);
      }
    }
    this.targetGroups = targetGroups;
    this.workloads = workloads;

    this.rule = new aws.lb.ListenerRule(
      name,
      {
        listenerArn: args.ingress.listenerArn,
        priority: spec.routing.priority,
        conditions: [
          ...(spec.routing.hosts.length > 0 ? [{ hostHeader: { values: [...spec.routing.hosts] } }] : []),
          ...(spec.routing.paths.length > 0 ? [{ pathPattern: { values: [...spec.routing.paths] } }] : []),
        ],
        actions: [
          {
            type: "forward",
            forward: {
              targetGroups: SLOTS.map((slot) => ({ arn: targetGroups[slot].arn, weight: weights.apply((w) => w[slot]) })),
              stickiness: {
                enabled: spec.stickinessSeconds > 0,
                duration: Math.max(spec.stickinessSeconds, 1),
              },
            },
          },
        ],
        tags: { ...tags, ...args.ruleTags },
      },
      // Traffic moves only after the slots it goes to have rolled out: Pulumi waits for each
      // Deployment to be ready (and, with the controller's pod readiness gates, for its pods to be
      // healthy in the target group) before it updates the rule. Without this, changing a slot's
      // image and weight in one `up` sends the new weight to old pods or an empty target group.
      { parent: this, dependsOn: [...(args.deployAfter ?? []), ...Object.values(workloads).map((w) => w.deployment)] },
    );

    // The test route: requests with the header reach the candidate only, at any weight (0% too),
    // once its Deployment has rolled out.
    const candidate = split.candidateSlot;
    const candidateWorkload = workloads[candidate];
    if (spec.testRoute && candidateWorkload) {
      this.testRule = new aws.lb.ListenerRule(
        `${name}-test`,
        {
          listenerArn: args.ingress.listenerArn,
          priority: spec.testRoute.priority,
          conditions: [
            ...(spec.routing.hosts.length > 0 ? [{ hostHeader: { values: [...spec.routing.hosts] } }] : []),
            ...(spec.routing.paths.length > 0 ? [{ pathPattern: { values: [...spec.routing.paths] } }] : []),
            // The value is a secret: encrypted in Pulumi state, never in plain text outputs.
            { httpHeader: { httpHeaderName: spec.testRoute.header, values: [pulumi.secret(spec.testRoute.value)] } },
            ...(spec.testRoute.sourceCidrs ? [{ sourceIp: { values: [...spec.testRoute.sourceCidrs] } }] : []),
          ],
          actions: [{ type: "forward", targetGroupArn: targetGroups[candidate].arn }],
          tags: { ...tags, "remedy:rule": "test-route" },
        },
        { parent: this, dependsOn: [...(args.deployAfter ?? []), candidateWorkload.deployment] },
      );
    }

    // Legacy lanes: the old version for its remaining callers, reached by its own rule, evaluated
    // before the main one (its priority is lower), on its own target group and workload.
    this.legacyLanes = spec.legacy.map((lane, i) =>
      createLegacyLane(name, this, spec, i, lane, {
        ingress: args.ingress,
        namespace,
        deployAfter: args.deployAfter ?? [],
        ...(args.schemaGate ? { schemaGate: args.schemaGate } : {}),
        secretEnv: args.secretEnv ?? false,
        tags,
        ...(args.ruleTags ? { ruleTags: args.ruleTags } : {}),
        // Both tags carry the stack's alarm prefix: the driver's, for a lane's brownouts, is the same value.
        ...(args.ruleTags?.[ROLLBACK_RULE_TAG] ? { laneDriverTag: args.ruleTags[ROLLBACK_RULE_TAG] } : {}),
        ...(args.laneStates?.[laneKey(i)] ? { state: args.laneStates[laneKey(i)] } : {}),
      }),
    );

    this.targetGroupArns = pulumi.output({ blue: targetGroups.blue.arn, green: targetGroups.green.arn });
    this.targetGroupNames = pulumi.output({ blue: targetGroups.blue.name, green: targetGroups.green.name });
    this.ruleArn = this.rule.arn;
    this.activeSlot = pulumi.output(split.stableSlot);
    this.candidateSlot = pulumi.output(split.candidateSlot);
    this.weights = weights;
    const versions: Partial<Record<Slot, string>> = {};
    for (const slot of SLOTS) {
      const v = spec.slots[slot]?.version;
      if (v !== undefined) versions[slot] = v;
    }
    this.versions = pulumi.output(versions);

    this.registerOutputs({
      targetGroupArns: this.targetGroupArns,
      targetGroupNames: this.targetGroupNames,
      ruleArn: this.ruleArn,
      activeSlot: this.activeSlot,
      candidateSlot: this.candidateSlot,
      weights: this.weights,
      versions: this.versions,
    });
  }
}

/** A container env entry: plain value, or `valueFrom` a Secret/ConfigMap key (never the secret itself). */
export function envVar(name: string, value: EnvValue, secret = false): k8s.types.input.core.v1.EnvVar {
  if (typeof value === "string") return { name, value: secret ? pulumi.secret(value) : value };
  if ("secretKeyRef" in value) return { name, valueFrom: { secretKeyRef: { name: value.secretKeyRef.name, key: value.secretKeyRef.key } } };
  return { name, valueFrom: { configMapKeyRef: { name: value.configMapKeyRef.name, key: value.configMapKeyRef.key } } };
}

/** Labels selecting one slot's pods. Only `app` and `slot`: a selector is immutable, versions change. */
export function slotSelector(service: string, slot: Slot | LaneSide): Record<string, string> {
  return { app: service, slot };
}

const TARGET_GROUP_PROTOCOL = "HTTP";
const TARGET_GROUP_TYPE = "ip";

/** The physical name of a slot's target group in this stack (see `core/naming.ts` targetGroupName). */
export function slotTargetGroupName(spec: Pick<ServiceSpec, "name" | "port">, slot: Slot | LaneSide, vpcId: string): string {
  return targetGroupName({ stack: pulumi.getStack(), service: spec.name, slot, port: spec.port, protocol: TARGET_GROUP_PROTOCOL, targetType: TARGET_GROUP_TYPE, vpcId });
}

/** @internal */
export function createTargetGroup(
  name: string,
  self: pulumi.ComponentResource,
  spec: ServiceSpec,
  slot: Slot | LaneSide,
  vpcId: pulumi.Input<string>,
  tags: Record<string, string>,
): aws.lb.TargetGroup {
  const protocol = TARGET_GROUP_PROTOCOL;
  const targetType = TARGET_GROUP_TYPE;
  return new aws.lb.TargetGroup(
    `${name}-${slot}`,
    {
      name: pulumi.output(vpcId).apply((vpc) => slotTargetGroupName(spec, slot, vpc)),
      vpcId,
      port: spec.port,
      protocol,
      targetType,
      deregistrationDelay: spec.deregistrationDelaySeconds,
      healthCheck: {
        enabled: true,
        path: spec.healthPath,
        port: "traffic-port",
        protocol,
        matcher: defaults.DEFAULT_HEALTH_CHECK_MATCHER,
        interval: defaults.DEFAULT_HEALTH_CHECK_INTERVAL_SECONDS,
        healthyThreshold: defaults.DEFAULT_HEALTHY_THRESHOLD,
        unhealthyThreshold: defaults.DEFAULT_UNHEALTHY_THRESHOLD,
      },
      tags: { ...tags, "remedy:slot": slot },
    },
    { parent: self },
  );
}

/** @internal */
export function createSlotWorkload(
  name: string,
  self: pulumi.ComponentResource,
  spec: ServiceSpec,
  slot: Slot | LaneSide,
  slotSpec: SlotSpec,
  replicas: pulumi.Input<number>,
  namespace: pulumi.Input<string>,
  targetGroup: aws.lb.TargetGroup,
  ingress: IngressAttachment,
  deployAfter: readonly pulumi.Resource[] = [],
  schemaGate?: SchemaGateArgs,
  annotations?: pulumi.Input<Record<string, string>>,
  bindingName?: pulumi.Input<string>,
  secretEnv = false,
  extraEnv: Readonly<Record<string, string>> = {},
): SlotWorkload {
  const uses = spec.database?.uses[slotSpec.version] ?? [];
  const initContainers =
    schemaGate && uses.length > 0
      ? [
          {
            name: "schema-gate",
            image: schemaGate.image,
            command: [...schemaGate.command, "--uses", [...uses].sort().join(",")],
            env: [{ name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: schemaGate.databaseUrlSecret.name, key: schemaGate.databaseUrlSecret.key } } }],
            resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
            securityContext: defaults.containerSecurityContext(),
          },
        ]
      : undefined;
  const objectName = slotObjectName(spec.name, slot);
  const selector = slotSelector(spec.name, slot);
  const labels = {
    ...selector,
    version: slotSpec.version,
    "app.kubernetes.io/name": spec.name,
    "app.kubernetes.io/version": slotSpec.version,
    "app.kubernetes.io/managed-by": "remedy",
  };
  const metadata = { name: objectName, namespace, labels };
  const parent = { parent: self };
  const resources: k8s.types.input.core.v1.ResourceRequirements = {
    requests: { ...spec.resources.requests },
    limits: {
      memory: spec.resources.limits.memory,
      ...(spec.resources.limits.cpu !== undefined ? { cpu: spec.resources.limits.cpu } : {}),
    },
  };

  const service = new k8s.core.v1.Service(
    `${name}-${slot}`,
    {
      metadata,
      spec: {
        type: "ClusterIP",
        selector,
        ports: [{ name: SERVICE_PORT_NAME, port: spec.port, targetPort: SERVICE_PORT_NAME, protocol: "TCP" }],
      },
    },
    parent,
  );

  const podDisruptionBudget = new k8s.policy.v1.PodDisruptionBudget(
    `${name}-${slot}`,
    { metadata, spec: { maxUnavailable: defaults.DEFAULT_PDB_MAX_UNAVAILABLE, selector: { matchLabels: selector } } },
    parent,
  );

  const targetGroupBinding = new k8s.apiextensions.CustomResource(
    `${name}-${slot}`,
    {
      ...TARGET_GROUP_BINDING,
      // Named after its target group: a replaced group (new port, VPC) gets a binding with a new
      // name, created next to the old one, and the old binding is deleted only after the rule has
      // moved to the new group (create-before-delete), instead of emptying the old group first.
      metadata: { ...metadata, name: bindingName ?? targetGroup.name.apply((tg) => targetGroupBindingName(spec.name, slot, tg)) },
      spec: {
        // By name: on a port change the Service's port number changes in place early in the up,
        // while the old binding (and the rule) still serve the old group until the rule moves. A
        // binding that named the old number would no longer resolve, and the controller would
        // treat the port as not found and deregister every target of the old group
        // (pkg/backend/endpoint_resolver.go, pkg/targetgroupbinding/resource_manager.go). The
        // name never changes; serviceRef is not among the fields the controller's webhook keeps
        // immutable (targetGroupARN, targetType, ipAddressType), so existing bindings take it.
        serviceRef: { name: service.metadata.name, port: SERVICE_PORT_NAME },
        targetGroupARN: targetGroup.arn,
        targetType: "ip",
        networking: {
          ingress: [
            {
              from: [{ securityGroup: { groupID: ingress.securityGroupId } }],
              ports: [{ protocol: "TCP", port: spec.port }],
            },
          ],
        },
      },
    },
    {
      ...parent,
      // The controller's webhook refuses an in-place change of spec.targetGroupARN: a new target
      // group needs a new binding (under its own name, see above, so nothing is deleted first).
      replaceOnChanges: ["spec.targetGroupARN"],
    },
  );

  const deployment = new k8s.apps.v1.Deployment(
    `${name}-${slot}`,
    {
      metadata: {
        ...metadata,
        annotations: pulumi.output(annotations ?? {}).apply((extra) => ({ ...extra, [PATCH_FORCE_ANNOTATION]: "true" })),
      },
      spec: {
        replicas,
        selector: { matchLabels: selector },
        strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: 0 } },
        template: {
          metadata: { labels },
          spec: {
            securityContext: defaults.podSecurityContext(spec.allowRunAsRoot),
            terminationGracePeriodSeconds: defaults.DEFAULT_TERMINATION_GRACE_SECONDS,
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: "topology.kubernetes.io/zone",
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: selector },
              },
            ],
            ...(initContainers ? { initContainers } : {}),
            containers: [
              {
                name: spec.name,
                image: slotSpec.image,
                ports: [{ name: SERVICE_PORT_NAME, containerPort: spec.port, protocol: "TCP" }],
                env: [
                  ...Object.entries(spec.env).map(([k, value]) => envVar(k, value, secretEnv)),
                  { name: "REMEDY_SLOT", value: slot },
                  { name: "REMEDY_VERSION", value: slotSpec.version },
                  ...Object.entries(extraEnv).map(([k, value]) => ({ name: k, value })),
                ],
                readinessProbe: {
                  httpGet: { path: spec.healthPath, port: SERVICE_PORT_NAME },
                  initialDelaySeconds: defaults.DEFAULT_READINESS_INITIAL_DELAY_SECONDS,
                  periodSeconds: defaults.DEFAULT_READINESS_PERIOD_SECONDS,
                },
                livenessProbe: {
                  httpGet: { path: spec.livenessPath, port: SERVICE_PORT_NAME },
                  initialDelaySeconds: defaults.DEFAULT_LIVENESS_INITIAL_DELAY_SECONDS,
                  periodSeconds: defaults.DEFAULT_LIVENESS_PERIOD_SECONDS,
                  failureThreshold: defaults.DEFAULT_LIVENESS_FAILURE_THRESHOLD,
                },
                lifecycle: { preStop: { sleep: { seconds: defaults.DEFAULT_PRESTOP_SLEEP_SECONDS } } },
                resources,
                securityContext: defaults.containerSecurityContext(),
              },
            ],
          },
        },
      },
    },
    // The binding first: the controller injects readiness gates only into pods created after
    // their TargetGroupBinding exists, so the first pods wait for ALB health too.
    { ...parent, dependsOn: [...deployAfter, targetGroupBinding] },
  );

  return { deployment, service, podDisruptionBudget, targetGroupBinding };
}
