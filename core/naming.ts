import { createHash } from "node:crypto";
import type { Slot } from "./slots";

/** AWS limit on target group and load balancer names. */
export const AWS_LB_NAME_MAX = 32;

/**
 * A legacy lane's key where a slot's would be (issue 37, 2): `legacy` for a service's first lane,
 * `legacy2`... for more (with a recorded override). Never `blue` or `green`, so a lane's objects,
 * target group and selector never collide with a slot's.
 */
export type LaneKey = `legacy${"" | number}`;

/**
 * A lane's side: the lane itself, or (during a lane hotfix) the image it ran before, kept warm
 * behind its own target group as the lane's rollback target (`legacy-prev`).
 */
export type LaneSide = LaneKey | `${LaneKey}-prev`;

/** The side that keeps a lane's previous image during its hotfix. */
export const previousSide = (key: LaneKey): LaneSide => `${key}-prev`;

/** The key of a service's `index`-th legacy lane. */
export const laneKey = (index: number): LaneKey => (index === 0 ? "legacy" : `legacy${index + 1}`);

/** Kubernetes object name of a slot's Deployment, Service and PodDisruptionBudget. */
export function slotObjectName(service: string, slot: Slot | LaneSide): string {
  return `${service}-${slot}`;
}

/** What forces a target group to be replaced; part of its name so a replacement gets a new name. */
export interface TargetGroupIdentity {
  readonly stack: string;
  readonly service: string;
  readonly slot: Slot | LaneSide;
  readonly port: number;
  readonly protocol: string;
  readonly targetType: string;
  readonly vpcId: string;
}

/**
 * Physical target group name: readable prefix plus a hash of everything that forces replacement.
 *
 * Why not Pulumi auto-naming: it appends 8 characters to the resource name and fails beyond
 * 32 characters, which a `service-green` name of moderate length already reaches. Why not a fixed
 * name: a fixed name breaks create-before-replace, and a target group in use by the listener rule
 * cannot be deleted first. Hashing the replacement-forcing inputs (and the stack, so `prod` and
 * `hotfix` never collide) gives a name that is stable across updates, changes exactly when a
 * replacement is needed, and fits AWS's 32-character limit.
 */
export function targetGroupName(id: TargetGroupIdentity): string {
  const hash = createHash("sha256")
    .update(JSON.stringify([id.stack, id.service, id.slot, id.port, id.protocol, id.targetType, id.vpcId]))
    .digest("hex")
    .slice(0, 8);
  const prefix = `${id.service}-${id.slot}`
    .slice(0, AWS_LB_NAME_MAX - hash.length - 1)
    .replace(/-+$/, "");
  return `${prefix}-${hash}`;
}

/**
 * Longest TargetGroupBinding name. The AWS Load Balancer Controller injects the pod readiness gate
 * `target-health.elbv2.k8s.aws/<binding name>` into every pod of the slot (controller
 * `pkg/targetgroupbinding`, TargetHealthPodConditionTypePrefix), and Kubernetes validates a
 * readiness gate's condition type as a qualified name, whose name part is at most 63 characters
 * (apimachinery `validation.IsQualifiedName`): a longer binding name gets every pod refused.
 */
export const BINDING_NAME_MAX = 63;

/**
 * Kubernetes name of a slot's TargetGroupBinding: the slot's object name plus the hash of its
 * target group's name, so it changes exactly when the target group is replaced (see
 * {@link targetGroupName}) and the new binding can exist beside the old one. The readable part is
 * cut so the whole fits {@link BINDING_NAME_MAX} (a 50-character service: `<service>-gre-<hash>`);
 * the hash, of a target group name that includes the slot, keeps blue's and green's apart.
 */
export function targetGroupBindingName(service: string, slot: Slot | LaneSide, targetGroup: string): string {
  const hash = /-([0-9a-f]{8})$/.exec(targetGroup)?.[1] ?? createHash("sha256").update(targetGroup).digest("hex").slice(0, 8);
  const readable = slotObjectName(service, slot).slice(0, BINDING_NAME_MAX - hash.length - 1).replace(/[-.]+$/, "");
  return `${readable}-${hash}`;
}

/** The target group name inside a target group ARN (`...:targetgroup/<name>/<id>`). */
export function targetGroupNameOfArn(arn: string): string | undefined {
  return /:targetgroup\/([^/]+)\/[^/]+$/.exec(arn)?.[1];
}

