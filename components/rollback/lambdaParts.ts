/**
 * What the stack's two Lambdas (RollbackFunction, ReleaseDriver) are built from, so both get the
 * same log group, trust policy, runtime and logging: each piece named `name`, under `parent`.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { alarmArnPattern } from "../../core/alarms";
import { type Bundle, LAMBDA_RUNTIME, bundleLambda } from "./bundle";

/** ArnLike pattern of this stack's alarms (`<prefix>/*`) in the provider's region and account, that account and region. */
export function stackAlarms(
  alarmNamePrefix: string,
  parent: pulumi.Resource,
): { readonly pattern: pulumi.Output<string>; readonly accountId: pulumi.Output<string>; readonly region: pulumi.Output<string> } {
  const region = aws.getRegionOutput({}, { parent });
  const identity = aws.getCallerIdentityOutput({}, { parent });
  return { pattern: pulumi.all([region.region, identity.accountId]).apply(([r, a]) => alarmArnPattern(r, a, alarmNamePrefix)), accountId: identity.accountId, region: region.region };
}

/** IAM's limit on a role's inline policies, in characters without whitespace (IAM and STS quotas). */
export const IAM_INLINE_POLICY_MAX_CHARS = 10_240;

/**
 * The policy as JSON, refused before IAM refuses it mid-`up` when it passes the inline-policy
 * limit (each remedy role has exactly one inline policy).
 */
export function checkedPolicy(what: string, doc: unknown): string {
  const text = JSON.stringify(doc);
  if (text.length > IAM_INLINE_POLICY_MAX_CHARS) {
    throw new Error(
      `${what} is ${text.length} characters; IAM allows ${IAM_INLINE_POLICY_MAX_CHARS} of inline policy per role (not adjustable). Fewer distinct pre-traffic hook functions, or split the services over stacks.`,
    );
  }
  return text;
}

/** A function's log group and its execution role (assumable by Lambda only). */
export function logGroupAndRole(name: string, args: { readonly retentionInDays: number; readonly tags: Record<string, string>; readonly permissionsBoundary?: string }, parent: pulumi.Resource) {
  const logGroup = new aws.cloudwatch.LogGroup(name, { retentionInDays: args.retentionInDays, tags: args.tags }, { parent });
  const role = new aws.iam.Role(
    name,
    {
      assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] }),
      ...(args.permissionsBoundary ? { permissionsBoundary: args.permissionsBoundary } : {}),
      tags: args.tags,
    },
    { parent },
  );
  return { logGroup, role };
}

export interface BundledFunctionArgs {
  /** The handler entry in `lambdas/`, e.g. `rollback`. */
  readonly entry: string;
  readonly role: aws.iam.Role;
  /** Created before the function, so its first invocation already has its permissions. */
  readonly policy: aws.iam.RolePolicy;
  readonly logGroup: aws.cloudwatch.LogGroup;
  readonly memorySize: number;
  readonly timeout: number;
  readonly variables: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** More files in the code package, next to `index.js` (name -> contents). Default none. */
  readonly files?: Readonly<Record<string, string>>;
  readonly description: string;
  readonly tags: Record<string, string>;
  /** Reserved concurrency (e.g. 1: one invocation at a time). Default: unreserved. */
  readonly reservedConcurrentExecutions?: number;
  /** Runs the function in these subnets with these security groups. Default: no VPC. */
  readonly vpc?: { readonly subnetIds: readonly string[]; readonly securityGroupIds: readonly string[] };
}

/**
 * What a function should run, as this update deployed it (issue 35, 18): `codeSha256` is Lambda's
 * own (base64 SHA-256 of the code package, as `GetFunctionConfiguration` reports it), so `remedy
 * status --outputs` can tell code changed outside Pulumi; `bundleSha256` (hex) is the esbuild
 * bundle's, the same for the same sources on any machine.
 */
export interface DeployedCode {
  readonly functionName: string;
  readonly codeSha256: string;
  readonly bundleSha256: string;
}

/** The esbuild bundle of `lambdas/<entry>.ts` as `index.js`, on arm64, logging JSON to its log group. */
export function bundledFunction(name: string, args: BundledFunctionArgs, parent: pulumi.Resource): { readonly fn: aws.lambda.Function; readonly bundle: Bundle; readonly code: pulumi.Output<DeployedCode> } {
  const bundle = bundleLambda(args.entry);
  const fn = new aws.lambda.Function(
    name,
    {
      runtime: LAMBDA_RUNTIME,
      architectures: ["arm64"],
      handler: "index.handler",
      code: new pulumi.asset.AssetArchive({
        "index.js": new pulumi.asset.StringAsset(bundle.code),
        ...Object.fromEntries(Object.entries(args.files ?? {}).map(([file, text]) => [file, new pulumi.asset.StringAsset(text)])),
      }),
      role: args.role.arn,
      memorySize: args.memorySize,
      timeout: args.timeout,
      loggingConfig: { logFormat: "JSON", logGroup: args.logGroup.name },
      environment: { variables: args.variables },
      description: args.description,
      tags: args.tags,
      ...(args.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: args.reservedConcurrentExecutions } : {}),
      ...(args.vpc ? { vpcConfig: { subnetIds: [...args.vpc.subnetIds], securityGroupIds: [...args.vpc.securityGroupIds] } } : {}),
    },
    { parent, dependsOn: [args.policy] },
  );
  return { fn, bundle, code: pulumi.output({ functionName: fn.name, codeSha256: fn.codeSha256, bundleSha256: bundle.sha256 }) };
}
