/**
 * core/converge.ts directly: how `pulumi up` plans weights, events, warnings and slot sizes from
 * config and release state, branch by branch, with states reached through real transitions.
 */
import { strict as assert } from "node:assert";
import { liveSlotConflict, planRelease, type DesiredRelease } from "../../core/converge";
import { normalizeStrategy } from "../../core/progressive";
import { initialState, type SlotVersion } from "../../core/releaseState";
import { applyAll } from "../helpers/fixtures";

const ROUTING = {
  ruleArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy/1/2/3",
  targetGroupArns: { blue: "arn:tg/blue", green: "arn:tg/green" },
  stickinessSeconds: 0,
};
const T0 = Date.parse("2026-11-24T10:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
const BY = "pulumi:prod";
const blue = (version: string): SlotVersion => ({ slot: "blue", version });
const green = (version: string): SlotVersion => ({ slot: "green", version });
const canary = normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 0 });

const run = applyAll;
const base = (minutes: number) => ({ at: at(minutes), by: BY });
const stableV1 = () => initialState("payments", blue("v1"), ROUTING, at(0));
const releasing = (weight = 20) => run(stableV1(), { type: "start-release", candidate: green("v2"), weight, ...base(1) });
const rolledBack = () => run(releasing(), { type: "roll-back", failedSlot: "green", observedAt: at(2), reason: "5xx above 5%", ...base(2), by: "payments-green-5xx" });
const promoted = (windowMinutes = 30) => run(releasing(), { type: "promote", rollbackWindowMinutes: windowMinutes, ...base(3) });

function desired(d: Partial<DesiredRelease> = {}): DesiredRelease {
  return { service: "payments", stable: blue("v1"), candidate: green("v2"), weight: 20, rollbackWindowMinutes: 30, ...d };
}

