import { normalizeStrategy, preTrafficGate } from "../../core/progressive";
import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import {
  Phase,
  applyEvent,
  fillImages,
  initialState,
  parseReleaseState,
  retireNotBefore,
  rollbackWindowEnd,
  rollbackWindowOpen,
  type ReleaseEvent,
  type ReleaseState,
} from "../../core/releaseState";
import { applyAll } from "../helpers/fixtures";
import { SLOTS, Slot, otherSlot } from "../../core/slots";

const ROUTING = {
  ruleArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy/1/2/3",
  targetGroupArns: {
    blue: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-blue/1",
    green: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-green/2",
  },
  stickinessSeconds: 0,
};
const T0 = Date.parse("2026-11-24T10:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function fresh(stableSlot: Slot = Slot.Blue, version = "v1"): ReleaseState {
  return initialState("payments", { slot: stableSlot, version }, ROUTING, at(0));
}

const mustApply = applyAll;

// Arbitrary events, with times drawn from a window around T0 so some are late.
const slotArb = fc.constantFrom(...SLOTS);
const versionArb = fc.constantFrom("v1", "v2", "v3");
const timeArb = fc.integer({ min: -5, max: 120 }).map(at);
const eventArb: fc.Arbitrary<ReleaseEvent> = fc.oneof(
  fc.record({
    type: fc.constant("start-release" as const),
    candidate: fc.record({ slot: slotArb, version: versionArb }),
    weight: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constantFrom(-1, 101, 2.5)),
    at: timeArb,
    by: fc.constant("pulumi:prod"),
  }),
  fc.record({
    type: fc.constant("shift-weight" as const),
    weight: fc.integer({ min: -1, max: 101 }),
    at: timeArb,
    by: fc.constant("pulumi:prod"),
  }),
  fc.record({ type: fc.constant("promote" as const), at: timeArb, by: fc.constant("pulumi:prod") }),
  // Promotions with a rollback window, so rollbacks after a promotion are reached.
  fc.record({ type: fc.constant("promote" as const), rollbackWindowMinutes: fc.constantFrom(0, 30, 90), at: timeArb, by: fc.constant("release-driver") }),
  fc.record({ type: fc.constant("retire-previous" as const), at: timeArb, by: fc.constant("release-driver") }),
  fc.record({ type: fc.constant("pre-traffic-result" as const), attempt: fc.integer({ min: 1, max: 3 }), passed: fc.boolean(), reason: fc.constant("answered 503"), at: timeArb, by: fc.constant("release-driver") }),
  fc.record({
    type: fc.constant("roll-back" as const),
    failedSlot: slotArb,
    observedAt: timeArb,
    reason: fc.constant("5xx rate 12% > 5%"),
    at: timeArb,
    by: fc.constant("remedy-prod/payments/green/error-rate"),
  }),
  fc.record({ type: fc.constant("acknowledge" as const), at: timeArb, by: fc.constant("operator:ana") }),
  fc.record({
    type: fc.constant("resume-after-drill" as const),
    releaseId: fc.tuple(slotArb, versionArb, fc.integer({ min: 1, max: 12 })).map(([slot, v, rev]) => `${slot}:${v}:${rev}`),
    weight: fc.constantFrom(0, 10, 50),
    at: timeArb,
    by: fc.constant("operator:ana (drill restore)"),
  }),
  fc.record({
    type: fc.constant("start-release" as const),
    candidate: fc.record({ slot: slotArb, version: versionArb }),
    weight: fc.constant(0),
    progressive: fc.constant({ strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }), rollbackWindowMinutes: 30 }),
    at: timeArb,
    by: fc.constant("pulumi:prod"),
  }),
  fc.record({ type: fc.constant("advance-step" as const), stepIndex: fc.integer({ min: -1, max: 3 }), weight: fc.integer({ min: -1, max: 101 }), at: timeArb, by: fc.constant("release-driver") }),
  // The driver's own steps, as it takes them: forward, weights going up (so progressive releases above 0% are reached).
  fc.record({ type: fc.constant("advance-step" as const), stepIndex: fc.constantFrom(0, 1, 2), weight: fc.constantFrom(10, 50, 100), at: timeArb, by: fc.constant("release-driver") }),
  fc.record({
    type: fc.constant("start-release" as const),
    candidate: fc.record({ slot: slotArb, version: versionArb }),
    weight: fc.constant(0),
    progressive: fc.constant({
      strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }),
      rollbackWindowMinutes: 30,
      preTraffic: { check: { kind: "lambda" as const, functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:hook", timeoutSeconds: 5 }, maxAttempts: 2 },
    }),
    at: timeArb,
    by: fc.constant("pulumi:prod"),
  }),
  fc.record({ type: fc.constant("request-promote" as const), mode: fc.constantFrom("step" as const, "full" as const), at: timeArb, by: fc.constant("operator:ana") }),
  fc.record({ type: fc.constant("adopt" as const), stable: fc.record({ slot: slotArb, version: versionArb }), at: timeArb, by: fc.constant("pulumi:prod") }),
);

/**
 * The life of a progressive release as the driver and operators live it, cut at any point: a
 * pre-traffic check failing some runs (held at the limit), passing, steps going up, a promotion
 * with or without a window, an alarm inside or after it, the previous slot retired.
 */
