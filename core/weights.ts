import { Slot, otherSlot } from "./slots";

/** Percent of traffic each slot's target group receives. Always sums to 100. */
export type SlotWeights = Readonly<Record<Slot, number>>;

/** The split between the stable slot and the candidate (the other slot). */
export interface TrafficSplit {
  /** Slot serving the released version; receives `100 - candidateWeight`. */
  readonly stableSlot: Slot;
  /** The other slot. */
  readonly candidateSlot: Slot;
  readonly weights: SlotWeights;
}

/**
 * Weights for a listener rule forwarding to both slots.
 * @throws RangeError when `candidateWeight` is not an integer in 0..100.
 */
export function splitTraffic(stableSlot: Slot, candidateWeight: number): TrafficSplit {
  if (!Number.isInteger(candidateWeight) || candidateWeight < 0 || candidateWeight > 100) {
    throw new RangeError(`candidate weight must be an integer in 0..100, got ${candidateWeight}`);
  }
  const candidateSlot = otherSlot(stableSlot);
  const weights = { [stableSlot]: 100 - candidateWeight, [candidateSlot]: candidateWeight } as Record<
    Slot,
    number
  >;
  return { stableSlot, candidateSlot, weights };
}
