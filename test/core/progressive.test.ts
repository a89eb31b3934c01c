import { strict as assert } from "node:assert";
import fc from "fast-check";
import { StrategyError, applyDecision, decideTick, normalizeStrategy, type Progress, type StrategySpec } from "../../core/progressive";

const T0 = Date.parse("2026-12-01T10:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const ok = (minutes: number) => ({ alarmsInAlarm: [] as string[], healthyTargets: 3, now: at(minutes) });

const strategyArb: fc.Arbitrary<StrategySpec> = fc.oneof(
  fc.record({ kind: fc.constant("allAtOnce" as const), bakeMinutes: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ kind: fc.constant("canary" as const), weight: fc.integer({ min: 1, max: 99 }), minutes: fc.integer({ min: 0, max: 30 }), bakeMinutes: fc.integer({ min: 0, max: 60 }), pauseBeforeFull: fc.boolean() }),
  fc.record({ kind: fc.constant("linear" as const), stepPercent: fc.integer({ min: 1, max: 50 }), minutes: fc.integer({ min: 1, max: 30 }), bakeMinutes: fc.integer({ min: 0, max: 60 }) }),
);

/** A tick: minutes since the last one, and what the candidate looks like. */
const tickArb = fc.record({
  gap: fc.integer({ min: 0, max: 20 }),
  alarm: fc.boolean(),
  healthy: fc.integer({ min: 0, max: 3 }),
  promote: fc.constantFrom(undefined, undefined, undefined, "step" as const, "full" as const),
  duplicate: fc.boolean(),
});

describe("core/progressive: canary / linear / all-at-once step logic", () => {
  it("normalises strategies to non-decreasing steps ending at 100%, and names bad fields", () => {
    assert.deepEqual(normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 15 }).steps, [
      { kind: "weight", weight: 10, minutes: 5 },
      { kind: "weight", weight: 100, minutes: 0 },
    ]);
    assert.deepEqual(
      normalizeStrategy({ kind: "linear", stepPercent: 30, minutes: 10, bakeMinutes: 0 }).steps.map((s) => (s.kind === "weight" ? s.weight : "pause")),
      [30, 60, 90, 100],
    );
    assert.throws(() => normalizeStrategy({ kind: "canary", weight: 100, minutes: 5, bakeMinutes: 0 }), (e: Error) => e instanceof StrategyError && /canary weight must be an integer 1\.\.99, got 100/.test(e.message));
    assert.throws(
      () => normalizeStrategy({ kind: "steps", steps: [{ kind: "weight", weight: 50, minutes: 5 }, { kind: "weight", weight: 20, minutes: 5 }], bakeMinutes: 0 }),
      /steps\[1\]\.weight 20 is below the step before \(50\); weights only go up/,
    );
  });

  it("runs a canary on its own: 10% for 5 min, 100%, bake 15 min, promote", () => {
    const s = normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 15 });
    let p: Progress = { stepIndex: -1, stepStartedAt: at(0), weight: 0 };
    const timeline: string[] = [];
    for (const minute of [0, 1, 5, 5, 6, 19, 20]) {
      const d = decideTick(s, p, ok(minute));
      timeline.push(`${minute}:${d.action}${d.action === "advance" ? `@${d.weight}` : ""}`);
      p = applyDecision(p, d, at(minute));
    }
    // At minute 5 the 100% step (0 minutes) is passed through into the bake; the duplicate tick at 5 holds.
    assert.deepEqual(timeline, ["0:advance@10", "1:hold", "5:advance@100", "5:hold", "6:hold", "19:hold", "20:promote"]);
  });

  it("waits at a pause until remedy promote, and promotes at once with --full", () => {
    const s = normalizeStrategy({ kind: "canary", weight: 20, minutes: 0, bakeMinutes: 10, pauseBeforeFull: true });
    let p: Progress = applyDecision({ stepIndex: -1, stepStartedAt: at(0), weight: 0 }, decideTick(s, { stepIndex: -1, stepStartedAt: at(0), weight: 0 }, ok(0)), at(0));
    p = applyDecision(p, decideTick(s, p, ok(1)), at(1)); // onto the pause
    assert.equal(p.weight, 20);
    assert.deepEqual(decideTick(s, p, ok(60)), { action: "hold", reason: "canary at 20% done; waiting for remedy promote" });
    const resumed = decideTick(s, { ...p, promote: "step" }, ok(61));
    assert.deepEqual([resumed.action, resumed.action === "advance" && resumed.weight], ["advance", 100]);
    assert.equal(decideTick(s, { ...p, promote: "full" }, ok(61)).action, "promote");
  });

  it("property: weights never increase while a candidate alarm fires or it has no healthy targets", () => {
    fc.assert(
      fc.property(strategyArb, fc.array(tickArb, { maxLength: 40 }), (spec, ticks) => {
        const s = normalizeStrategy(spec);
        let p: Progress = { stepIndex: -1, stepStartedAt: at(0), weight: 0 };
        let minute = 0;
        for (const t of ticks) {
          minute += t.gap;
          const signals = { alarmsInAlarm: t.alarm ? ["green/error-rate"] : [], healthyTargets: t.healthy, now: at(minute) };
          const d = decideTick(s, { ...p, ...(t.promote ? { promote: t.promote } : {}) }, signals);
          if (t.alarm || t.healthy === 0) assert.equal(d.action, "hold", JSON.stringify({ d, t }));
          if (d.action === "advance") assert.ok(d.weight >= p.weight, "weights only go up");
          if (d.action === "promote") return; // released
          p = applyDecision(p, d, at(minute));
        }
      }),
    );
  });

  it("property: never promotes before the bake time has elapsed at 100% (unless --full); forward only; a duplicate tick moves nothing", () => {
    fc.assert(
      fc.property(strategyArb, fc.array(tickArb, { maxLength: 60 }), (spec, ticks) => {
        const s = normalizeStrategy(spec);
        let p: Progress = { stepIndex: -1, stepStartedAt: at(0), weight: 0 };
        let minute = 0;
        let bakeStarted: number | undefined;
        for (const t of ticks) {
          minute += t.gap;
          const signals = { alarmsInAlarm: t.alarm ? ["a"] : [], healthyTargets: t.healthy, now: at(minute) };
          const promote = t.promote === "full" ? undefined : t.promote; // --full is tested above
          const input = { ...p, ...(promote ? { promote } : {}) };
          const d = decideTick(s, input, signals);
          if (d.action === "promote") {
            assert.ok(bakeStarted !== undefined && minute - bakeStarted >= s.bakeMinutes, `promoted ${bakeStarted === undefined ? "before baking" : `after ${minute - bakeStarted} of ${s.bakeMinutes} min`}`);
            return;
          }
          if (d.action === "advance") assert.ok(d.stepIndex > p.stepIndex, `forward only: ${p.stepIndex} -> ${d.stepIndex}`);
          const next = applyDecision(input, d, at(minute));
          if (next.stepIndex === s.steps.length && bakeStarted === undefined) bakeStarted = minute;
          if (t.duplicate && d.action === "advance") {
            // The same tick delivered twice (late/duplicate schedule): the second one does not move again.
            const again = decideTick(s, next, signals);
            assert.ok(again.action === "hold" || (again.action === "promote" && s.bakeMinutes === 0 && next.stepIndex === s.steps.length), JSON.stringify({ next, again }));
          }
          p = next;
        }
      }),
    );
  });
});
