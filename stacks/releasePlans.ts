/**
 * From validated config to what `core/converge.ts` plans per service, and what the program does
 * with a plan before it registers anything: the desired release, the refusal of config that would
 * deploy a new version onto the slot release state says is live, and each slot's replicas.
 */
import { type DesiredRelease, type ReleasePlan, SlotSize, liveSlotConflict } from "../core/converge";
import type { StackConfig } from "../core/config";
import { SLOTS, type Slot, otherSlot } from "../core/slots";
import type { ReleaseBackend } from "./releases";

/** What config asks of one service's release, as `core/converge.ts` planRelease reads it. */
export function desiredRelease(spec: StackConfig["services"][number], apiOverride?: string): DesiredRelease {
  const candidateSlot = otherSlot(spec.stable);
  const stableSpec = spec.slots[spec.stable];
  const candidateSpec = spec.slots[candidateSlot];
  if (!stableSpec) throw new Error(`internal: ${spec.name} has no stable slot after validation`);
  return {
    service: spec.name,
    stable: { slot: spec.stable, version: stableSpec.version, image: stableSpec.image },
    candidate: candidateSpec ? { slot: candidateSlot, version: candidateSpec.version, image: candidateSpec.image } : null,
    weight: spec.candidateWeight,
    acknowledgeRollback: spec.acknowledgeRollback,
    rollbackWindowMinutes: spec.rollbackWindowMinutes,
    hotfix: spec.hotfix,
    apiOverride,
    ...(spec.strategy ? { strategy: spec.strategy } : {}),
    ...(spec.preTraffic ? { preTraffic: spec.preTraffic } : {}),
    ...(spec.desired?.role === "candidate" ? { releaseCandidate: true } : {}),
  };
}

/**
 * Refuses, before anything is registered, every service whose config puts a new version onto the
 * slot release state says is live while calling the other slot stable (config lagging behind a
 * driver promotion; see `core/converge.ts` liveSlotConflict). One error names them all.
 */
export async function checkLiveSlots(config: StackConfig, releases: ReleaseBackend): Promise<void> {
  const problems: string[] = [];
  for (const spec of config.services) {
    const conflict = liveSlotConflict(desiredRelease(spec), await releases.get(spec.name));
    if (conflict) problems.push(conflict);
  }
  if (problems.length > 0) throw new LiveSlotError(problems);
}

/** Config and release state disagree about which slot is live; lists each service and its edit. */
export class LiveSlotError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`config disagrees with release state about the live slot:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "LiveSlotError";
  }
}

/**
 * Replicas of one slot, from the plan's per-slot sizes (`core/converge.ts` slotSizes): 0 only for
 * a promoted-away version past its rollback window that has no weight; at least the largest
 * configured slot while it is the automatic rollback target (or serves all traffic after a
 * post-promotion rollback); else as configured for that slot.
 */
export function slotReplicas(plan: ReleasePlan, slot: Slot, slots: Partial<Record<Slot, { readonly replicas: number }>>): number {
  const configured = slots[slot]?.replicas ?? 0;
  switch (plan.sizes[slot]) {
    case SlotSize.Zero:
      return plan.weights[slot] > 0 ? configured : 0;
    case SlotSize.Warm:
      return Math.max(configured, ...SLOTS.map((s) => slots[s]?.replicas ?? 0));
    case SlotSize.Configured:
      return configured;
  }
}

