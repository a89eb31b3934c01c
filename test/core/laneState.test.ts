/**
 * A legacy lane in release state (issue 37, 2 and 7): the program records what it deployed, an
 * alarm during a lane hotfix sends the lane's callers back to the previous image once, that image
 * is held while config names the bad one, and a brownout is neither undone by pulumi up nor
 * mistaken for a failure. Every transition through applyEvent, with its recorded summary.
 */
import { strict as assert } from "node:assert";
import { laneRollbackTargets, normaliseLegacyLanes } from "../../core/config/legacyLane";
import { type LaneRouting, type LaneState, brownOutLane, laneAnswersGone, laneForward, recordLanes, rollBackLane, shortImage, sunsetLane } from "../../core/laneState";
import { type ReleaseState, applyEvent, initialState, parseReleaseState } from "../../core/releaseState";
import { lane as laneInput, LANE_DIGEST } from "../helpers/fixtures";

const ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012";
const TG = `${ARN}:targetgroup/payments-legacy-0a1b2c3d/1111111111111111`;
const PREV_TG = `${ARN}:targetgroup/payments-legacy-prev-0a1b2c3d/2222222222222222`;
const RULE = `${ARN}:listener-rule/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2/3333333333333333`;
const OLD = `registry.example.com/payments@sha256:${"a".repeat(64)}`;
const FIX = `registry.example.com/payments@sha256:${"b".repeat(64)}`;
const FIX2 = `registry.example.com/payments@sha256:${"c".repeat(64)}`;
const AT = "2026-12-07T10:00:00.000Z";
/** As history shows them. */
const [S_OLD, S_FIX, S_FIX2] = [OLD, FIX, FIX2].map(shortImage);

const plain: LaneRouting = { version: "v1.9.4", image: OLD, ruleArn: RULE, targetGroupArn: TG };
const hotfix: LaneRouting = { ...plain, image: FIX, rollback: { image: OLD, targetGroupArn: PREV_TG } };
const rolledBack: LaneState = { ...hotfix, rolledBack: { at: AT, by: "remedy-prod/payments/legacy/error-rate", reason: "5xx rate 12%", image: FIX, toImage: OLD } };

function state(lanes?: Record<string, LaneState>): ReleaseState {
  const s = initialState("payments", { slot: "blue", version: "v2.3.6" }, { ruleArn: RULE, targetGroupArns: { blue: TG, green: TG }, stickinessSeconds: 0 }, "2026-12-07T09:00:00.000Z");
  return lanes ? { ...s, lanes } : s;
}
const ev = { at: AT, by: "pulumi:prod" };

