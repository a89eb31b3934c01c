/**
 * A legacy lane's rollback (issue 37, 2) against moto: during a lane hotfix, the lane's alarm
 * sends its callers back to the image it ran before, in one ModifyRule on the lane's rule,
 * recorded once in release state and history and told on the topic; a page-only lane alarm, a
 * lane with nothing to go back to, and a record naming another target group are not acted on;
 * and the next `pulumi up` with a new fix moves the lane's rule back although Pulumi's inputs
 * did not change (stacks/releases.ts recordRelease).
 */
import { strict as assert } from "node:assert";
import { DescribeRulesCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { QueryCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { shortImage } from "../../core/laneState";
import { Outcome } from "../../lambdas/commons/rollbackHandler";
import { recordRelease } from "../../stacks/releases";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { useMoto } from "../helpers/moto";
import { FUNCTION_ARN, PREFIX, TABLE, addLane, createWorld, handlerDeps, putBareAlarm, type World } from "../helpers/rollbackWorld";

const OLD = `registry.example.com/payments@sha256:${"a".repeat(64)}`;
const FIX = `registry.example.com/payments@sha256:${"b".repeat(64)}`;
const FIX2 = `registry.example.com/payments@sha256:${"c".repeat(64)}`;
const ALARM = `${PREFIX}/payments/legacy/error-rate`;

describe("lambdas/rollback: a legacy lane goes back to its previous image (issue 37, 2; moto)", function () {
  this.timeout(60_000);
  const suite = useMoto();

  /** The lane as pulumi up deploys it during a hotfix, with its error-rate alarm. */
  async function laneWorld(opts: { rollback?: boolean; alarmActions?: string[] } = {}) {
    const world = await createWorld(suite.moto.endpoint, ["payments"]);
    const { lane, laneTg, prevTg } = await addLane(world, { image: FIX, ...(opts.rollback === false ? {} : { rollbackImage: OLD }) });
    await putBareAlarm(world.clients.cw, ALARM, opts.alarmActions ?? [FUNCTION_ARN, world.topicArn]);
    return { world, lane, laneTg, prevTg };
  }

  const forwards = async (world: World, ruleArn: string) =>
    ((await world.clients.elb.send(new DescribeRulesCommand({ RuleArns: [ruleArn] }))).Rules?.[0]?.Actions?.[0]?.ForwardConfig?.TargetGroups ?? []).map((g) => [g.TargetGroupArn, g.Weight]);

  it("flips the lane's rule to the previous image, records it once with history, and tells the topic", async () => {
    // Prepare
    const { world, lane, laneTg, prevTg } = await laneWorld();
    const mainBefore = await world.traffic.currentWeights(world.services.payments.routing);
    const alarm = await world.setAlarm(ALARM, "ALARM", "Threshold Crossed: 5xx rate 12%");
    const { handler } = handlerDeps(suite.moto.endpoint, world.topicArn);
    // Act
    const result = await handler(alarmActionEvent(alarm));
    // Assess
    assert.equal(result.results[0].outcome, Outcome.RolledBack, JSON.stringify(result));
    assert.deepEqual(await forwards(world, lane.ruleArn), [[laneTg, 0], [prevTg, 100]]);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), mainBefore, "the service's own slots do not move");
    const s = await world.store.get("payments");
    assert.equal(s?.lanes?.legacy.rolledBack?.image, FIX);
    assert.equal(s?.lanes?.legacy.rolledBack?.toImage, OLD);
    assert.equal(s?.lanes?.legacy.rolledBack?.by, ALARM);
    assert.equal(s?.lanes?.legacy.rolledBack?.reason, "Threshold Crossed: 5xx rate 12%", "CloudWatch's reason, not the event's");
    const history = (await world.clients.ddb.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: "pk = :p AND begins_with(sk, :h)", ExpressionAttributeValues: { ":p": { S: "payments" }, ":h": { S: "history#" } } }))).Items?.map((i) => unmarshall(i)) ?? [];
    assert.deepEqual(history.filter((h) => h.action === "lane-roll-back").map((h) => h.summary), [`legacy lane legacy v1.9.4 rolled back: ${shortImage(FIX)} -> ${shortImage(OLD)}: Threshold Crossed: 5xx rate 12%`]);
    const told = await world.notifications();
    assert.deepEqual(told.map((m) => m.subject), [`remedy ${PREFIX}: payments legacy lane v1.9.4 ROLLED BACK to its previous image`]);
    assert.match(told[0].message, new RegExp(`went back from ${FIX.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} to .*, which it ran before its hotfix; by ${ALARM}`));
    // A second delivery of the same alarm changes nothing.
    const again = await handler(alarmActionEvent(alarm));
    assert.equal(again.results[0].outcome, Outcome.Duplicate, JSON.stringify(again));
    assert.equal((await world.store.get("payments"))?.revision, s?.revision);
  });

  it("the next pulumi up with a new fix moves the lane's rule back to the lane, though Pulumi's inputs are what they were", async () => {
    // Prepare: rolled back, as above.
    const { world, lane, laneTg, prevTg } = await laneWorld();
    const alarm = await world.setAlarm(ALARM, "ALARM");
    await handlerDeps(suite.moto.endpoint, world.topicArn).handler(alarmActionEvent(alarm));
    assert.deepEqual(await forwards(world, lane.ruleArn), [[laneTg, 0], [prevTg, 100]]);
    const s = await world.store.get("payments");
    assert.ok(s);
    // Act: an up that still names the rolled-back image holds it; one with a new fix clears it.
    const held = await recordRelease(world.store, world.traffic, "payments", s.routing, [{ type: "record-lanes", lanes: { legacy: lane }, at: new Date().toISOString(), by: "pulumi:test" }], s.weights);
    assert.deepEqual(await forwards(world, lane.ruleArn), [[laneTg, 0], [prevTg, 100]], "held on the previous image");
    assert.ok(held.state.lanes?.legacy.rolledBack);
    const fixed = await recordRelease(world.store, world.traffic, "payments", s.routing, [{ type: "record-lanes", lanes: { legacy: { ...lane, image: FIX2 } }, at: new Date().toISOString(), by: "pulumi:test" }], s.weights);
    // Assess
    assert.equal(fixed.state.lanes?.legacy.rolledBack, undefined);
    assert.deepEqual(await forwards(world, lane.ruleArn), [[laneTg, 100], [prevTg, 0]]);
    assert.deepEqual(fixed.warnings, [`service payments: legacy lane v1.9.4's rule now forwards as release state says (${FIX2})`]);
  });

  it("does not act on a page-only lane alarm, a lane with nothing to go back to, or a record naming another target group", async () => {
    // A page-only alarm (its actions do not name the function).
    {
      const { world, lane, laneTg, prevTg } = await laneWorld({ alarmActions: [] });
      const alarm = await world.setAlarm(ALARM, "ALARM");
      const r = await handlerDeps(suite.moto.endpoint, world.topicArn).handler(alarmActionEvent(alarm));
      assert.equal(r.results[0].outcome, Outcome.Ignored);
      assert.match(r.results[0].reason, /does not name this function among its alarm actions/);
      assert.deepEqual(await forwards(world, lane.ruleArn), [[laneTg, 100], [prevTg, 0]]);
    }
    // No hotfix: nothing to go back to.
    await suite.moto.reset();
    {
      const { world, lane, laneTg } = await laneWorld({ rollback: false });
      const alarm = await world.setAlarm(ALARM, "ALARM");
      const r = await handlerDeps(suite.moto.endpoint, world.topicArn).handler(alarmActionEvent(alarm));
      assert.equal(r.results[0].outcome, Outcome.Ignored);
      assert.equal(r.results[0].reason, "payments's legacy lane v1.9.4 has no previous image to go back to (no lane hotfix in its rollback window); its alarms page");
      assert.deepEqual(await forwards(world, lane.ruleArn), [[laneTg, 100]]);
    }
    // A record whose rollback target is the service's blue target group: escalated, not moved.
    await suite.moto.reset();
    {
      const { world, lane, laneTg, prevTg } = await laneWorld();
      const s = await world.store.get("payments");
      assert.ok(s?.lanes);
      const forged = { ...s, revision: s.revision + 1, lanes: { legacy: { ...s.lanes.legacy, rollback: { image: OLD, targetGroupArn: s.routing.targetGroupArns.blue } } } };
      await world.store.commit(s.revision, forged, { service: "payments", revision: forged.revision, at: new Date().toISOString(), by: "someone", action: "record-lanes", releaseId: null, summary: "forged", weights: s.weights });
      const alarm = await world.setAlarm(ALARM, "ALARM");
      const r = await handlerDeps(suite.moto.endpoint, world.topicArn).handler(alarmActionEvent(alarm));
      assert.equal(r.results[0].outcome, Outcome.Escalated);
      assert.match(r.results[0].reason, /names .*targetgroup\/payments-blue-.*, not the target group pulumi up made for payments-legacy-prev; not acting on it/);
      assert.deepEqual(await forwards(world, lane.ruleArn), [[laneTg, 100], [prevTg, 0]]);
    }
    // A record that swaps the lane's and the previous image's groups: escalated, not moved.
    await suite.moto.reset();
    {
      const { world, lane, laneTg, prevTg } = await laneWorld();
      const s = await world.store.get("payments");
      assert.ok(s?.lanes && prevTg);
      const swapped = { ...s, revision: s.revision + 1, lanes: { legacy: { ...s.lanes.legacy, targetGroupArn: prevTg, rollback: { image: OLD, targetGroupArn: laneTg } } } };
      await world.store.commit(s.revision, swapped, { service: "payments", revision: swapped.revision, at: new Date().toISOString(), by: "someone", action: "record-lanes", releaseId: null, summary: "forged", weights: s.weights });
      const alarm = await world.setAlarm(ALARM, "ALARM");
      const r = await handlerDeps(suite.moto.endpoint, world.topicArn).handler(alarmActionEvent(alarm));
      assert.equal(r.results[0].outcome, Outcome.Escalated);
      assert.match(r.results[0].reason, /not the target group pulumi up made for payments-legacy; not acting on it/);
      assert.deepEqual(await forwards(world, lane.ruleArn), [[laneTg, 100], [prevTg, 0]]);
    }
  });
});