/**
 * The name a slot's TargetGroupBinding gets in this update. While the slot's target group stays
 * the one recorded in release state, the binding keeps the name it was deployed with (the
 * recorded one; `<service>-<slot>` for stacks deployed before names were recorded): renaming it
 * would create a second binding of the same target group, which the AWS Load Balancer Controller's
 * webhook refuses ("TargetGroup ... is already bound to TargetGroupBinding ..."). When the target
 * group is new (first deployment, or a replacement after a port/VPC change) the binding is named
 * after it ({@link targetGroupBindingName}), so it is created beside the old one, which is
 * deleted only after the rule has moved.
 */
export function bindingNameFor(service: string, slot: Slot, targetGroup: string, recorded?: { readonly targetGroupArn?: string; readonly binding?: string }): string {
  const recordedGroup = recorded?.targetGroupArn ? targetGroupNameOfArn(recorded.targetGroupArn) : undefined;
  // A recorded name too long for the readiness gate never had a pod admitted: not kept.
  const kept = recorded?.binding ?? slotObjectName(service, slot);
  if (recordedGroup !== undefined && recordedGroup === targetGroup && kept.length <= BINDING_NAME_MAX) return kept;
  return targetGroupBindingName(service, slot, targetGroup);
}

/**
 * Whether `name` is a target group name {@link targetGroupName} makes for this service and slot
 * (its readable prefix and an 8-hex hash), whatever the port, VPC or stack.
 */
export function isTargetGroupNameOf(service: string, slot: Slot | LaneSide, name: string): boolean {
  const prefix = `${service}-${slot}`.slice(0, AWS_LB_NAME_MAX - 9).replace(/-+$/, "");
  return name.length === prefix.length + 9 && name.startsWith(`${prefix}-`) && /^[0-9a-f]{8}$/.test(name.slice(-8));
}

/**
 * Tag on a service's weighted listener rule naming the stack (its alarm prefix, unique per account
 * and region) whose rollback Lambda may flip it. The Lambdas' IAM policies grant `ModifyRule` on
 * rules carrying their stack's value (`aws:ResourceTag/<key>`), so the policy text does not grow
 * with the service count. The test-route rule never carries it. (ELB supports ABAC: "How Elastic
 * Load Balancing works with IAM"; the Service Authorization Reference lists `aws:ResourceTag/${TagKey}`
 * for the `listener-rule/app` resource of `ModifyRule`.)
 */
export const ROLLBACK_RULE_TAG = "remedy:rollback";

/** Tag on a progressive service's weighted rule naming the stack whose release driver may step it. */
export const DRIVER_RULE_TAG = "remedy:release-driver";

/**
 * What differs between a rule's live `remedy:*` tags and `want` (missing, changed, or a
 * `remedy:*` tag this stack does not write), sorted; empty when they match. Read by `pulumi up`
 * and the release driver's tick (issue 35, 14).
 */
export function wrongRemedyTags(live: Readonly<Record<string, string>>, want: Readonly<Record<string, string>>): string[] {
  const keys = new Set([...Object.keys(want), ...Object.keys(live).filter((k) => k.startsWith("remedy:"))]);
  return [...keys].filter((k) => live[k] !== want[k]).map((k) => (k in live ? (k in want ? `${k}=${live[k]} (want ${want[k]})` : `${k}=${live[k]} (not this stack's)`) : `${k} missing`)).sort();
}

/**
 * The resource pattern of every ALB listener rule in an account and region. Paired with a tag
 * condition: IAM matches `listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>`.
 */
export function listenerRulePattern(region: string, account: string): string {
  return `arn:aws:elasticloadbalancing:${region}:${account}:listener-rule/app/*`;
}

/**
 * The Contributor Insights rule counting a lane's callers, under the stack's `<project>-<stack>`
 * prefix (rule names are per account and region; at most 128 characters).
 */
export function callersRuleName(prefix: string, service: string, lane: LaneKey): string {
  return `${prefix}-${service}-${lane}-callers`.slice(0, 128);
}

/** A stack's release table, named after its `<project>-<stack>` alarm prefix (one per stack, account and region). */
export function releaseTableName(alarmNamePrefix: string): string {
  return `${alarmNamePrefix}-releases`;
}