describe("core/converge: what `pulumi up` does with config and release state", () => {
  it("records the first release: adopt, then a start-release at the config weight (hotfix and API override carried)", () => {
    const hotfix = { reason: "INC-1", expires: at(60) };
    const p = planRelease(desired({ hotfix, apiOverride: "client migrated" }), undefined, at(0), BY);
    assert.deepEqual(p.weights, { blue: 80, green: 20 });
    assert.deepEqual(p.events, [
      { type: "adopt", stable: blue("v1"), ...base(0) },
      { type: "start-release", candidate: green("v2"), weight: 20, hotfix, apiOverride: "client migrated", ...base(0) },
    ]);
    assert.deepEqual([p.held, p.scaleDownPrevious, p.warnings], [false, false, []]);
    // No candidate, or weight 0 without a strategy: nothing to release.
    assert.deepEqual(planRelease(desired({ candidate: null }), undefined, at(0), BY).events.map((e) => e.type), ["adopt"]);
    assert.deepEqual(planRelease(desired({ weight: 0 }), undefined, at(0), BY).events.map((e) => e.type), ["adopt"]);
    assert.deepEqual(planRelease(desired({ candidate: null }), undefined, at(0), BY).weights, { blue: 100, green: 0 });
  });

  it("starts a progressive release at 0% with its strategy, window and pre-traffic check, whatever weight config gives", () => {
    const preTraffic = { check: { http: { url: "http://x/health" }, timeoutSeconds: 5 } as never, maxAttempts: 3 };
    const p = planRelease(desired({ strategy: canary, preTraffic, weight: 50, apiOverride: "ok" }), stableV1(), at(1), BY);
    assert.deepEqual(p.events, [
      { type: "start-release", candidate: green("v2"), weight: 0, progressive: { strategy: canary, rollbackWindowMinutes: 30, preTraffic }, apiOverride: "ok", ...base(1) },
    ]);
    // While it releases, `up` follows the weights the driver recorded, not config's.
    const state = run(stableV1(), p.events[0], { type: "pre-traffic-result", attempt: 1, passed: true, reason: "200", ...base(1.5) }, { type: "advance-step", stepIndex: 0, weight: 10, ...base(2) });
    const follow = planRelease(desired({ strategy: canary, weight: 50 }), state, at(3), BY);
    assert.deepEqual([follow.weights, follow.events, follow.warnings], [{ blue: 90, green: 10 }, [], []]);
  });

  it("holds a rolled-back candidate at 0% until its image changes or the rollback is acknowledged (a wrong acknowledgement is named)", () => {
    const state = rolledBack();
    const held = planRelease(desired(), state, at(5), BY);
    assert.deepEqual([held.weights, held.events, held.held], [{ blue: 100, green: 0 }, [], true]);
    assert.deepEqual(held.warnings, [
      `service payments: candidate v2 was rolled back at ${at(2)} by alarm payments-green-5xx: 5xx above 5%; change the candidate image or set services.payments.acknowledgeRollback to "v2"`,
    ]);
    const wrong = planRelease(desired({ acknowledgeRollback: "v9" }), state, at(5), BY);
    assert.equal(wrong.held, true);
    assert.equal(wrong.warnings[1], 'service payments: acknowledgeRollback "v9" does not match the rolled-back version "v2"; ignored');
    const acked = planRelease(desired({ acknowledgeRollback: "v2" }), state, at(5), BY);
    assert.deepEqual([acked.weights, acked.held, acked.warnings], [{ blue: 80, green: 20 }, false, []]);
    assert.deepEqual(acked.events, [{ type: "acknowledge", ...base(5) }, { type: "start-release", candidate: green("v2"), weight: 20, ...base(5) }]);
    // An operator's rollback reads without "alarm".
    const byOperator = run(releasing(), { type: "roll-back", failedSlot: "green", observedAt: at(2), reason: "bad", ...base(2), by: "operator:ana" });
    assert.match(planRelease(desired(), byOperator, at(5), BY).warnings[0], /was rolled back at .* by operator:ana: bad;/);
    // A new image is a new release: not held.
    const next = planRelease(desired({ candidate: green("v3") }), state, at(5), BY);
    assert.deepEqual([next.held, next.events.map((e) => e.type), next.weights], [false, ["start-release"], { blue: 80, green: 20 }]);
  });

  it("after a post-promotion rollback, holds the failed version at 0% while config still names it stable; acknowledging sends traffic back", () => {
    const state = run(promoted(), { type: "roll-back", failedSlot: "green", observedAt: at(4), reason: "latency", ...base(4), by: "payments-green-p99" });
    const d = desired({ stable: green("v2"), candidate: blue("v1"), weight: 0 });
    const held = planRelease(d, state, at(6), BY);
    assert.deepEqual([held.weights, held.events, held.held, held.keepPreviousWarm, held.scaleDownPrevious], [{ blue: 100, green: 0 }, [], true, true, false]);
    assert.match(held.warnings[0], /^service payments: promoted v2 was rolled back to v1 at .* by alarm payments-green-p99: latency; traffic stays on v1 \(blue\)\. Set services\.payments\.stable to "blue", or set services\.payments\.acknowledgeRollback to "v2"/);
    const acked = planRelease({ ...d, acknowledgeRollback: "v2" }, state, at(6), BY);
    assert.deepEqual(acked.events, [{ type: "acknowledge", ...base(6) }, { type: "adopt", stable: green("v2"), ...base(6) }]);
    assert.deepEqual([acked.weights, acked.held], [{ blue: 0, green: 100 }, false]);
    assert.deepEqual(acked.warnings, ["service payments: rollback of v2 acknowledged; it serves all traffic again"]);
  });

  it("records a promotion config makes, keeping the previous slot warm only when there is a rollback window", () => {
    const d = desired({ stable: green("v2"), candidate: blue("v1"), weight: 0 });
    const p = planRelease(d, releasing(), at(3), BY);
    assert.deepEqual(p.events, [{ type: "promote", rollbackWindowMinutes: 30, ...base(3) }]);
    assert.deepEqual([p.weights, p.keepPreviousWarm], [{ blue: 0, green: 100 }, true]);
    assert.equal(planRelease({ ...d, rollbackWindowMinutes: 0 }, releasing(), at(3), BY).keepPreviousWarm, false);
  });

  it("follows a promotion the release driver made, telling config to catch up", () => {
    const state = run(stableV1(), { type: "start-release", candidate: green("v2"), weight: 0, progressive: { strategy: canary, rollbackWindowMinutes: 30 }, ...base(1) }, { type: "promote", rollbackWindowMinutes: 30, ...base(9) });
    const p = planRelease(desired({ strategy: canary }), state, at(10), BY);
    assert.deepEqual([p.weights, p.events], [{ blue: 0, green: 100 }, []]);
    assert.deepEqual(p.warnings, [
      `service payments: the release driver promoted v2 (green) at ${at(9)}; set services.payments.stable to "green" so config says so (the previous slot is scaled down once the rollback window is over and config names the new stable)`,
    ]);
  });

  it("adjusts, backs out and replaces a release with the same stable", () => {
    const state = releasing(20);
    assert.deepEqual(planRelease(desired({ weight: 20 }), state, at(2), BY).events, [], "same weight: nothing to record");
    assert.deepEqual(planRelease(desired({ weight: 50 }), state, at(2), BY).events, [{ type: "shift-weight", weight: 50, ...base(2) }]);
    assert.deepEqual(planRelease(desired({ weight: 50 }), state, at(2), BY).weights, { blue: 50, green: 50 });
    assert.deepEqual(planRelease(desired({ candidate: null }), state, at(2), BY).events, [{ type: "shift-weight", weight: 0, ...base(2) }]);
    assert.deepEqual(planRelease(desired({ candidate: null }), state, at(2), BY).weights, { blue: 100, green: 0 });
    // Another candidate while one releases: back it out, then start the new one.
    assert.deepEqual(planRelease(desired({ candidate: green("v3"), weight: 5 }), state, at(2), BY).events, [
      { type: "shift-weight", weight: 0, ...base(2) },
      { type: "start-release", candidate: green("v3"), weight: 5, ...base(2) },
    ]);
    // From stable: a candidate starts; none does nothing.
    assert.deepEqual(planRelease(desired(), stableV1(), at(2), BY).events.map((e) => e.type), ["start-release"]);
    assert.deepEqual(planRelease(desired({ candidate: null }), stableV1(), at(2), BY).events, []);
  });

  it("records a stable changed outside a release as adopted, warning when a release or a rolled-back version is involved", () => {
    const during = planRelease(desired({ stable: blue("v1.1"), candidate: null, weight: 0 }), releasing(0), at(2), BY);
    assert.deepEqual(during.events, [{ type: "shift-weight", weight: 0, ...base(2) }, { type: "adopt", stable: blue("v1.1"), ...base(2) }]);
    assert.deepEqual(during.warnings, ["service payments: stable changed from v1 to v1.1 while v2 was releasing; recorded as a manual change"]);
    const quiet = planRelease(desired({ stable: blue("v1.1"), candidate: null }), stableV1(), at(2), BY);
    assert.deepEqual([quiet.events.map((e) => e.type), quiet.warnings], [["adopt"], []]);
    const onto = planRelease(desired({ stable: green("v2"), candidate: null }), rolledBack(), at(3), BY);
    assert.deepEqual(onto.events.map((e) => e.type), ["adopt"]);
    assert.deepEqual(onto.warnings, [`service payments: stable set to v2, which was rolled back at ${at(2)} (5xx above 5%); recorded as a manual change`]);
  });

  it("keeps the promoted-away version warm through its window (plus grace), scales it down at exactly that moment, and releases it again only when image mode asks", () => {
    const state = promoted(30); // promoted at minute 3: window ends at 33, grace 5 minutes: 38
    const d = desired({ stable: green("v2"), candidate: blue("v1"), weight: 0 });
    const inside = planRelease(d, state, at(20), BY);
    assert.deepEqual([inside.events, inside.keepPreviousWarm, inside.scaleDownPrevious, inside.weights], [[], true, false, { blue: 0, green: 100 }]);
    assert.deepEqual([planRelease(d, state, at(37.99), BY).scaleDownPrevious, planRelease(d, state, at(38), BY).scaleDownPrevious], [false, true]);
    assert.equal(planRelease(d, state, at(38), BY).keepPreviousWarm, false);
    // Stickiness longer than the window holds it longer: sticky clients still reach the old slot.
    const sticky = { ...state, routing: { ...state.routing, stickinessSeconds: 3600 } };
    assert.deepEqual([planRelease(d, sticky, at(62.9), BY).scaleDownPrevious, planRelease(d, sticky, at(63), BY).scaleDownPrevious], [false, true]);
    // Image mode going back to it: a release at full size, not a warm or retired slot.
    const back = planRelease({ ...d, strategy: canary, releaseCandidate: true }, state, at(20), BY);
    assert.deepEqual([back.events.map((e) => e.type), back.keepPreviousWarm, back.scaleDownPrevious], [["start-release"], false, false]);
    // Without image mode, the warm previous version is not a new progressive release.
    assert.deepEqual(planRelease({ ...d, strategy: canary }, state, at(20), BY).events, []);
  });

  it("plans a slot the driver retired at 0 replicas while it holds the retired version at 0%, and at full size once it gets traffic or a new version", () => {
    const state = run(promoted(30), { type: "retire-previous", ...base(40) });
    const d = desired({ stable: green("v2"), candidate: blue("v1"), weight: 0 });
    const kept = planRelease(d, state, at(41), BY);
    assert.deepEqual(kept.retired, { slot: "blue", at: at(40), keep: true });
    assert.deepEqual([kept.scaleDownPrevious, kept.keepPreviousWarm], [true, false]);
    const traffic = planRelease({ ...d, weight: 10 }, state, at(41), BY);
    assert.deepEqual([traffic.retired, traffic.weights], [{ slot: "blue", at: at(40), keep: false }, { blue: 10, green: 90 }]);
    const newVersion = planRelease({ ...d, candidate: blue("v3"), weight: 0 }, state, at(41), BY);
    assert.deepEqual(newVersion.retired, { slot: "blue", at: at(40), keep: false });
    const releasingIt = planRelease({ ...d, strategy: canary, releaseCandidate: true }, state, at(41), BY);
    assert.deepEqual(releasingIt.retired?.keep, false, "a release into the retired slot rolls out first");
    assert.equal(planRelease(d, promoted(30), at(41), BY).retired, undefined, "not retired: nothing to say");
  });

  describe("per-slot sizes and the live slot (issue 34, 1 and 2)", () => {
    const driverRetired = () =>
      run(
        stableV1(),
        { type: "start-release", candidate: green("v2"), weight: 0, progressive: { strategy: canary, rollbackWindowMinutes: 30 }, ...base(1) },
        { type: "advance-step", stepIndex: 0, weight: 10, ...base(2) },
        { type: "advance-step", stepIndex: 1, weight: 100, ...base(7) },
        { type: "promote", rollbackWindowMinutes: 30, ...base(17), by: "release-driver" },
        { type: "retire-previous", ...base(53), by: "release-driver" },
      );

    it("plans the slot serving 100% at its size and only the retired slot at 0, whichever slot config calls the candidate", () => {
      const p = planRelease(desired({ strategy: canary }), driverRetired(), at(60), BY);
      assert.deepEqual([p.weights, p.sizes], [{ blue: 0, green: 100 }, { blue: "zero", green: "configured" }]);
      // Config caught up: the same sizes.
      const caughtUp = planRelease(desired({ stable: green("v2"), candidate: blue("v1"), weight: 0, strategy: canary }), driverRetired(), at(60), BY);
      assert.deepEqual([caughtUp.weights, caughtUp.sizes], [{ blue: 0, green: 100 }, { blue: "zero", green: "configured" }]);
    });

    it("never plans zero for a slot with weight in the live rule, even when the plan would scale it down", () => {
      // The window is over and config scales blue down, but the live rule still sends blue 10%
      // (an operator's out-of-band change recorded as a release at 10% back to it).
      const p = planRelease(desired({ stable: green("v2"), candidate: blue("v1"), weight: 0 }), promoted(30), at(60), BY);
      assert.deepEqual([p.scaleDownPrevious, p.sizes.blue], [true, "zero"]);
      const liveTen = { ...promoted(30), weights: { blue: 10, green: 90 } };
      assert.deepEqual(planRelease(desired({ stable: green("v2"), candidate: blue("v1"), weight: 0 }), liveTen, at(60), BY).sizes, { blue: "warm", green: "configured" });
      // Inside the window the previous slot is warm; after a post-promotion rollback the slot config calls the candidate is.
      assert.deepEqual(planRelease(desired({ stable: green("v2"), candidate: blue("v1"), weight: 0 }), promoted(30), at(20), BY).sizes, { blue: "warm", green: "configured" });
      const afterPromotion = run(promoted(), { type: "roll-back", failedSlot: "green", observedAt: at(4), reason: "p99", ...base(4) });
      assert.deepEqual(planRelease(desired({ stable: green("v2"), candidate: blue("v1"), weight: 0 }), afterPromotion, at(6), BY).sizes, { blue: "warm", green: "configured" });
    });

    it("refuses a new version on the slot release state says is live while config calls the other slot stable, naming the live slot and the edit", () => {
      const lagging = desired({ candidate: green("v3"), strategy: canary });
      assert.throws(() => planRelease(lagging, driverRetired(), at(60), BY), (e: Error) => {
        assert.equal(e.name, "LiveSlotConflictError");
        assert.equal(
          e.message,
          `service payments: release state says green is live (v2, promoted at ${at(17)}; v1 (blue) was promoted away and scaled to 0 at ${at(53)}, 100% of traffic), ` +
            "but config calls blue stable and puts v3 into green: that would deploy v3 onto the live slot with no canary. " +
            'Nothing was changed. To release v3, set services.payments.stable to "green" with green\'s image at v2, and put v3 into blue (the candidate slot)',
        );
        return true;
      });
      // While a release runs, config promoting its candidate and putting a new version into the old stable at once.
      const promotingAndReleasing = desired({ stable: green("v2"), candidate: blue("v3"), weight: 0 });
      assert.match(liveSlotConflict(promotingAndReleasing, releasing(20)) ?? "", /blue is live \(v1, stable while v2 \(green\) releases at 20%, 80% of traffic\).*promote first \(services\.payments\.stable: "green" with blue still at v1\), then put v3 into blue/);
      // After a post-promotion rollback blue is live again: a new version there while config says green is refused.
      const afterPromotion = run(promoted(), { type: "roll-back", failedSlot: "green", observedAt: at(4), reason: "p99", ...base(4) });
      assert.match(liveSlotConflict(desired({ stable: green("v2"), candidate: blue("v1.1"), weight: 0 }), afterPromotion) ?? "", /blue is live \(v1, live again after the rollback of v2 at/);
    });

    it("lets config lag without a new version, move stable on purpose, and change the live slot's version where config agrees it is live", () => {
      for (const [d, s] of [
        [desired({ strategy: canary }), driverRetired()], // lagging, same versions: followed with a warning
        [desired({ stable: green("v1"), candidate: null }), stableV1()], // stable moves slots, live slot's workload removed
        [desired({ stable: green("v2"), candidate: blue("v1"), weight: 0 }), releasing(20)], // config promotes
        [desired({ stable: blue("v1.1"), candidate: null }), rolledBack()], // in place, config agrees blue is live
        [desired({ candidate: green("v3") }), undefined], // first record
      ] as const) {
        assert.equal(liveSlotConflict(d, s), undefined);
        assert.doesNotThrow(() => planRelease(d, s, at(60), BY));
      }
    });
  });

  describe("whole plans, branch by branch (every flag asserted)", () => {
    const plan = (p: ReturnType<typeof planRelease>) => ({ held: p.held, scaleDownPrevious: p.scaleDownPrevious, keepPreviousWarm: p.keepPreviousWarm, weights: p.weights, events: p.events.map((e) => e.type), warnings: p.warnings.length });

    it("first record, rolled-back hold and its acknowledgement, config promotion, driver promotion", () => {
      assert.deepEqual(plan(planRelease(desired(), undefined, at(0), BY)), { held: false, scaleDownPrevious: false, keepPreviousWarm: undefined, weights: { blue: 80, green: 20 }, events: ["adopt", "start-release"], warnings: 0 });
      assert.deepEqual(plan(planRelease(desired(), rolledBack(), at(5), BY)), { held: true, scaleDownPrevious: false, keepPreviousWarm: undefined, weights: { blue: 100, green: 0 }, events: [], warnings: 1 });
      assert.deepEqual(plan(planRelease(desired({ acknowledgeRollback: "v2" }), rolledBack(), at(5), BY)), { held: false, scaleDownPrevious: false, keepPreviousWarm: undefined, weights: { blue: 80, green: 20 }, events: ["acknowledge", "start-release"], warnings: 0 });
      const afterPromotion = run(promoted(), { type: "roll-back", failedSlot: "green", observedAt: at(4), reason: "latency", ...base(4), by: "operator:ana" });
      const d = desired({ stable: green("v2"), candidate: blue("v1"), weight: 0 });
      assert.deepEqual(plan(planRelease({ ...d, acknowledgeRollback: "v2" }, afterPromotion, at(6), BY)), { held: false, scaleDownPrevious: false, keepPreviousWarm: undefined, weights: { blue: 0, green: 100 }, events: ["acknowledge", "adopt"], warnings: 1 });
      assert.match(planRelease(d, afterPromotion, at(6), BY).warnings[0], /rolled back to v1 at .* by operator:ana: latency;/, "an operator's rollback is not called an alarm");
      const driverPromoted = run(stableV1(), { type: "start-release", candidate: green("v2"), weight: 0, progressive: { strategy: canary, rollbackWindowMinutes: 30 }, ...base(1) }, { type: "promote", rollbackWindowMinutes: 30, ...base(9) });
      assert.deepEqual(plan(planRelease(desired({ strategy: canary }), driverPromoted, at(10), BY)), { held: false, scaleDownPrevious: false, keepPreviousWarm: undefined, weights: { blue: 0, green: 100 }, events: [], warnings: 1 });
      // Without a strategy, config is the truth: the old stable is adopted again.
      assert.deepEqual(plan(planRelease(desired(), driverPromoted, at(10), BY)), { held: false, scaleDownPrevious: false, keepPreviousWarm: undefined, weights: { blue: 80, green: 20 }, events: ["adopt", "start-release"], warnings: 0 });
    });

    it("follows the driver only for a progressive release config still describes; a hand-set or strategy-less one gets config's weight", () => {
      const driven = run(stableV1(), { type: "start-release", candidate: green("v2"), weight: 0, progressive: { strategy: canary, rollbackWindowMinutes: 30 }, ...base(1) }, { type: "advance-step", stepIndex: 0, weight: 10, ...base(2) });
      assert.deepEqual(plan(planRelease(desired({ strategy: canary, weight: 50 }), driven, at(3), BY)), { held: false, scaleDownPrevious: false, keepPreviousWarm: undefined, weights: { blue: 90, green: 10 }, events: [], warnings: 0 });
      assert.deepEqual(plan(planRelease(desired({ weight: 50 }), driven, at(3), BY)), { held: false, scaleDownPrevious: false, keepPreviousWarm: false, weights: { blue: 50, green: 50 }, events: ["shift-weight"], warnings: 0 });
      const byHand = run(driven, { type: "shift-weight", weight: 30, ...base(3) });
      assert.deepEqual(plan(planRelease(desired({ strategy: canary, weight: 50 }), byHand, at(4), BY)).weights, { blue: 50, green: 50 }, "hand-set: no longer the driver's");
    });

    it("adopts a stable whose slot changed even with the same version, and a rolled-back release's other stable without its warning", () => {
      const moved = planRelease(desired({ stable: green("v1"), candidate: null }), stableV1(), at(2), BY);
      assert.deepEqual(plan(moved), { held: false, scaleDownPrevious: false, keepPreviousWarm: undefined, weights: { blue: 0, green: 100 }, events: ["adopt"], warnings: 0 });
      const other = planRelease(desired({ stable: blue("v1.1"), candidate: null }), rolledBack(), at(3), BY);
      assert.deepEqual(plan(other), { held: false, scaleDownPrevious: false, keepPreviousWarm: undefined, weights: { blue: 100, green: 0 }, events: ["adopt"], warnings: 0 });
    });

    it("keeps a promoted-away version the driver would release again only at weight 0; counts the window from the promotion when the record has no end", () => {
      const state = promoted(30);
      const warm = planRelease(desired({ stable: green("v2"), candidate: blue("v1"), weight: 10, strategy: canary }), state, at(20), BY);
      assert.deepEqual(plan(warm), { held: false, scaleDownPrevious: false, keepPreviousWarm: false, weights: { blue: 10, green: 90 }, events: [], warnings: 0 });
      // A promotion without a window recorded: config's window, from the promotion (minute 3), plus 5 minutes' grace.
      const noEnd = promoted(0);
      const d = desired({ stable: green("v2"), candidate: blue("v1"), weight: 0, rollbackWindowMinutes: 30 });
      assert.deepEqual([planRelease(d, noEnd, at(37.99), BY).scaleDownPrevious, planRelease(d, noEnd, at(38), BY).scaleDownPrevious], [false, true]);
      assert.deepEqual([planRelease(d, noEnd, at(37.99), BY).keepPreviousWarm, planRelease(d, noEnd, at(38), BY).keepPreviousWarm], [true, false]);
    });

    it("plans a retired slot at full size when config makes its version stable again or releases into it; refuses a new live version in place", () => {
      const state = run(promoted(30), { type: "retire-previous", ...base(40) });
      const back = planRelease(desired({ stable: blue("v1"), candidate: null, weight: 0 }), state, at(41), BY);
      assert.deepEqual([back.retired, back.events.map((e) => e.type), back.weights], [{ slot: "blue", at: at(40), keep: false }, ["adopt"], { blue: 100, green: 0 }]);
      // A new version in place on the live slot while the retired one is there to take it: refused (issue 34).
      assert.throws(() => planRelease(desired({ stable: green("v2.1"), candidate: blue("v1"), weight: 0 }), state, at(41), BY), {
        name: "LiveSlotConflictError",
        message: "service payments: config changes green, the live slot (100% of traffic), from v2 to v2.1 in place: that rolls v2.1 out under production traffic with no canary and leaves nothing to roll back to. Nothing was changed. Keep green at v2 and put v2.1 into blue (the candidate slot) to release it there",
      });
      // Released into the retired slot instead: it rolls out there first.
      const intoRetired = planRelease(desired({ stable: green("v2"), candidate: blue("v2.1"), weight: 0, strategy: canary }), state, at(41), BY);
      assert.deepEqual([intoRetired.retired, intoRetired.events.map((e) => e.type), intoRetired.sizes], [{ slot: "blue", at: at(40), keep: false }, ["start-release"], { blue: "configured", green: "configured" }]);
    });

    it("names unknown parts of a rollback record it lacks", () => {
      const bare = { ...rolledBack(), lastRollback: null };
      assert.deepEqual(planRelease(desired(), bare, at(5), BY).warnings, ['service payments: candidate v2 was rolled back at ? by ?: ?; change the candidate image or set services.payments.acknowledgeRollback to "v2"']);
    });
  });
});
