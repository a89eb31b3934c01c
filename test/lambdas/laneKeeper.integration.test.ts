/**
 * The release driver keeps legacy lanes (issue 37, 5 and 7) against moto: a scheduled brownout is
 * recorded, then the lane's rule answers 410 with the link, the lane's rollback alarm is not acted
 * on meanwhile, and after the window the rule forwards again; once a day the lane's requests of
 * yesterday (CloudWatch metric data put by the test) are recorded in the service's history, once,
 * marked when a brownout touched the day, and a silent ALB is not taken for a quiet lane.
 */
import { strict as assert } from "node:assert";
import { PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DescribeRulesCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { loadBalancerDimension, targetGroupDimension } from "../../core/alarms";
import { lastDays } from "../../core/legacyRetirement";
import { listenerOfRule } from "../../lambdas/commons/traffic";
import { Outcome } from "../../lambdas/commons/rollbackHandler";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { useMoto } from "../helpers/moto";
import { FUNCTION_ARN, PREFIX, addLane, createWorld, handlerDeps, putBareAlarm, worldDriver, type World } from "../helpers/rollbackWorld";

const OLD = `registry.example.com/payments@sha256:${"a".repeat(64)}`;
const FIX = `registry.example.com/payments@sha256:${"b".repeat(64)}`;
const MESSAGE = "410 Gone (brownout): payments v1.9.4 is deprecated and stops on 2027-03-01; move to the current version: https://docs.example.com/payments/v1-sunset";

describe("lambdas/releaseDriver: keeps legacy lanes, brownouts and daily evidence (issue 37, 5 and 7; moto)", function () {
  this.timeout(60_000);
  const suite = useMoto();

  const actions = async (world: World, ruleArn: string) => (await world.clients.elb.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }))).Rules?.[0]?.Actions ?? [];

  it("answers 410 with the link inside a brownout window, recorded first, ignores the lane's alarm meanwhile, then forwards again", async () => {
    // Prepare: a lane under a hotfix (so its alarm would roll it back), with a brownout from 10:00 to 10:30.
    const world = await createWorld(suite.moto.endpoint, ["payments"]);
    const windows = [{ start: "2026-12-07T10:00:00.000Z", end: "2026-12-07T10:30:00.000Z" }];
    const { lane, laneTg, prevTg } = await addLane(world, { image: FIX, rollbackImage: OLD, brownouts: { windows, message: MESSAGE } });
    let nowMs = Date.parse("2026-12-07T09:59:00.000Z");
    const driver = worldDriver(world, suite.moto.endpoint, { lanes: ["payments"], now: () => nowMs, notify: { sns: world.clients.sns, topicArn: world.topicArn, stack: "test", steps: false } });
    const tick = () => driver.tick({ scheduledAt: new Date(nowMs).toISOString() });
    // Before the window: nothing happens to the lane (yesterday's evidence aside).
    const before = (await tick()).filter((r) => r.decision === "lane");
    assert.ok(before.every((r) => !/brownout/.test(r.reason)), JSON.stringify(before));
    assert.equal((await actions(world, lane.ruleArn))[0]?.Type, "forward");
    // Act: inside the window.
    nowMs = Date.parse("2026-12-07T10:01:00.000Z");
    const during = (await tick()).filter((r) => r.decision === "lane");
    // Assess
    assert.deepEqual(during.map((r) => r.reason), ["legacy lane legacy: brownout until 2026-12-07T10:30:00.000Z; rule answers 410"]);
    const fixed = (await actions(world, lane.ruleArn))[0];
    assert.equal(fixed?.Type, "fixed-response");
    assert.equal(fixed?.FixedResponseConfig?.StatusCode, "410");
    assert.equal(fixed?.FixedResponseConfig?.MessageBody, MESSAGE);
    const s = await world.store.get("payments");
    assert.deepEqual(s?.lanes?.legacy.brownout, { since: "2026-12-07T10:01:00.000Z", until: "2026-12-07T10:30:00.000Z" });
    assert.deepEqual((await world.notifications()).map((m) => m.subject), ["remedy test: payments legacy lane v1.9.4 brownout until 2026-12-07T10:30:00.000Z"]);
    // The next tick inside the window changes nothing.
    nowMs = Date.parse("2026-12-07T10:02:00.000Z");
    assert.deepEqual((await tick()).filter((r) => r.decision === "lane"), []);
    // The lane's alarm during the brownout: no rollback (its callers get 410 by design).
    await putBareAlarm(world.clients.cw, `${PREFIX}/payments/legacy/error-rate`, [FUNCTION_ARN]);
    const alarm = await world.setAlarm(`${PREFIX}/payments/legacy/error-rate`, "ALARM");
    const r = await handlerDeps(suite.moto.endpoint, world.topicArn, { now: () => nowMs }).handler(alarmActionEvent(alarm));
    assert.equal(r.results[0].outcome, Outcome.Ignored);
    assert.match(r.results[0].reason, /is browned out until 2026-12-07T10:30:00\.000Z: its callers get 410 by design/);
    // After the window: recorded over, then forwarding again as the record says.
    nowMs = Date.parse("2026-12-07T10:31:00.000Z");
    const after = (await tick()).filter((r) => r.decision === "lane");
    assert.deepEqual(after.map((r) => r.reason), ["legacy lane legacy: brownout over; rule forwards again"]);
    assert.deepEqual((await actions(world, lane.ruleArn))[0]?.ForwardConfig?.TargetGroups?.map((g) => [g.TargetGroupArn, g.Weight]), [[laneTg, 100], [prevTg, 0]]);
    assert.equal((await world.store.get("payments"))?.lanes?.legacy.brownout, undefined);
  });

  it("records yesterday's requests once a day, marking a brownout day, and never takes a silent ALB for a quiet lane", async () => {
    // Prepare: yesterday the lane had 7 requests, the main groups 900.
    const world = await createWorld(suite.moto.endpoint, ["payments"]);
    const { lane } = await addLane(world, { image: OLD });
    const nowMs = Date.now();
    const [yesterday] = lastDays(nowMs, 1);
    const lb = loadBalancerDimension(listenerOfRule(lane.ruleArn) as string);
    const put = (tg: string, n: number) =>
      world.clients.cw.send(new PutMetricDataCommand({ Namespace: "AWS/ApplicationELB", MetricData: [{ MetricName: "RequestCount", Timestamp: new Date(`${yesterday}T12:00:00Z`), Value: n, Unit: "Count", Dimensions: [{ Name: "TargetGroup", Value: targetGroupDimension(tg) }, { Name: "LoadBalancer", Value: lb }] }] }));
    await put(lane.targetGroupArn, 7);
    await put(world.services.payments.routing.targetGroupArns.blue, 900);
    const driver = worldDriver(world, suite.moto.endpoint, { lanes: ["payments"], now: () => nowMs });
    // Act
    const first = (await driver.tick({})).filter((r) => r.decision === "lane");
    const second = (await driver.tick({})).filter((r) => r.decision === "lane");
    // Assess
    assert.deepEqual(first.map((r) => r.reason), [`legacy lane legacy: evidence ${yesterday}: 7 request(s)`]);
    assert.deepEqual(second, [], "once a day");
    assert.deepEqual(await world.store.laneEvidence("payments", "v1.9.4"), [{ day: yesterday, laneRequests: 7, mainRequests: 900 }]);
  });

  it("records a day with no datapoints anywhere as unknown, and a brownout day as such", async () => {
    const world = await createWorld(suite.moto.endpoint, ["payments"]);
    const nowMs = Date.now();
    const [yesterday] = lastDays(nowMs, 1);
    await addLane(world, { image: OLD, brownouts: { windows: [{ start: `${yesterday}T23:30:00.000Z`, end: new Date(Date.parse(`${yesterday}T23:30:00.000Z`) + 3_600_000).toISOString() }], message: MESSAGE } });
    const driver = worldDriver(world, suite.moto.endpoint, { lanes: ["payments"], now: () => nowMs });
    const kept = (await driver.tick({})).filter((r) => r.decision === "lane");
    assert.deepEqual(kept.map((r) => r.reason), [`legacy lane legacy: evidence ${yesterday}: no data (brownout day)`]);
    assert.deepEqual(await world.store.laneEvidence("payments", "v1.9.4"), [{ day: yesterday, laneRequests: null, mainRequests: 0, brownout: true }]);
  });

  it("at the sunset, retires a quiet lane (410 with the link, the decision recorded as remedy retire's) or tells why not and keeps it serving (issue 37, 6 and 7)", async () => {
    const nowMs = Date.parse("2026-12-07T00:05:00.000Z");
    const GONE = "410 Gone: payments v1.9.4 was retired on 2026-12-07; use the current version: https://docs.example.com/payments/v1-sunset";
    for (const activeClients of [[], ["ios 2.0"]]) {
      await suite.moto.reset();
      const world = await createWorld(suite.moto.endpoint, ["payments"]);
      const { lane } = await addLane(world, { image: OLD, sunset: { at: "2026-12-07", activeClients, message: GONE } });
      // Fourteen quiet days recorded by the driver's earlier ticks.
      for (const day of lastDays(nowMs, 14)) await world.store.recordLaneEvidence("payments", "v1.9.4", { day, laneRequests: 0, mainRequests: 800 }, "2026-12-07T00:00:00.000Z");
      const driver = worldDriver(world, suite.moto.endpoint, { lanes: ["payments"], now: () => nowMs, notify: { sns: world.clients.sns, topicArn: world.topicArn, stack: "test", steps: false } });
      const kept = (await driver.tick({ scheduledAt: new Date(nowMs).toISOString() })).filter((r) => r.decision === "lane");
      const decision = await world.store.latestRetirementDecision("payments", "v1.9.4");
      const told = (await world.notifications()).map((m) => m.subject);
      if (activeClients.length === 0) {
        assert.deepEqual(kept.map((r) => r.reason), ["legacy lane legacy: sunset 2026-12-07: retirement allowed; rule answers 410 (retired at its sunset)"]);
        const a = (await actions(world, lane.ruleArn))[0];
        assert.deepEqual([a?.Type, a?.FixedResponseConfig?.StatusCode, a?.FixedResponseConfig?.MessageBody], ["fixed-response", "410", GONE]);
        assert.deepEqual(decision, { at: "2026-12-07T00:05:00.000Z", allowed: true }, "what lets pulumi up remove it");
        assert.deepEqual(told, ["remedy test: payments legacy lane v1.9.4 retired at its sunset: callers get 410"]);
      } else {
        assert.deepEqual(kept.map((r) => r.reason), ["legacy lane legacy: sunset 2026-12-07: retirement refused (1 blocker(s))"]);
        assert.equal((await actions(world, lane.ruleArn))[0]?.Type, "forward", "keeps serving");
        assert.equal(decision?.allowed, false);
        assert.deepEqual(told, ["remedy test: payments legacy lane v1.9.4 reached its sunset, NOT retired"]);
        assert.match((await world.store.get("payments"))?.lanes?.legacy.sunsetDecision?.blockers[0] ?? "", /^active client versions still served by v1\.9\.4: ios 2\.0/);
      }
      // Once per sunset.
      assert.deepEqual((await driver.tick({ scheduledAt: new Date(nowMs + 60_000).toISOString() })).filter((r) => r.decision === "lane"), []);
    }
  });
});
