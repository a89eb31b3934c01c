import { strict as assert } from "node:assert";
import fc from "fast-check";
import { StrategyError, applyDecision, decideTick, lastWeight, normalizeStrategy, preTrafficGate, type Progress, type StrategySpec } from "../../core/progressive";

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

describe("core/progressive: boundaries (examples)", () => {
  const start = (weight = 0): Progress => ({ stepIndex: -1, stepStartedAt: at(0), weight });

  it("advances a candidate with exactly one healthy target, and holds one with none", () => {
    const s = normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 0 });
    assert.deepEqual(decideTick(s, start(), { alarmsInAlarm: [], healthyTargets: 1, now: at(0) }), { action: "advance", stepIndex: 0, weight: 10, reason: "release started; step 1/2: 10%" });
    assert.deepEqual(decideTick(s, start(), { alarmsInAlarm: [], healthyTargets: 0, now: at(0) }), { action: "hold", reason: "the candidate has no healthy targets; not sending it traffic" });
    assert.deepEqual(decideTick(s, { ...start(), promote: "full" }, { alarmsInAlarm: ["payments-green-5xx"], healthyTargets: 3, now: at(0) }), {
      action: "hold",
      reason: "candidate alarms in ALARM: payments-green-5xx; not advancing",
    }, "an alarm holds even a --full promotion");
  });

  it("holds at a first step that is a pause until remedy promote, then takes the weight after it", () => {
    const s = normalizeStrategy({ kind: "steps", steps: [{ kind: "pause", reason: "check the dashboards" }, { kind: "weight", weight: 20, minutes: 10 }], bakeMinutes: 5 });
    assert.deepEqual(s.steps.map((x) => x.kind), ["pause", "weight", "weight"]);
    assert.deepEqual(decideTick(s, start(), ok(0)), { action: "hold", reason: "check the dashboards" });
    assert.deepEqual(decideTick(s, { ...start(), promote: "step" }, ok(0)), { action: "advance", stepIndex: 1, weight: 20, reason: "step 2/3: 20%" });
    assert.deepEqual(decideTick(s, { ...start(), promote: "full" }, ok(0)), { action: "promote", reason: "promoted by an operator (--full)" });
    assert.equal(lastWeight(s, 0), 0, "no weight before the first pause");
  });

  it("moves at the exact end of a step and of the bake, not a moment before", () => {
    const s = normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 15 });
    const onStep: Progress = { stepIndex: 0, stepStartedAt: at(0), weight: 10 };
    assert.deepEqual(decideTick(s, onStep, ok(4.99)), { action: "hold", reason: `at 10% until ${at(5)}`, retryAt: at(5) });
    assert.deepEqual(decideTick(s, onStep, ok(5)), { action: "advance", stepIndex: 2, weight: 100, reason: "all steps done; baking 15 min at 100%" });
    const baking: Progress = { stepIndex: 2, stepStartedAt: at(5), weight: 100 };
    assert.deepEqual(decideTick(s, baking, ok(19.99)), { action: "hold", reason: `baking at 100% until ${at(20)}`, retryAt: at(20) });
    assert.deepEqual(decideTick(s, baking, ok(20)), { action: "promote", reason: "baked 15 min at 100% with alarms OK" });
    const noBake = normalizeStrategy({ kind: "allAtOnce", bakeMinutes: 0 });
    assert.deepEqual(decideTick(noBake, start(), ok(0)), { action: "advance", stepIndex: 1, weight: 100, reason: "release started; all steps done" });
  });

  it("enters a pause in the middle (keeping the weight before it) and leaves it only on remedy promote", () => {
    const s = normalizeStrategy({ kind: "canary", weight: 25, minutes: 0, bakeMinutes: 0, pauseBeforeFull: true });
    // A 0-minute step is passed through in the same move: straight into the pause, at 25%.
    assert.deepEqual(decideTick(s, start(), ok(0)), { action: "advance", stepIndex: 1, weight: 25, reason: "release started; canary at 25% done; waiting for remedy promote" });
    const paused: Progress = { stepIndex: 1, stepStartedAt: at(0), weight: 25 };
    assert.deepEqual(decideTick(s, paused, ok(600)), { action: "hold", reason: "canary at 25% done; waiting for remedy promote" });
    assert.deepEqual(decideTick(s, { ...paused, promote: "step" }, ok(1)), { action: "advance", stepIndex: 3, weight: 100, reason: "all steps done" });
    assert.equal(lastWeight(s, 1), 25);
    assert.equal(lastWeight(s, 99), 100, "past the end: the last step's");
    assert.deepEqual(applyDecision(paused, { action: "hold", reason: "x" }, at(1)), paused);
    assert.deepEqual(applyDecision(paused, { action: "advance", stepIndex: 3, weight: 100, reason: "x" }, at(1)), { stepIndex: 3, stepStartedAt: at(1), weight: 100 });
  });

  it("normalises each strategy kind exactly, refusing values one past each limit", () => {
    assert.deepEqual(normalizeStrategy({ kind: "linear", stepPercent: 50, minutes: 1, bakeMinutes: 0 }).steps, [{ kind: "weight", weight: 50, minutes: 1 }, { kind: "weight", weight: 100, minutes: 0 }]);
    assert.deepEqual(normalizeStrategy({ kind: "linear", stepPercent: 1, minutes: 10080, bakeMinutes: 10080 }).steps.length, 100);
    assert.deepEqual(normalizeStrategy({ kind: "canary", weight: 99, minutes: 0, bakeMinutes: 0 }).steps, [{ kind: "weight", weight: 99, minutes: 0 }, { kind: "weight", weight: 100, minutes: 0 }]);
    assert.deepEqual(normalizeStrategy({ kind: "steps", steps: [{ kind: "weight", weight: 100, minutes: 3 }], bakeMinutes: 0 }).steps, [{ kind: "weight", weight: 100, minutes: 3 }], "ends at 100 already: nothing added");
    assert.deepEqual(normalizeStrategy({ kind: "steps", steps: [{ kind: "weight", weight: 30, minutes: 3 }, { kind: "weight", weight: 30, minutes: 3 }], bakeMinutes: 0 }).steps.length, 3, "equal weights allowed");
    for (const [spec, why] of [
      [{ kind: "linear", stepPercent: 51, minutes: 1, bakeMinutes: 0 }, /linear stepPercent must be an integer 1\.\.50, got 51/],
      [{ kind: "linear", stepPercent: 0, minutes: 1, bakeMinutes: 0 }, /got 0/],
      [{ kind: "linear", stepPercent: 10, minutes: 0, bakeMinutes: 0 }, /linear minutes must be an integer 1\.\.10080, got 0/],
      [{ kind: "linear", stepPercent: 10, minutes: 10081, bakeMinutes: 0 }, /got 10081/],
      [{ kind: "canary", weight: 0, minutes: 1, bakeMinutes: 0 }, /canary weight must be an integer 1\.\.99, got 0/],
      [{ kind: "canary", weight: 10, minutes: -1, bakeMinutes: 0 }, /canary minutes must be an integer 0\.\.10080, got -1/],
      [{ kind: "allAtOnce", bakeMinutes: 10081 }, /bakeMinutes must be an integer 0\.\.10080, got 10081/],
      [{ kind: "allAtOnce", bakeMinutes: 1.5 }, /got 1\.5/],
      [{ kind: "steps", steps: [{ kind: "weight", weight: 101, minutes: 1 }], bakeMinutes: 0 }, /steps\[0\]\.weight must be an integer 1\.\.100, got 101/],
      [{ kind: "steps", steps: [{ kind: "weight", weight: 0, minutes: 1 }], bakeMinutes: 0 }, /got 0/],
      [{ kind: "steps", steps: [{ kind: "weight", weight: 10, minutes: 10081 }], bakeMinutes: 0 }, /steps\[0\]\.minutes must be an integer 0\.\.10080, got 10081/],
      [{ kind: "steps", steps: [{ kind: "weight", weight: 50, minutes: 1 }, { kind: "pause", reason: "p" }, { kind: "weight", weight: 40, minutes: 1 }], bakeMinutes: 0 }, /steps\[2\]\.weight 40 is below the step before \(50\)/],
    ] as const) {
      assert.throws(() => normalizeStrategy(spec as StrategySpec), (e: Error) => e instanceof StrategyError && why.test(e.message), JSON.stringify(spec));
    }
  });

  it("gates the first step on the pre-traffic check: run, passed, or held after the last allowed failure", () => {
    const check = { kind: "lambda" as const, functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:hook", timeoutSeconds: 5 };
    assert.deepEqual(preTrafficGate(undefined, "payments"), { gate: "passed" });
    assert.deepEqual(preTrafficGate({ check, maxAttempts: 2, attempts: 1 }, "payments"), { gate: "run" });
    assert.deepEqual(preTrafficGate({ check, maxAttempts: 2, attempts: 1, passedAt: at(1) }, "payments"), { gate: "passed" });
    assert.deepEqual(preTrafficGate({ check, maxAttempts: 1, attempts: 1, lastResult: "Failed: smoke" }, "payments"), {
      gate: "hold",
      reason: "pre-traffic check failed 1 time (last: Failed: smoke); the candidate gets no traffic. Release a fixed version, `remedy promote payments` to run the check again, or `remedy promote payments --full` to promote without it",
    });
  });
});