const lifeArb: fc.Arbitrary<[Slot, ReleaseEvent[]]> = fc
  .record({
    slot: slotArb,
    failures: fc.integer({ min: 0, max: 2 }),
    passes: fc.boolean(),
    steps: fc.integer({ min: 0, max: 3 }),
    window: fc.constantFrom(undefined, 0, 30),
    alarmAt: fc.integer({ min: 20, max: 60 }),
    retireAt: fc.integer({ min: 20, max: 80 }),
    cut: fc.integer({ min: 0, max: 12 }),
  })
  .map((l) => {
    const cand = { slot: otherSlot(l.slot), version: "v2" };
    const by = "release-driver";
    const events: ReleaseEvent[] = [
      {
        type: "start-release",
        candidate: cand,
        weight: 0,
        progressive: {
          strategy: normalizeStrategy({ kind: "linear", stepPercent: 25, minutes: 5, bakeMinutes: 0 }),
          rollbackWindowMinutes: 30,
          preTraffic: { check: { kind: "lambda" as const, functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:hook", timeoutSeconds: 5 }, maxAttempts: 2 },
        },
        at: at(1),
        by: "pulumi:prod",
      },
      ...Array.from({ length: l.failures }, (_, i): ReleaseEvent => ({ type: "pre-traffic-result", attempt: i + 1, passed: false, reason: "answered 503", at: at(2 + i), by })),
      ...(l.passes ? [{ type: "pre-traffic-result", attempt: l.failures + 1, passed: true, reason: "answered 200", at: at(5), by } as ReleaseEvent] : []),
      ...Array.from({ length: l.steps }, (_, i): ReleaseEvent => ({ type: "advance-step", stepIndex: i, weight: 25 * (i + 1), at: at(6 + i), by })),
      { type: "promote", ...(l.window === undefined ? {} : { rollbackWindowMinutes: l.window }), at: at(12), by },
      { type: "roll-back", failedSlot: cand.slot, observedAt: at(l.alarmAt), reason: "5xx", at: at(l.alarmAt), by: "alarm" },
      { type: "retire-previous", at: at(l.retireAt), by },
    ];
    return [l.slot, events.slice(0, l.cut)] as [Slot, ReleaseEvent[]];
  });

/** Every state reachable from a fresh state by a sequence of arbitrary events, some after a release's life. */
const reachableArb = fc
  .tuple(slotArb, fc.option(lifeArb, { freq: 2 }), fc.array(eventArb, { maxLength: 12 }))
  .map(([slot, life, events]) => {
    const [start, prefix] = life ?? [slot, []];
    return [...prefix, ...events].reduce((s, e) => applyEvent(s, e).state, fresh(start));
  });

describe("core/releaseState: transitions (properties)", () => {
  it("reaches every phase from its generators: progressive releases above 0%, held pre-traffic checks, promotions with a window, rollbacks after them, retired slots", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(reachableArb, (s) => {
        seen.add(s.phase);
        if (s.phase === Phase.Releasing && s.progress && s.candidate && s.weights[s.candidate.slot] > 0) seen.add("progressive above 0%");
        if (s.progress?.preTraffic && s.progress.preTraffic.attempts >= s.progress.preTraffic.maxAttempts) seen.add("pre-traffic held");
        if (s.phase === Phase.Promoted && s.rollbackWindowEndsAt) seen.add("promoted with a window");
        if (s.lastRollback?.afterPromotion) seen.add("rolled back after a promotion");
        if (s.previousRetiredAt) seen.add("previous retired");
      }),
      { numRuns: 3000, seed: 42 },
    );
    assert.deepEqual([...seen].sort(), [
      "RolledBack",
      "pre-traffic held",
      "previous retired",
      "progressive above 0%",
      "promoted",
      "promoted with a window",
      "releasing",
      "rolled back after a promotion",
      "stable",
    ].map((x) => (x === "RolledBack" ? Phase.RolledBack : x)).sort());
  });

  it("rolls a promoted version back only inside its window, onto the warm previous version, at 100%", () => {
    fc.assert(
      fc.property(reachableArb, eventArb, (s, e) => {
        if (s.phase !== Phase.Promoted || e.type !== "roll-back") return;
        const t = applyEvent(s, e);
        const inside = !!s.previous && !!s.rollbackWindowEndsAt && Date.parse(e.at) < Date.parse(s.rollbackWindowEndsAt) && e.failedSlot === s.stable.slot && Date.parse(e.observedAt) >= Date.parse(s.releaseStartedAt ?? s.promotedAt ?? "");
        assert.equal(t.kind, inside ? "applied" : "unchanged");
        if (t.kind !== "applied" || !s.previous) return;
        assert.deepEqual([t.state.stable, t.state.candidate, t.state.weights[s.previous.slot], t.state.lastRollback?.afterPromotion], [s.previous, s.stable, 100, true]);
      }),
      { numRuns: 1500 },
    );
  });

  it("lets the release driver only raise a progressive candidate's weight, one recorded step at a time", () => {
    fc.assert(
      fc.property(reachableArb, fc.integer({ min: -1, max: 3 }), fc.integer({ min: -1, max: 101 }), (s, stepIndex, weight) => {
        const t = applyEvent(s, { type: "advance-step", stepIndex, weight, at: at(200), by: "release-driver" });
        if (t.kind !== "applied") return;
        assert.ok(s.progress && s.candidate && s.phase === "releasing", "only a progressive release in progress");
        assert.ok(t.state.weights[s.candidate.slot] >= s.weights[s.candidate.slot], "weights only go up");
        assert.ok((t.state.progress?.stepIndex ?? -2) > s.progress.stepIndex, "forward only");
        assert.equal(applyEvent(t.state, { type: "advance-step", stepIndex, weight, at: at(201), by: "release-driver" }).kind, "unchanged", "the same step twice is a no-op");
      }),
    );
  });

  it("keeps weights summing to 100, within 0..100, after any sequence of events", () => {
    fc.assert(
      fc.property(slotArb, fc.array(eventArb, { maxLength: 20 }), (slot, events) => {
        let s = fresh(slot);
        for (const e of events) {
          s = applyEvent(s, e).state;
          assert.equal(s.weights.blue + s.weights.green, 100);
          for (const w of Object.values(s.weights)) assert.ok(Number.isInteger(w) && w >= 0 && w <= 100);
          if (!s.candidate || s.phase !== Phase.Releasing) assert.equal(s.weights[s.stable.slot], 100);
          // Stored states always re-validate.
          parseReleaseState(JSON.parse(JSON.stringify(s)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("records times that never go back, whatever clocks the events came from (issue 36, 5)", () => {
    let backwards = 0;
    fc.assert(
      fc.property(slotArb, fc.array(eventArb, { maxLength: 20 }), (slot, events) => {
        let s = fresh(slot);
        for (const e of events) {
          const t = applyEvent(s, e);
          if (t.kind === "applied") {
            if (Date.parse(e.at) < Date.parse(s.updatedAt)) backwards++;
            assert.equal(t.entry.at, t.state.updatedAt);
            assert.equal(Date.parse(t.entry.at), Math.max(Date.parse(e.at), Date.parse(s.updatedAt)), "the event's time, or the last change's when the event's is earlier");
          }
          s = t.state;
        }
      }),
      { numRuns: 300, seed: 7 },
    );
    assert.ok(backwards > 0, "the generator reaches an event stamped before the last change");
  });

  it("ends every applied rollback with 100% on the previous stable version", () => {
    fc.assert(
      fc.property(reachableArb, eventArb, (s, e) => {
        const t = applyEvent(s, e);
        if (e.type !== "roll-back" || t.kind !== "applied") return;
        assert.equal(t.state.phase, Phase.RolledBack);
        // A release rolls back to its stable version; a promoted version to the one it replaced.
        const [back, failed] = s.phase === Phase.Promoted ? [s.previous, s.stable] : [s.stable, s.candidate];
        assert.ok(back && failed, `rolled back from ${s.phase}`);
        assert.deepEqual(t.state.stable, back);
        assert.equal(t.state.weights[back.slot], 100);
        assert.equal(t.state.weights[otherSlot(back.slot)], 0);
        assert.equal(t.state.lastRollback?.toVersion, back.version);
        assert.equal(t.state.lastRollback?.fromVersion, failed.version);
        assert.equal(t.state.lastRollback?.afterPromotion, s.phase === Phase.Promoted ? true : undefined);
      }),
      { numRuns: 500 },
    );
  });

  it("rolls back any release in progress when its candidate's alarm fires after the start", () => {
    fc.assert(
      fc.property(slotArb, versionArb, fc.integer({ min: 1, max: 100 }), fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 4 }), (stable, version, weight, shifts) => {
        // Prepare: a release, shifted any number of times.
        const candidate = otherSlot(stable);
        let s = mustApply(fresh(stable, "v0"), { type: "start-release", candidate: { slot: candidate, version }, weight, at: at(1), by: "pulumi:prod" });
        for (const w of shifts) s = applyEvent(s, { type: "shift-weight", weight: w, at: at(2), by: "pulumi:prod" }).state;
        // Act
        const t = applyEvent(s, { type: "roll-back", failedSlot: candidate, observedAt: at(3), reason: "5xx", at: at(3), by: "alarm" });
        // Assess
        assert.equal(t.kind, "applied");
        assert.equal(t.state.weights[stable], 100);
        assert.equal(t.state.stable.version, "v0");
        assert.equal(t.state.phase, Phase.RolledBack);
      }),
    );
  });

  it("changes nothing when the same event is applied twice", () => {
    fc.assert(
      fc.property(reachableArb, eventArb, (s, e) => {
        const once = applyEvent(s, e).state;
        const twice = applyEvent(once, e);
        assert.notEqual(twice.kind, "applied", `second ${e.type} applied again`);
        assert.deepEqual(twice.state, once);
      }),
      { numRuns: 500 },
    );
  });

  it("bumps the revision by exactly one per applied transition and never otherwise", () => {
    fc.assert(
      fc.property(reachableArb, eventArb, (s, e) => {
        const t = applyEvent(s, e);
        assert.equal(t.state.revision, s.revision + (t.kind === "applied" ? 1 : 0));
        if (t.kind === "applied") assert.equal(t.entry.revision, t.state.revision);
      }),
    );
  });
});

describe("core/releaseState: transitions (examples)", () => {
  const release = (s: ReleaseState, version = "v2", weight = 10): ReleaseState =>
    mustApply(s, { type: "start-release", candidate: { slot: Slot.Green, version }, weight, at: at(1), by: "pulumi:prod" });
  const alarm = (slot: Slot, observed = 2): ReleaseEvent => ({
    type: "roll-back",
    failedSlot: slot,
    observedAt: at(observed),
    reason: "Threshold Crossed: 5xx rate 12% > 5%",
    at: at(3),
    by: "remedy-prod/payments/green/error-rate",
  });

  it("records pre-traffic runs once each, refuses the first step before a pass, and lets an operator re-run a held check", () => {
    // Prepare: a canary whose HTTP check may fail twice.
    const check = { kind: "http" as const, url: "https://api.example.com/healthz", header: "x-remedy-candidate", value: "1", expectStatus: [200, 299] as const, timeoutSeconds: 5 };
    const strategy = { steps: [{ kind: "weight" as const, weight: 10, minutes: 5 }, { kind: "weight" as const, weight: 100, minutes: 0 }], bakeMinutes: 10 };
    const s0 = mustApply(fresh(), { type: "start-release", candidate: { slot: Slot.Green, version: "v2" }, weight: 0, progressive: { strategy, rollbackWindowMinutes: 0, preTraffic: { check, maxAttempts: 2 } }, at: at(1), by: "pulumi:prod" });
    const run = (attempt: number, passed: boolean, minute: number): ReleaseEvent => ({ type: "pre-traffic-result", attempt, passed, reason: passed ? "answered 200" : "answered 503", at: at(minute), by: "release-driver" });
    const step: ReleaseEvent = { type: "advance-step", stepIndex: 0, weight: 10, at: at(9), by: "release-driver" };

    // Act + Assess: the first step is refused until the check passes.
    assert.deepEqual(preTrafficGate(s0.progress?.preTraffic, "payments"), { gate: "run" });
    assert.match((applyEvent(s0, step) as { reason: string }).reason, /the pre-traffic check has not passed \(0\/2 failed\)/);
    const s1 = mustApply(s0, run(1, false, 2));
    assert.equal(applyEvent(s1, run(1, false, 2)).kind, "unchanged", "a duplicate record of run 1 changes nothing");
    const s2 = mustApply(s1, run(2, false, 3));
    const held = preTrafficGate(s2.progress?.preTraffic, "payments");
    assert.equal(held.gate, "hold");
    assert.match((held as { reason: string }).reason, /failed 2 times \(last: answered 503\); .*`remedy promote payments` to run the check again/);
    assert.deepEqual(s2.weights, { blue: 100, green: 0 });
    // The operator's promote re-arms the check (it does not skip it); the pass then allows the step.
    const s3 = mustApply(s2, { type: "request-promote", mode: "step", at: at(4), by: "operator:ana" });
    assert.equal(s3.progress?.preTraffic?.attempts, 0);
    assert.equal(s3.progress?.promote, undefined);
    // The operator's retry of the same promote changes nothing (found by the property generators).
    const again = applyEvent(s3, { type: "request-promote", mode: "step", at: at(4.5), by: "operator:ana" });
    assert.equal(again.kind === "unchanged" && again.reason, "the pre-traffic check of v2 (green) is already set to run again");
    const s4 = mustApply(s3, run(1, true, 5));
    assert.equal(s4.progress?.preTraffic?.passedAt, at(5));
    const s5 = mustApply(s4, step);
    assert.deepEqual(s5.weights, { blue: 90, green: 10 });
    assert.equal(s5.progress?.preTraffic?.passedAt, at(5), "the pass stays on record through the steps");
    assert.deepEqual(parseReleaseState(JSON.parse(JSON.stringify(s5)), "payments"), s5, "the stored shape validates");
  });

  it("retires the promoted-away version only after its window, once; a new promotion starts over", () => {
    // Prepare: v2 promoted at minute 2 with a 30-minute window.
    const promoted = mustApply(release(fresh()), { type: "promote", rollbackWindowMinutes: 30, at: at(2), by: "release-driver" });
    const retire = (minute: number): ReleaseEvent => ({ type: "retire-previous", at: at(minute), by: "release-driver" });

    // Act + Assess
    assert.match((applyEvent(promoted, retire(31)) as { reason: string }).reason, /the rollback window of v1 \(blue\) is open until/);
    const retired = mustApply(promoted, retire(32));
    assert.equal(retired.previousRetiredAt, at(32));
    assert.equal(applyEvent(retired, retire(40)).kind, "unchanged", "once");
    const again = mustApply(mustApply(retired, { type: "start-release", candidate: { slot: Slot.Blue, version: "v3" }, weight: 10, at: at(50), by: "pulumi:prod" }), { type: "promote", rollbackWindowMinutes: 0, at: at(51), by: "pulumi:prod" });
    assert.equal(again.previousRetiredAt, null, "the next promoted-away version is not retired yet");
    assert.equal(mustApply(again, retire(51)).previousRetiredAt, at(51), "no window: retired at once");
    assert.equal(applyEvent(fresh(), retire(1)).kind, "unchanged");
  });

  it("rolls a releasing candidate back and records who, why, when and which versions", () => {
    // Prepare
    const s = release(fresh());
    // Act
    const t = applyEvent(s, alarm(Slot.Green));
    // Assess
    assert.equal(t.kind, "applied");
    assert.deepEqual(t.state.weights, { blue: 100, green: 0 });
    assert.deepEqual(t.state.lastRollback, {
      releaseId: s.releaseId,
      at: at(3),
      by: "remedy-prod/payments/green/error-rate",
      reason: "Threshold Crossed: 5xx rate 12% > 5%",
      failedSlot: "green",
      fromVersion: "v2",
      toVersion: "v1",
    });
    assert.equal(t.kind === "applied" && t.entry.summary, "roll back v2 (green) to v1 (blue): Threshold Crossed: 5xx rate 12% > 5%");
  });

  it("ignores alarms for the stable slot, for a candidate at 0%, and events older than the release", () => {
    const s = release(fresh());
    const stable = applyEvent(s, alarm(Slot.Blue));
    assert.equal(stable.kind, "unchanged");
    assert.match(stable.kind === "unchanged" ? stable.reason : "", /blue is the stable slot/);

    const late = applyEvent(s, alarm(Slot.Green, 0));
    assert.match(late.kind === "unchanged" ? late.reason : "", /predates release/);

    const dark = applyEvent(release(fresh(), "v2", 0), alarm(Slot.Green));
    assert.match(dark.kind === "unchanged" ? dark.reason : "", /receives no traffic/);
  });

  it("holds a rolled-back version until it is acknowledged, then lets it ship again", () => {
    const rolledBack = applyEvent(release(fresh()), alarm(Slot.Green)).state;
    const again = applyEvent(rolledBack, {
      type: "start-release",
      candidate: { slot: Slot.Green, version: "v2" },
      weight: 10,
      at: at(5),
      by: "pulumi:prod",
    });
    assert.equal(again.kind, "refused");
    assert.match(again.kind === "refused" ? again.reason : "", /candidate v2 was rolled back at .* by remedy-prod\/payments\/green\/error-rate: Threshold Crossed.*change the candidate image or acknowledge/);

    const acked = mustApply(rolledBack, { type: "acknowledge", at: at(6), by: "operator:ana" });
    assert.equal(acked.phase, Phase.Stable);
    assert.equal(release(acked).phase, Phase.Releasing);
    // A different candidate needs no acknowledgement.
    assert.equal(release(rolledBack, "v3").candidate?.version, "v3");
  });

  it("promotes the candidate and keeps the old stable as the warm rollback target", () => {
    const promoted = mustApply(release(fresh()), { type: "promote", at: at(9), by: "pulumi:prod" });
    assert.deepEqual(promoted.stable, { slot: "green", version: "v2" });
    assert.deepEqual(promoted.previous, { slot: "blue", version: "v1" });
    assert.deepEqual(promoted.weights, { blue: 0, green: 100 });
    assert.equal(applyEvent(promoted, alarm(Slot.Green, 10)).kind, "unchanged");
  });

  it("refuses a candidate in the stable slot or a weight outside 0..100, naming the fix", () => {
    const s = fresh();
    const sameSlot = applyEvent(s, { type: "start-release", candidate: { slot: Slot.Blue, version: "v2" }, weight: 10, at: at(1), by: "x" });
    assert.equal(sameSlot.kind === "refused" && sameSlot.reason, "candidate slot blue is the stable slot; release into green");
    const bad = applyEvent(s, { type: "start-release", candidate: { slot: Slot.Green, version: "v2" }, weight: 140, at: at(1), by: "x" });
    assert.equal(bad.kind === "refused" && bad.reason, "candidate weight must be an integer 0..100, got 140");
  });

  it("rejects a stored state with a bad shape, naming every field", () => {
    const s = JSON.parse(JSON.stringify(release(fresh()))) as Record<string, unknown>;
    s.weights = { blue: 95, green: 10 };
    s.phase = "canary";
    assert.throws(
      () => parseReleaseState(s, "payments"),
      (err: Error) =>
        err.name === "ReleaseStateError" &&
        /release state of payments is invalid: .*phase: Invalid option/.test(err.message),
    );
    delete s.phase;
    assert.throws(() => parseReleaseState({ ...s, phase: "releasing" }, "payments"), /weights: weights must sum to 100/);
  });
});

describe("core/releaseState: boundaries (examples)", () => {
  const v2 = { slot: Slot.Green, version: "v2" };
  const start = (s: ReleaseState, weight = 10, minute = 1): ReleaseState => mustApply(s, { type: "start-release", candidate: v2, weight, at: at(minute), by: "pulumi:prod" });
  const promoteAt = (s: ReleaseState, minute: number, window?: number): ReleaseState =>
    mustApply(s, { type: "promote", ...(window === undefined ? {} : { rollbackWindowMinutes: window }), at: at(minute), by: "pulumi:prod" });
  const rb = (slot: Slot, minute: number, observed = minute): ReleaseEvent => ({ type: "roll-back", failedSlot: slot, observedAt: at(observed), reason: "p99 2.1 s > 1 s", at: at(minute), by: "alarm-p99" });
  const reason = (t: ReturnType<typeof applyEvent>) => (t.kind === "applied" ? "(applied)" : t.reason);

  it("rolls a promoted version back to the warm previous one inside its window, and not at or after its end", () => {
    const p = promoteAt(start(fresh()), 2, 30); // window ends at minute 32
    assert.deepEqual([p.phase, p.stable, p.previous, p.rollbackWindowEndsAt, p.weights], [Phase.Promoted, v2, { slot: Slot.Blue, version: "v1" }, at(32), { blue: 0, green: 100 }]);
    const t = applyEvent(p, rb(Slot.Green, 31.99));
    assert.equal(t.kind, "applied", reason(t));
    assert.deepEqual([t.state.phase, t.state.stable, t.state.candidate, t.state.previous, t.state.rollbackWindowEndsAt, t.state.weights], [
      Phase.RolledBack,
      { slot: Slot.Blue, version: "v1" },
      v2,
      null,
      null,
      { blue: 100, green: 0 },
    ]);
    assert.deepEqual(t.state.lastRollback, { releaseId: p.releaseId, at: at(31.99), by: "alarm-p99", reason: "p99 2.1 s > 1 s", failedSlot: Slot.Green, fromVersion: "v2", toVersion: "v1", afterPromotion: true });
    assert.equal(t.kind === "applied" && t.entry.summary, "roll back promoted v2 (green) to v1 (blue) inside its rollback window: p99 2.1 s > 1 s");
    assert.match(reason(applyEvent(p, rb(Slot.Green, 32))), /the rollback window of v1 \(blue\) closed at .*; roll forward or release v1 again/);
    assert.match(reason(applyEvent(p, rb(Slot.Blue, 10))), /blue holds the previous version v1, which receives no traffic/);
    assert.match(reason(applyEvent(p, rb(Slot.Green, 10, 0.5))), /predates release/, "observed before the release started");
    assert.equal(applyEvent(p, rb(Slot.Green, 10, 1)).kind, "applied", "observed at the release's start instant counts");
    const noWindow = promoteAt(start(fresh()), 2);
    assert.equal(noWindow.rollbackWindowEndsAt, null);
    assert.match(reason(applyEvent(noWindow, rb(Slot.Green, 3))), /was promoted without a rollback window/);
    // A promotion reached by adopting (no release record) uses the promotion time as the release's start.
    const adoptedRelease = { ...p, releaseStartedAt: null, releaseId: null };
    assert.equal(applyEvent(adoptedRelease, rb(Slot.Green, 10, 1)).kind, "unchanged", "observed before the promotion");
    const fromAdopted = applyEvent(adoptedRelease, rb(Slot.Green, 10, 2));
    assert.equal(fromAdopted.kind === "applied" && fromAdopted.state.lastRollback?.releaseId, `green:v2:${p.revision}`);
  });

  it("says the window is open strictly before its end, and where it ends", () => {
    const p = promoteAt(start(fresh()), 2, 30);
    assert.deepEqual([rollbackWindowOpen(p, at(31.99)), rollbackWindowOpen(p, at(32)), rollbackWindowOpen(p, at(2))], [true, false, true]);
    assert.equal(rollbackWindowOpen(promoteAt(start(fresh()), 2), at(2)), false);
    assert.equal(rollbackWindowOpen(start(fresh()), at(2)), false);
    assert.equal(rollbackWindowEnd(p), at(32));
    assert.equal(rollbackWindowEnd(promoteAt(start(fresh()), 2)), at(2), "no window: it ends at the promotion");
    assert.equal(rollbackWindowEnd(start(fresh())), null);
    // Retiring waits for the grace after the window, and for stickiness counted from the promotion.
    assert.equal(retireNotBefore(p, Date.parse(at(32))), Date.parse(at(37)));
    const sticky = { ...p, routing: { ...p.routing, stickinessSeconds: 3600 } };
    assert.equal(retireNotBefore(sticky, Date.parse(at(32))), Date.parse(at(62)));
  });

  it("rolls back an alarm observed at the release's start instant, not one a millisecond before", () => {
    const s = start(fresh(), 10, 1);
    assert.equal(applyEvent(s, rb(Slot.Green, 2, 1)).kind, "applied");
    const before = { ...rb(Slot.Green, 2), observedAt: new Date(Date.parse(at(1)) - 1).toISOString() };
    assert.equal(applyEvent(s, before).kind, "unchanged");
  });

  it("refuses to adopt a new stable while a candidate takes traffic, and allows it at 0%", () => {
    const s = start(fresh(), 10);
    const adopt: ReleaseEvent = { type: "adopt", stable: { slot: Slot.Blue, version: "v1.1" }, at: at(2), by: "pulumi:prod" };
    assert.match(reason(applyEvent(s, adopt)), /release green:v2:1 is in progress; promote it or set its weight to 0 first/);
    const atZero = mustApply(s, { type: "shift-weight", weight: 0, at: at(2), by: "pulumi:prod" });
    const t = applyEvent(atZero, adopt);
    assert.equal(t.kind, "applied");
    assert.deepEqual([t.state.phase, t.state.stable, t.state.candidate, t.state.weights], [Phase.Stable, { slot: Slot.Blue, version: "v1.1" }, null, { blue: 100, green: 0 }]);
    assert.equal(applyEvent(fresh(), { ...adopt, stable: { slot: Slot.Blue, version: "v1" } }).kind, "unchanged", "already stable");
  });

  it("lets the driver only raise a progressive weight, from the pre-traffic pass onwards", () => {
    const strategy = normalizeStrategy({ kind: "linear", stepPercent: 25, minutes: 5, bakeMinutes: 10 });
    let s = mustApply(fresh(), { type: "start-release", candidate: v2, weight: 0, progressive: { strategy, rollbackWindowMinutes: 30 }, at: at(1), by: "pulumi:prod" });
    s = mustApply(s, { type: "advance-step", stepIndex: 0, weight: 25, at: at(2), by: "release-driver" });
    assert.match(reason(applyEvent(s, { type: "advance-step", stepIndex: 1, weight: 24, at: at(7), by: "release-driver" })), /step weight must be an integer 25\.\.100 \(weights only go up\), got 24/);
    assert.match(reason(applyEvent(s, { type: "advance-step", stepIndex: 1, weight: 101, at: at(7), by: "release-driver" })), /got 101/);
    const same = applyEvent(s, { type: "advance-step", stepIndex: 1, weight: 25, at: at(7), by: "release-driver" });
    assert.equal(same.kind, "applied", "the same weight on the next step is allowed");
    assert.equal(applyEvent(s, { type: "advance-step", stepIndex: 0, weight: 50, at: at(7), by: "release-driver" }).kind, "unchanged", "not backwards");
    const bake = applyEvent(s, { type: "advance-step", stepIndex: strategy.steps.length, weight: 100, at: at(20), by: "release-driver" });
    assert.equal(bake.kind === "applied" && bake.entry.summary, "v2 (green) at 100%: baking 10 min");
    assert.deepEqual(bake.state.progress, { strategy, stepIndex: strategy.steps.length, stepStartedAt: at(20), rollbackWindowMinutes: 30 }, "a pending promote is used up by the step");
    // A hand-set weight ends the progressive release.
    const hand = mustApply(s, { type: "shift-weight", weight: 25, at: at(3), by: "pulumi:prod" });
    assert.equal(hand.progress, null);
    assert.equal(applyEvent(hand, { type: "shift-weight", weight: 25, at: at(4), by: "pulumi:prod" }).kind, "unchanged");
  });

  it("promotes --full a release held by a failed pre-traffic check, instead of running the check again", () => {
    const check = { kind: "http" as const, url: "https://api.example.com/healthz", header: "x-remedy-candidate", value: "1", expectStatus: [200, 299] as const, timeoutSeconds: 5 };
    const strategy = normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 0 });
    let s = mustApply(fresh(), { type: "start-release", candidate: v2, weight: 0, progressive: { strategy, rollbackWindowMinutes: 0, preTraffic: { check, maxAttempts: 1 } }, at: at(1), by: "pulumi:prod" });
    s = mustApply(s, { type: "pre-traffic-result", attempt: 1, passed: false, reason: "answered 503", at: at(2), by: "release-driver" });
    const full = mustApply(s, { type: "request-promote", mode: "full", at: at(3), by: "operator:ana" });
    assert.deepEqual([full.progress?.promote, full.progress?.preTraffic?.attempts], ["full", 1], "full: promote now, the check is not re-armed");
    const step = mustApply(s, { type: "request-promote", mode: "step", at: at(3), by: "operator:ana" });
    assert.deepEqual([step.progress?.promote, step.progress?.preTraffic?.attempts], [undefined, 0], "step: the check runs again");
    assert.equal(applyEvent(full, { type: "request-promote", mode: "full", at: at(4), by: "operator:ana" }).kind, "unchanged");
    assert.equal(applyEvent(fresh(), { type: "request-promote", mode: "full", at: at(4), by: "operator:ana" }).kind, "refused");
  });

  it("releases into the other slot only, restarts a release on a new candidate and records its id and start", () => {
    const s = start(fresh(), 10, 1);
    assert.deepEqual([s.releaseId, s.releaseStartedAt, s.previous, s.rollbackWindowEndsAt, s.progress], ["green:v2:1", at(1), null, null, null]);
    assert.match(reason(applyEvent(fresh(), { type: "start-release", candidate: { slot: Slot.Blue, version: "v2" }, weight: 10, at: at(1), by: "pulumi:prod" })), /candidate slot blue is the stable slot; release into green/);
    assert.match(reason(applyEvent(fresh(Slot.Green), { type: "start-release", candidate: { slot: Slot.Green, version: "v2" }, weight: 10, at: at(1), by: "pulumi:prod" })), /release into blue/);
    assert.equal(applyEvent(s, { type: "start-release", candidate: v2, weight: 10, at: at(2), by: "pulumi:prod" }).kind, "unchanged");
    const shifted = applyEvent(s, { type: "start-release", candidate: v2, weight: 30, at: at(2), by: "pulumi:prod" });
    assert.equal(shifted.kind === "applied" && shifted.entry.action, "shift-weight");
    const next = mustApply(s, { type: "start-release", candidate: { slot: Slot.Green, version: "v3" }, weight: 5, at: at(3), by: "pulumi:prod" });
    assert.deepEqual([next.releaseId, next.releaseStartedAt, next.weights], ["green:v3:2", at(3), { blue: 95, green: 5 }]);
    const hot = applyEvent(fresh(), { type: "start-release", candidate: v2, weight: 100, hotfix: { reason: "INC-7", expires: at(60) }, apiOverride: "known", at: at(1), by: "pulumi:hotfix" });
    assert.equal(hot.kind === "applied" && hot.entry.summary, `HOTFIX release v2 (green) at 100%; stable v1 (blue); reason: INC-7; hotfix mode expires ${at(60)}; API compatibility overridden: known`);
  });

  it("fills images a record lacks from what is deployed, never replacing a recorded one", () => {
    const s = start(fresh(), 10);
    const deployed = [
      { slot: Slot.Blue, version: "v1", image: "repo/app:v1" },
      { slot: Slot.Green, version: "v2", image: "repo/app:v2" },
    ];
    assert.deepEqual(fillImages(s, deployed), { stable: { slot: Slot.Blue, version: "v1", image: "repo/app:v1" }, candidate: { ...v2, image: "repo/app:v2" }, previous: null });
    const recorded = { ...s, candidate: { ...v2, image: "repo/app:v2@sha256:aaa" } };
    assert.deepEqual(fillImages(recorded, deployed)?.candidate, { ...v2, image: "repo/app:v2@sha256:aaa" }, "a recorded image is kept");
    assert.equal(fillImages({ ...recorded, stable: { slot: Slot.Blue, version: "v1", image: "x" } }, deployed), undefined, "nothing missing");
    assert.equal(fillImages(s, [{ slot: Slot.Green, version: "v2b", image: "repo/app:v2b" }, { slot: Slot.Blue, version: "v1" }]), undefined, "another version or no image: nothing to fill");
  });
});

describe("core/releaseState: what each event does in each phase (guards)", () => {
  const v2 = { slot: Slot.Green, version: "v2" };
  const by = "release-driver";
  const ev = {
    shift: { type: "shift-weight", weight: 20, at: at(20), by } as ReleaseEvent,
    promote: { type: "promote", rollbackWindowMinutes: 30, at: at(20), by } as ReleaseEvent,
    rollBack: { type: "roll-back", failedSlot: Slot.Green, observedAt: at(20), reason: "5xx", at: at(20), by: "alarm" } as ReleaseEvent,
    step: { type: "advance-step", stepIndex: 5, weight: 100, at: at(20), by } as ReleaseEvent,
    pass: { type: "pre-traffic-result", attempt: 1, passed: true, reason: "answered 200", at: at(20), by } as ReleaseEvent,
    promoteStep: { type: "request-promote", mode: "step", at: at(20), by: "operator:ana" } as ReleaseEvent,
  };
  const check = { kind: "lambda" as const, functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:hook", timeoutSeconds: 5 };
  const strategy = normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 0 });
  const progressive = () =>
    mustApply(fresh(), { type: "start-release", candidate: v2, weight: 0, progressive: { strategy, rollbackWindowMinutes: 30, preTraffic: { check, maxAttempts: 2 } }, at: at(1), by: "pulumi:prod" });
  const stepped = () => mustApply(mustApply(progressive(), { type: "pre-traffic-result", attempt: 1, passed: true, reason: "ok", at: at(2), by }), { type: "advance-step", stepIndex: 0, weight: 10, at: at(3), by });
  const rolledBackProgressive = () => mustApply(stepped(), { type: "roll-back", failedSlot: Slot.Green, observedAt: at(4), reason: "5xx", at: at(4), by: "alarm" });
  const promoted = () => mustApply(stepped(), { type: "promote", rollbackWindowMinutes: 30, at: at(5), by });
  const reason = (t: ReturnType<typeof applyEvent>) => `${t.kind}${t.kind === "applied" ? "" : `: ${t.reason}`}`;

  it("refuses progressive events on a rolled-back release, which keeps its progress on record", () => {
    const s = rolledBackProgressive();
    assert.ok(s.progress, "the progress stays on record");
    assert.equal(reason(applyEvent(s, ev.step)), "refused: no progressive release in progress (phase rolled-back)");
    assert.equal(reason(applyEvent(s, ev.pass)), "refused: no progressive release with a pre-traffic check in progress (phase rolled-back)");
    assert.equal(reason(applyEvent(s, ev.promoteStep)), "refused: no progressive release in progress (phase rolled-back)");
    assert.equal(reason(applyEvent(s, ev.shift)), "refused: no release in progress (phase rolled-back)");
    assert.equal(reason(applyEvent(s, ev.promote)), "refused: nothing to promote (phase rolled-back)");
    assert.equal(reason(applyEvent(s, ev.rollBack)), `unchanged: release ${s.releaseId} was already rolled back at ${at(4)}`);
  });

  it("treats a promotion of what is already stable as done, and refuses bad windows", () => {
    assert.equal(reason(applyEvent(promoted(), ev.promote)), "unchanged: v2 (green) is already stable");
    assert.equal(reason(applyEvent(fresh(), ev.promote)), "unchanged: v1 (blue) is already stable");
    const releasing = mustApply(fresh(), { type: "start-release", candidate: v2, weight: 10, at: at(1), by: "pulumi:prod" });
    for (const minutes of [-1, 1.5]) {
      assert.equal(reason(applyEvent(releasing, { ...ev.promote, rollbackWindowMinutes: minutes } as ReleaseEvent)), `refused: rollback window must be a whole number of minutes >= 0, got ${minutes}`);
    }
    const none = applyEvent(releasing, { type: "promote", at: at(2), by });
    assert.equal(none.kind === "applied" && none.entry.summary, "promote v2 (green); v1 (blue) is no longer a rollback target (no rollback window)");
    const windowed = applyEvent(releasing, ev.promote);
    assert.equal(windowed.kind === "applied" && windowed.entry.summary, `promote v2 (green); v1 (blue) stays warm at full size as the automatic rollback target until ${at(50)}`);
  });

  it("records the pre-traffic results and promotion requests with the right words", () => {
    const pass = applyEvent(progressive(), ev.pass);
    assert.equal(pass.kind === "applied" && pass.entry.summary, "pre-traffic check of v2 (green) passed: answered 200");
    const fail = applyEvent(progressive(), { ...ev.pass, passed: false, reason: "answered 503" } as ReleaseEvent);
    assert.equal(fail.kind === "applied" && fail.entry.summary, "pre-traffic check of v2 (green) failed (1/2): answered 503");
    assert.equal(reason(applyEvent(stepped(), ev.pass)), "unchanged: the pre-traffic check already passed");
    // Before the check is exhausted, `promote` asks to move past a pause; it does not re-arm the check.
    const early = applyEvent(progressive(), ev.promoteStep);
    assert.equal(early.kind === "applied" && early.entry.summary, "promotion of v2 (green) requested (past the pause)");
    assert.deepEqual([early.state.progress?.promote, early.state.progress?.preTraffic?.attempts], ["step", 0]);
    const full = applyEvent(stepped(), { ...ev.promoteStep, mode: "full" } as ReleaseEvent);
    assert.equal(full.kind === "applied" && full.entry.summary, "promotion of v2 (green) requested (--full: now)");
    const step = applyEvent(stepped(), { type: "advance-step", stepIndex: 1, weight: 100, at: at(9), by });
    assert.equal(step.kind === "applied" && step.entry.summary, "v2 (green) step 2/2: 100%");
  });

  it("adopts a stable version only when it differs in slot or version, or the phase is not already settled", () => {
    const adopt = (stable: { slot: Slot; version: string }, s: ReleaseState) => applyEvent(s, { type: "adopt", stable, at: at(30), by: "pulumi:prod" });
    assert.equal(reason(adopt(v2, promoted())), "unchanged: v2 (green) is already stable");
    assert.equal(adopt({ slot: Slot.Green, version: "v2.1" }, promoted()).kind, "applied", "same slot, another version");
    assert.equal(adopt({ slot: Slot.Blue, version: "v2" }, promoted()).kind, "applied", "same version, another slot");
    const held = mustApply(mustApply(fresh(), { type: "start-release", candidate: v2, weight: 10, at: at(1), by: "pulumi:prod" }), ev.rollBack);
    const t = adopt({ slot: Slot.Blue, version: "v1" }, held);
    assert.equal(t.kind, "applied", "a rolled-back release is settled by adopting its stable again");
    assert.deepEqual([t.state.phase, t.state.candidate], [Phase.Stable, null]);
  });

  it("refuses a rolled-back candidate's release without a rollback record, naming what to do", () => {
    const s = { ...mustApply(mustApply(fresh(), { type: "start-release", candidate: v2, weight: 10, at: at(1), by: "pulumi:prod" }), ev.rollBack), lastRollback: null };
    assert.equal(reason(applyEvent(s, { type: "start-release", candidate: v2, weight: 10, at: at(30), by: "pulumi:prod" })), "refused: candidate v2 was rolled back; change the candidate image or acknowledge the rollback");
    const shift = applyEvent(mustApply(fresh(), { type: "start-release", candidate: v2, weight: 10, at: at(1), by: "pulumi:prod" }), ev.shift);
    assert.equal(shift.kind === "applied" && shift.entry.summary, "shift v2 (green) to 20%");
    const start = applyEvent(fresh(), { type: "start-release", candidate: v2, weight: 10, at: at(1), by: "pulumi:prod" });
    assert.equal(start.kind === "applied" && start.entry.summary, "release v2 (green) at 10%; stable v1 (blue)");
    // fillImages matches slot and version both.
    assert.equal(fillImages(start.state, [{ slot: Slot.Blue, version: "v2", image: "repo:v2-in-blue" }])?.candidate, undefined);
  });
});

describe("core/releaseState: stored state is checked field by field", () => {
  const good = () => JSON.parse(JSON.stringify(mustApply(fresh(), { type: "start-release", candidate: { slot: Slot.Green, version: "v2" }, weight: 10, at: at(1), by: "pulumi:prod" }))) as Record<string, unknown>;
  const problem = (mutate: (s: Record<string, unknown>) => void) => {
    const s = good();
    mutate(s);
    try {
      parseReleaseState(s, "payments");
    } catch (e) {
      return (e as Error).message;
    }
    return "accepted";
  };

  it("accepts a state as written, and refuses each malformed field by its path", () => {
    assert.equal(problem(() => undefined), "accepted");
    const cases: [string, (s: Record<string, unknown>) => void, RegExp][] = [
      ["stable.version", (s) => ((s.stable as Record<string, unknown>).version = ""), /stable\.version: /],
      ["stable.image", (s) => ((s.stable as Record<string, unknown>).image = ""), /stable\.image: /],
      ["updatedAt without offset", (s) => (s.updatedAt = "2026-11-24T10:00:00"), /updatedAt: /],
      ["routing.ruleArn", (s) => ((s.routing as Record<string, unknown>).ruleArn = "rule/1"), /routing\.ruleArn: /],
      ["routing.targetGroupArns.blue", (s) => (((s.routing as Record<string, unknown>).targetGroupArns as Record<string, unknown>).blue = "tg"), /routing\.targetGroupArns\.blue: /],
      ["routing.targetGroupArns.green", (s) => (((s.routing as Record<string, unknown>).targetGroupArns as Record<string, unknown>).green = "tg"), /routing\.targetGroupArns\.green: /],
      ["routing.stickinessSeconds", (s) => ((s.routing as Record<string, unknown>).stickinessSeconds = -1), /routing\.stickinessSeconds: /],
      ["routing.stickinessSeconds max", (s) => ((s.routing as Record<string, unknown>).stickinessSeconds = 604_801), /routing\.stickinessSeconds: /],
      ["routing.bindings.blue", (s) => ((s.routing as Record<string, unknown>).bindings = { blue: "" }), /routing\.bindings\.blue: /],
      ["routing.bindings.green", (s) => ((s.routing as Record<string, unknown>).bindings = { green: "" }), /routing\.bindings\.green: /],
      ["routing.notifyTopicArn", (s) => ((s.routing as Record<string, unknown>).notifyTopicArn = "topic"), /routing\.notifyTopicArn: /],
      ["writeId", (s) => (s.writeId = ""), /writeId: /],
      ["lastRollback", (s) => (s.lastRollback = { releaseId: "r" }), /lastRollback\.at: /],
      ["candidate in the stable slot", (s) => (s.candidate = { slot: "blue", version: "v2" }), /candidate\.slot: candidate and stable must be in different slots/],
      ["revision", (s) => (s.revision = -1), /revision: /],
      ["service", (s) => (s.service = ""), /service: /],
      ["weights", (s) => (s.weights = { blue: 50, green: 60 }), /weights: weights must sum to 100/],
      ["progress pause reason", (s) => (s.progress = { strategy: { steps: [{ kind: "pause" }], bakeMinutes: 0 }, stepIndex: -1, stepStartedAt: at(1), rollbackWindowMinutes: 0 }), /progress\.strategy\.steps\.0/],
      ["progress stepIndex", (s) => (s.progress = { strategy: { steps: [], bakeMinutes: 0 }, stepIndex: -2, stepStartedAt: at(1), rollbackWindowMinutes: 0 }), /progress\.stepIndex: /],
      [
        "progress preTraffic lambda arn",
        (s) => (s.progress = { strategy: { steps: [], bakeMinutes: 0 }, stepIndex: -1, stepStartedAt: at(1), rollbackWindowMinutes: 0, preTraffic: { check: { kind: "lambda", functionArn: "hook", timeoutSeconds: 0 }, maxAttempts: 0, attempts: -1 } }),
        /progress\.preTraffic\.check\.functionArn: .*progress\.preTraffic\.check\.timeoutSeconds: .*progress\.preTraffic\.maxAttempts: .*progress\.preTraffic\.attempts: /,
      ],
    ];
    for (const [what, mutate, why] of cases) assert.match(problem(mutate), why, what);
    assert.throws(() => parseReleaseState(null, "payments"), /release state of payments is invalid: \(root\): /);
    // As other writers store it: a local offset, a pause step, an HTTP pre-traffic check.
    const progressive = good();
    progressive.updatedAt = "2026-11-24T12:00:00+02:00";
    progressive.progress = {
      strategy: { steps: [{ kind: "weight", weight: 10, minutes: 5 }, { kind: "pause", reason: "look at the dashboards" }, { kind: "weight", weight: 100, minutes: 0 }], bakeMinutes: 0 },
      stepIndex: 1,
      stepStartedAt: "2026-11-24T12:05:00+02:00",
      rollbackWindowMinutes: 0,
      preTraffic: { check: { kind: "http", url: "https://api.example.com/healthz", header: "x-remedy-candidate", value: "1", expectStatus: [200, 299], timeoutSeconds: 5 }, maxAttempts: 1, attempts: 0, passedAt: at(2) },
    };
    assert.equal(parseReleaseState(progressive, "payments").progress?.strategy.steps[1].kind, "pause");
    const ok = good();
    (ok.routing as Record<string, unknown>).bindings = { blue: "payments-blue-tgb" };
    (ok.routing as Record<string, unknown>).notifyTopicArn = "arn:aws:sns:eu-west-1:123456789012:remedy";
    assert.deepEqual(parseReleaseState(ok, "payments").routing.bindings, { blue: "payments-blue-tgb" });
  });
});
