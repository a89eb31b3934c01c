/**
 * The rehearsal's simulated clock (issue 36, 5). A rehearsal compresses tens of minutes of
 * release steps into seconds, so it moves time forward. Every actor in the process must see the
 * same time, or history doubles back: the release driver stepping 16 minutes ahead while the
 * rollback function and `pulumi up` record the wall clock. So the process clock itself is
 * shifted: `Date.now()` and `new Date()` answer wall time plus an offset that only grows.
 *
 * It starts in the past (by the minutes the rehearsal will skip) and ends at the wall clock, so
 * what a kept rehearsal recorded is never ahead of the commands an operator then runs in another
 * shell. Only the rehearsal's own process is shifted; `performance.now()` (durations) is not.
 */
const RealDate = Date;

export interface SimulatedClock {
  /** Moves the process clock `minutes` forward. */
  advance(minutes: number): void;
  /** Catches up with the wall clock (never backwards). */
  catchUp(): void;
  /** Puts the real clock back. */
  restore(): void;
}

/** Shifts `Date` `startMinutes` into the past; `advance` moves it forward again. */
export function simulatedClock(startMinutes: number): SimulatedClock {
  let offset = -startMinutes * 60_000;
  const now = () => RealDate.now() + offset;
  // A Proxy, not a subclass: `Date()` called without `new` (a string of now) keeps working, and
  // everything else (`Date.parse`, `Date.UTC`, instanceof) is the real Date's.
  const shifted = new Proxy(RealDate, {
    construct(target, args: unknown[]) {
      return args.length === 0 ? new target(now()) : new target(...(args as [string | number | Date]));
    },
    apply() {
      return new RealDate(now()).toString();
    },
    get(target, key, receiver) {
      return key === "now" ? now : Reflect.get(target, key, receiver);
    },
  });
  globalThis.Date = shifted;
  return {
    advance(minutes: number) {
      offset += minutes * 60_000;
    },
    catchUp() {
      offset = Math.max(offset, 0);
    },
    restore() {
      if (globalThis.Date === shifted) globalThis.Date = RealDate;
    },
  };
}
