import { normalizeStrategy, preTrafficGate } from "../../core/progressive";
import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import {
  Phase,
  applyEvent,
  initialState,
  parseReleaseState,
  type ReleaseEvent,
  type ReleaseState,
} from "../../core/releaseState";
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

function mustApply(state: ReleaseState, event: ReleaseEvent): ReleaseState {
  const t = applyEvent(state, event);
  assert.equal(t.kind, "applied", t.kind === "applied" ? "" : t.reason);
  return t.state;
}

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
    type: fc.constant("start-release" as const),
    candidate: fc.record({ slot: slotArb, version: versionArb }),
    weight: fc.constant(0),
    progressive: fc.constant({ strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }), rollbackWindowMinutes: 30 }),
    at: timeArb,
    by: fc.constant("pulumi:prod"),
  }),
  fc.record({ type: fc.constant("advance-step" as const), stepIndex: fc.integer({ min: -1, max: 3 }), weight: fc.integer({ min: -1, max: 101 }), at: timeArb, by: fc.constant("release-driver") }),
  fc.record({ type: fc.constant("request-promote" as const), mode: fc.constantFrom("step" as const, "full" as const), at: timeArb, by: fc.constant("operator:ana") }),
  fc.record({ type: fc.constant("adopt" as const), stable: fc.record({ slot: slotArb, version: versionArb }), at: timeArb, by: fc.constant("pulumi:prod") }),
);

/** Every state reachable from a fresh state by a sequence of arbitrary events. */
const reachableArb = fc
  .tuple(slotArb, fc.array(eventArb, { maxLength: 12 }))
  .map(([slot, events]) => events.reduce((s, e) => applyEvent(s, e).state, fresh(slot)));

describe("core/releaseState: transitions (properties)", () => {
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

  it("ends every applied rollback with 100% on the previous stable version", () => {
    fc.assert(
      fc.property(reachableArb, eventArb, (s, e) => {
        const t = applyEvent(s, e);
        if (e.type !== "roll-back" || t.kind !== "applied") return;
        assert.equal(t.state.phase, Phase.RolledBack);
        assert.equal(t.state.stable.version, s.stable.version);
        assert.equal(t.state.weights[s.stable.slot], 100);
        assert.equal(t.state.weights[otherSlot(s.stable.slot)], 0);
        assert.equal(t.state.lastRollback?.toVersion, s.stable.version);
        assert.equal(t.state.lastRollback?.fromVersion, s.candidate?.version);
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
