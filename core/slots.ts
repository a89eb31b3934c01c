/** The two slots every service has. Written as a const object plus a union type. */
export const Slot = {
  Blue: "blue",
  Green: "green",
} as const;
export type Slot = (typeof Slot)[keyof typeof Slot];

/** Both slots, in a fixed order (blue first) so resource registration order is stable. */
export const SLOTS: readonly Slot[] = [Slot.Blue, Slot.Green];

/** The slot that is not `slot`. */
export function otherSlot(slot: Slot): Slot {
  return slot === Slot.Blue ? Slot.Green : Slot.Blue;
}