describe("core/laneState: a legacy lane in release state (issue 37, 2 and 7)", () => {
  describe("recordLanes (what pulumi up deployed)", () => {
    it("records a new lane, a hotfix with the previous image kept, its settling, and a retirement", () => {
      const first = recordLanes("payments", undefined, { legacy: plain });
      assert.deepEqual(first, { kind: "applied", lanes: { legacy: plain }, summary: `legacy lane legacy v1.9.4 = ${S_OLD}` });
      const fixed = recordLanes("payments", { legacy: plain }, { legacy: hotfix });
      assert.deepEqual(fixed, { kind: "applied", lanes: { legacy: hotfix }, summary: `legacy lane legacy v1.9.4: HOTFIX ${S_OLD} -> ${S_FIX} (${S_OLD} kept warm to go back to)` });
      const settled = recordLanes("payments", { legacy: hotfix }, { legacy: { ...plain, image: FIX } });
      assert.equal(settled.kind, "applied");
      assert.match((settled as { summary: string }).summary, new RegExp(`hotfix settled, ${S_OLD} no longer kept`));
      assert.deepEqual(recordLanes("payments", { legacy: plain }, {}), { kind: "applied", lanes: {}, summary: "legacy lane legacy v1.9.4 retired" });
      assert.deepEqual(recordLanes("payments", { legacy: plain }, { legacy: plain }), { kind: "unchanged", reason: "lanes as recorded" });
      assert.deepEqual(recordLanes("payments", undefined, {}), { kind: "unchanged", reason: "lanes as recorded" });
    });

    it("holds a rolled-back image while config names it, and refuses an update that would stop the image it went back to", () => {
      assert.deepEqual(recordLanes("payments", { legacy: rolledBack }, { legacy: hotfix }), { kind: "unchanged", reason: "lanes as recorded" }, "held: still rolled back");
      const dropped = recordLanes("payments", { legacy: rolledBack }, { legacy: { ...plain, image: FIX } });
      assert.equal(dropped.kind, "refused");
      assert.equal(
        (dropped as { reason: string }).reason,
        `payments's legacy lane v1.9.4 went back from ${FIX} to ${OLD} at ${AT} (5xx rate 12%), and this update would not keep ${OLD} running; set legacy[].image to ${OLD} to accept the rollback, or to a fixed image with legacy[].hotfix { reason }`,
      );
    });

    it("clears the rollback when a person accepts it or ships another fix", () => {
      const accepted = recordLanes("payments", { legacy: rolledBack }, { legacy: plain });
      assert.deepEqual(accepted, { kind: "applied", lanes: { legacy: plain }, summary: `legacy lane legacy v1.9.4: rollback to ${S_OLD} accepted` });
      const again = { ...hotfix, image: FIX2 };
      const next = recordLanes("payments", { legacy: rolledBack }, { legacy: again });
      assert.deepEqual(next, { kind: "applied", lanes: { legacy: again }, summary: `legacy lane legacy v1.9.4: after its rollback, HOTFIX ${S_FIX2}` });
    });

    it("keeps a brownout in progress (the release driver's), and treats a new version as a new lane", () => {
      const brown: LaneState = { ...plain, brownout: { since: AT, until: "2026-12-07T11:00:00.000Z" } };
      assert.deepEqual(recordLanes("payments", { legacy: brown }, { legacy: plain }), { kind: "unchanged", reason: "lanes as recorded" });
      const other = { ...plain, version: "v1.9.5" };
      assert.deepEqual(recordLanes("payments", { legacy: rolledBack }, { legacy: other }), { kind: "applied", lanes: { legacy: other }, summary: `legacy lane legacy v1.9.5 = ${S_OLD}` });
    });
  });

  describe("rollBackLane (an alarm during a lane hotfix)", () => {
    const e = { lane: "legacy", at: AT, by: "remedy-prod/payments/legacy/error-rate", reason: "5xx rate 12%" };
    it("sends the callers back once, to the image the lane ran before", () => {
      const t = rollBackLane("payments", { legacy: hotfix }, e);
      assert.deepEqual(t, { kind: "applied", lanes: { legacy: rolledBack }, summary: `legacy lane legacy v1.9.4 rolled back: ${S_FIX} -> ${S_OLD}: 5xx rate 12%` });
      assert.deepEqual(rollBackLane("payments", { legacy: rolledBack }, e), { kind: "unchanged", reason: `payments's legacy lane v1.9.4 already went back to ${OLD} at ${AT}` });
    });
    it("does nothing without a lane, without a previous image, or during a brownout", () => {
      assert.deepEqual(rollBackLane("payments", undefined, e), { kind: "unchanged", reason: "payments has no legacy lane legacy" });
      assert.deepEqual(rollBackLane("payments", { legacy: plain }, e), { kind: "unchanged", reason: "payments's legacy lane v1.9.4 has no previous image to go back to (no lane hotfix in its rollback window); its alarms page" });
      const brown = { ...hotfix, brownout: { since: "2026-12-07T09:30:00.000Z", until: "2026-12-07T10:30:00.000Z" } };
      assert.deepEqual(rollBackLane("payments", { legacy: brown }, e), { kind: "unchanged", reason: `payments's legacy lane v1.9.4 is browned out until 2026-12-07T10:30:00.000Z: its callers get 410 by design, not a failure of ${FIX}` });
      const over = { ...brown, brownout: { since: "2026-12-07T09:00:00.000Z", until: "2026-12-07T09:30:00.000Z" } };
      assert.equal(rollBackLane("payments", { legacy: over }, e).kind, "applied", "a brownout that is over does not stop it");
    });
  });

  describe("brownOutLane (the release driver's schedule)", () => {
    it("starts, repeats as a no-op, ends, and refuses an end before its start", () => {
      const until = "2026-12-07T11:00:00.000Z";
      const on = brownOutLane("payments", { legacy: plain }, { lane: "legacy", at: AT, until });
      assert.deepEqual(on, { kind: "applied", lanes: { legacy: { ...plain, brownout: { since: AT, until } } }, summary: `legacy lane legacy v1.9.4: BROWNOUT until ${until}, callers get 410` });
      const lanes = (on as { lanes: Record<string, LaneState> }).lanes;
      assert.equal(brownOutLane("payments", lanes, { lane: "legacy", at: AT, until }).kind, "unchanged");
      assert.deepEqual(brownOutLane("payments", lanes, { lane: "legacy", at: until, until: null }), { kind: "applied", lanes: { legacy: plain }, summary: "legacy lane legacy v1.9.4: brownout over, callers served again" });
      assert.equal(brownOutLane("payments", { legacy: plain }, { lane: "legacy", at: AT, until: null }).kind, "unchanged");
      assert.deepEqual(brownOutLane("payments", { legacy: plain }, { lane: "legacy", at: AT, until: AT }), { kind: "refused", reason: `a brownout must end after it starts (${AT} is not after ${AT})` });
      assert.equal(brownOutLane("payments", {}, { lane: "legacy", at: AT, until }).kind, "unchanged");
    });
  });

  describe("sunsetLane (the release driver's retirement step at the sunset)", () => {
    const withSunset: LaneState = { ...plain, sunset: { at: "2026-12-07", activeClients: [], message: "410 Gone: retired" } };
    const e = { lane: "legacy", at: AT, allowed: true, blockers: [] };
    it("records the gate's decision once per sunset, never before it", () => {
      const t = sunsetLane("payments", { legacy: withSunset }, e);
      assert.deepEqual(t, { kind: "applied", lanes: { legacy: { ...withSunset, sunsetDecision: { at: AT, allowed: true, blockers: [] } } }, summary: "legacy lane legacy v1.9.4: SUNSET 2026-12-07, retirement allowed: callers get 410 until pulumi up removes it" });
      const decided = (t as { lanes: Record<string, LaneState> }).lanes;
      assert.equal(sunsetLane("payments", decided, e).kind, "unchanged", "once");
      assert.deepEqual(sunsetLane("payments", { legacy: withSunset }, { ...e, at: "2026-12-06T23:59:00.000Z" }), { kind: "refused", reason: "payments's legacy lane v1.9.4 sunsets on 2026-12-07, not before" });
      assert.equal(sunsetLane("payments", { legacy: plain }, e).kind, "unchanged", "no sunset recorded");
      const refused = sunsetLane("payments", { legacy: withSunset }, { ...e, allowed: false, blockers: ["active client versions still served by v1.9.4: ios 2.0"] });
      assert.equal((refused as { summary: string }).summary, "legacy lane legacy v1.9.4: SUNSET 2026-12-07, retirement refused, still serving: active client versions still served by v1.9.4: ios 2.0");
    });
    it("answers 410 after an allowed step, stops the lane's rollbacks, and asks again after an extension", () => {
      const retired: LaneState = { ...withSunset, rollback: hotfix.rollback, image: FIX, sunsetDecision: { at: AT, allowed: true, blockers: [] } };
      assert.equal(laneAnswersGone(retired, Date.parse(AT)), true);
      assert.equal(laneAnswersGone({ ...retired, sunsetDecision: { at: AT, allowed: false, blockers: ["x"] } }, Date.parse(AT)), false, "a refused step keeps it serving");
      assert.match((rollBackLane("payments", { legacy: retired }, { lane: "legacy", at: AT, by: "alarm", reason: "5xx" }) as { reason: string }).reason, /is past its sunset and retired/);
      const { sunsetDecision: _drop, ...routing } = retired;
      void _drop;
      assert.equal((recordLanes("payments", { legacy: retired }, { legacy: routing }) as { kind: string }).kind, "unchanged", "the same sunset: the decision stands");
      const extended = recordLanes("payments", { legacy: retired }, { legacy: { ...routing, sunset: { ...withSunset.sunset!, at: "2027-01-31" } } });
      assert.equal((extended as { lanes: Record<string, LaneState> }).lanes.legacy.sunsetDecision, undefined, "an extension asks the gate again at the new sunset");
    });
  });

  it("shows an image in history by its name and the digest's first 12 hex", () => {
    assert.equal(S_OLD, "payments@sha256:aaaaaaaaaaaa");
    assert.equal(shortImage("registry.example.com/payments:v1.9.4"), "payments:v1.9.4", "a tag as it is");
  });

  it("laneForward: all to the lane, or all to the previous image once rolled back", () => {
    assert.deepEqual(laneForward(plain), [{ targetGroupArn: TG, weight: 100 }]);
    assert.deepEqual(laneForward(hotfix), [{ targetGroupArn: TG, weight: 100 }, { targetGroupArn: PREV_TG, weight: 0 }]);
    assert.deepEqual(laneForward(rolledBack), [{ targetGroupArn: TG, weight: 0 }, { targetGroupArn: PREV_TG, weight: 100 }]);
  });

  it("goes through applyEvent as recorded, history-bearing transitions, and the stored record validates", () => {
    const recorded = applyEvent(state(), { type: "record-lanes", lanes: { legacy: hotfix }, ...ev });
    assert.equal(recorded.kind, "applied");
    if (recorded.kind !== "applied") return;
    assert.equal(recorded.entry.action, "record-lanes");
    assert.equal(recorded.state.revision, 1);
    const back = applyEvent(recorded.state, { type: "lane-roll-back", lane: "legacy", reason: "5xx rate 12%", at: AT, by: "remedy-prod/payments/legacy/error-rate" });
    assert.equal(back.kind, "applied");
    if (back.kind !== "applied") return;
    assert.deepEqual(back.state.weights, recorded.state.weights, "the slots' weights do not move");
    assert.deepEqual(parseReleaseState(JSON.parse(JSON.stringify(back.state)), "payments").lanes, { legacy: rolledBack });
    assert.equal(applyEvent(back.state, { type: "record-lanes", lanes: { legacy: { ...plain, image: FIX } }, ...ev }).kind, "refused");
    assert.equal(applyEvent(back.state, { type: "lane-brownout", lane: "legacy", until: null, ...ev }).kind, "unchanged");
    assert.throws(() => parseReleaseState({ ...JSON.parse(JSON.stringify(back.state)), lanes: { blue: plain } }, "payments"), /lanes/);
    // The brownout schedule and a brownout in progress survive the stored record (the driver reads them).
    const scheduled: LaneState = { ...plain, brownouts: { windows: [{ start: AT, end: "2026-12-07T10:30:00.000Z" }], message: "410 Gone (brownout)" }, brownout: { since: AT, until: "2026-12-07T10:30:00.000Z" } };
    assert.deepEqual(parseReleaseState(JSON.parse(JSON.stringify(state({ legacy: scheduled }))), "payments").lanes, { legacy: scheduled });
  });
});

