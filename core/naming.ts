import { createHash } from "node:crypto";
import type { Slot } from "./slots";

/** AWS limit on target group and load balancer names. */
export const AWS_LB_NAME_MAX = 32;

/** Kubernetes object name of a slot's Deployment, Service and PodDisruptionBudget. */
export function slotObjectName(service: string, slot: Slot): string {
  return `${service}-${slot}`;
}

/** What forces a target group to be replaced; part of its name so a replacement gets a new name. */
export interface TargetGroupIdentity {
  readonly stack: string;
  readonly service: string;
  readonly slot: Slot;
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
 * Kubernetes name of a slot's TargetGroupBinding: the slot's object name plus the hash of its
 * target group's name, so it changes exactly when the target group is replaced (see
 * {@link targetGroupName}) and the new binding can exist beside the old one.
 */
export function targetGroupBindingName(service: string, slot: Slot, targetGroup: string): string {
  const hash = /-([0-9a-f]{8})$/.exec(targetGroup)?.[1] ?? createHash("sha256").update(targetGroup).digest("hex").slice(0, 8);
  return `${slotObjectName(service, slot)}-${hash}`;
}