describe("core/config laneRollbackTargets: the image a lane hotfix can go back to (issue 37, 2)", () => {
  const spec = (over: Record<string, unknown> = {}) => ({ name: "payments", legacy: normaliseLegacyLanes([laneInput(over) as never], 2) });
  const OLD_IMG = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@${LANE_DIGEST}`;
  const NEW_IMG = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"d".repeat(64)}`;
  const NEWER = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"e".repeat(64)}`;
  const deployed = (image: string, rollbackTo?: string) => new Map([["payments", [{ version: "v1.9.4", image, ...(rollbackTo ? { rollbackTo } : {}) }]]]);
  const none = new Map();
  const target = (r: ReturnType<typeof laneRollbackTargets>) => r.services[0].legacy[0].rollbackTo;
  const hot = { image: NEW_IMG, hotfix: { reason: "CVE-2026-1234 in the TLS library" } };

  it("keeps the image the lane ran before while the hotfix stays in config, and none without one", () => {
    assert.equal(target(laneRollbackTargets([spec(hot)], deployed(OLD_IMG), none)), OLD_IMG, "the hotfix update");
    assert.equal(target(laneRollbackTargets([spec(hot)], deployed(NEW_IMG, OLD_IMG), none)), OLD_IMG, "a later update, hotfix still in config");
    assert.equal(target(laneRollbackTargets([spec({ image: NEW_IMG })], deployed(NEW_IMG, OLD_IMG), none)), undefined, "hotfix removed: settled");
    assert.equal(target(laneRollbackTargets([spec()], deployed(OLD_IMG), none)), undefined, "no hotfix");
    assert.equal(target(laneRollbackTargets([spec(hot)], none, none)), undefined, "first deployment: nothing ran before");
  });

  it("holds a rolled-back image on the one it went back to (with a warning), and a new fix goes back there too", () => {
    const recorded = new Map([["payments", { legacy: { version: "v1.9.4", image: NEW_IMG, ruleArn: RULE, targetGroupArn: TG, rollback: { image: OLD_IMG, targetGroupArn: PREV_TG }, rolledBack: { at: AT, by: "alarm", reason: "5xx", image: NEW_IMG, toImage: OLD_IMG } } }]]);
    const held = laneRollbackTargets([spec(hot)], deployed(NEW_IMG, OLD_IMG), recorded);
    assert.equal(target(held), OLD_IMG);
    assert.deepEqual(held.warnings, [`service payments: legacy lane v1.9.4 is held on ${OLD_IMG}: ${NEW_IMG} was rolled back at ${AT} (5xx); set legacy[0].image to ${OLD_IMG} to accept, or to a fixed image with a hotfix { reason }`]);
    assert.equal(target(laneRollbackTargets([spec({ ...hot, image: NEWER })], deployed(NEW_IMG, OLD_IMG), recorded)), OLD_IMG, "the next fix goes back to what serves now, not the rolled-back image");
    assert.equal(target(laneRollbackTargets([spec({ hotfix: hot.hotfix })], deployed(NEW_IMG, OLD_IMG), recorded)), undefined, "accepting: the image it went back to is the lane's own again");
  });
});
