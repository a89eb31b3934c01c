/**
 * Issue 35, 1 (High): the routing check must hold on every record a Lambda moves the rule with,
 * not only the first it read. The reviewed interleaving: a Lambda reads record A (its routing
 * checked), its commit conflicts or it re-reads, and the record it finds then (B) names a foreign
 * target group. On the code before the fix each path below sent a ModifyRule forwarding to that
 * group (100% of prod for the rollback Lambda's restore). Against moto, with every ModifyRule the
 * Lambdas send captured at the ELB client.
 */
import { strict as assert } from "node:assert";
import { ElasticLoadBalancingV2Client, ModifyRuleCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { applyEvent, type ReleaseState } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { Traffic, UncheckedRoutingError } from "../../lambdas/commons/traffic";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { useMoto } from "../helpers/moto";
import { type World, clients, createWorld, handlerDeps, moveRuleByHand, startProgressive, worldDriver } from "../helpers/rollbackWorld";

/** A Traffic whose ELB client logs the target groups of every ModifyRule it sends. */
function spyTraffic(elb: ElasticLoadBalancingV2Client): { traffic: Traffic; modified: string[][] } {
  const modified: string[][] = [];
  const spy = Object.create(elb) as ElasticLoadBalancingV2Client;
  spy.send = ((command: unknown, ...rest: unknown[]) => {
    if (command instanceof ModifyRuleCommand) modified.push((command.input.Actions?.[0]?.ForwardConfig?.TargetGroups ?? []).map((g) => `${g.TargetGroupArn}=${g.Weight}`));
    return (elb.send as (...a: unknown[]) => unknown).call(elb, command, ...rest);
  }) as ElasticLoadBalancingV2Client["send"];
  return { traffic: new Traffic(spy), modified };
}

/** Record B: `s` re-recorded by a table writer with green pointed at a foreign group, at 100%. */
async function forgeRecord(world: World, s: ReleaseState, evil: string): Promise<ReleaseState> {
  const b: ReleaseState = { ...s, revision: s.revision + 1, routing: { ...s.routing, targetGroupArns: { ...s.routing.targetGroupArns, green: evil } }, weights: { blue: 0, green: 100 } };
  await world.store.commit(s.revision, b, { service: s.service, revision: b.revision, at: new Date().toISOString(), by: "attacker", action: "shift-weight", releaseId: s.releaseId, summary: "100%", weights: b.weights });
  return b;
}

describe("lambdas: no rule moves with a re-read record's unchecked routing (issue 35, 1)", function () {
  this.timeout(60_000);
  const suite = useMoto();
  let world: World;
  let evil: string;
  beforeEach(async () => {
    world = await createWorld(suite.moto.endpoint, ["payments"]); // v1 blue, v2 green at 10%
    evil = world.services.payments.routing.targetGroupArns.green.replace(/targetgroup\/[^/]+\//, "targetgroup/attacker-tg/");
  });

  const touchesEvil = (modified: string[][]) => modified.filter((m) => m.some((g) => g.startsWith(`${evil}=`)));

  it("the rollback Lambda: flips with A, loses the commit to B (a new release naming a foreign group at 100%), and does not restore B's weights onto B's groups", async () => {
    // Prepare: the candidate's alarm fires; the handler's first commit finds B written just before it.
    const c = clients(suite.moto.endpoint);
    const { traffic, modified } = spyTraffic(c.elb);
    let raced = false;
    const store = Object.create(world.store) as typeof world.store;
    store.commit = async (...args: Parameters<typeof world.store.commit>) => {
      if (!raced) {
        raced = true;
        const a = await world.store.get("payments");
        if (!a) throw new Error("no state");
        // B: a new release started after the alarm (so the rollback no longer applies to it).
        const started = applyEvent(a, { type: "start-release", candidate: { slot: Slot.Green, version: "v9" }, weight: 0, at: new Date(Date.now() + 60_000).toISOString(), by: "attacker" });
        if (started.kind !== "applied") throw new Error(started.reason);
        await world.store.commit(a.revision, started.state, started.entry);
        await forgeRecord(world, started.state, evil);
      }
      return world.store.commit(...args);
    };
    const h = handlerDeps(suite.moto.endpoint, world.topicArn, { traffic, store });
    const alarm = await world.setAlarm(world.services.payments.alarmNames.green["error-rate"], "ALARM", "Threshold Crossed: 5xx rate 12 >= 5");
    // Act
    const r = await h.handler(alarmActionEvent(alarm));
    // Assess: the flip used A's checked routing; nothing was sent to the foreign group.
    assert.ok(raced, "the interleaving happened");
    assert.ok(modified.length >= 1, "the handler flipped (with A's routing)");
    assert.deepEqual(touchesEvil(modified), [], JSON.stringify(modified));
    assert.doesNotMatch(JSON.stringify((await world.traffic.liveRule(world.services.payments.routing)).targetGroupArns), /attacker-tg/);
    assert.match(JSON.stringify(r), /routing is not the deployed one: release state of payments names target groups .*attacker-tg/);
  });

  it("the release driver's repair: after putting the rule back to A, it does not follow B's routing", async () => {
    // Prepare: a canary at 0% whose rule drifted (someone set 50/50 by hand); B lands right after the repair.
    const T0 = Date.now() - 3_600_000;
    await startProgressive(world, "payments", new Date(T0 - 1000).toISOString());
    await moveRuleByHand(world.clients.elb, world.services.payments.routing, { blue: 50, green: 50 });
    const { traffic, modified } = spyTraffic(world.clients.elb);
    const realSet = traffic.setWeights.bind(traffic);
    let raced = false;
    traffic.setWeights = async (checked, w) => {
      await realSet(checked, w);
      if (!raced) {
        raced = true;
        const a = await world.store.get("payments");
        if (a) await forgeRecord(world, a, evil);
      }
    };
    const d = worldDriver(world, suite.moto.endpoint, { traffic, now: () => T0 });
    // Act
    const [r] = await d.tick();
    // Assess
    assert.ok(raced);
    assert.deepEqual(touchesEvil(modified), [], JSON.stringify(modified));
    assert.equal(r?.decision, "hold");
    assert.match(r?.reason ?? "", /^release changed while the rule was repaired, and the new record was not followed: release state of payments names target groups .*attacker-tg/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 }, "the rule stays at the checked record's weights");
  });

  it("the release driver's step: after stepping with A, it does not follow B's routing", async () => {
    // Prepare: a canary due for its first step (10%); B lands right after the step's move.
    const T0 = Date.now() - 3_600_000;
    await startProgressive(world, "payments", new Date(T0 - 1000).toISOString());
    const { traffic, modified } = spyTraffic(world.clients.elb);
    const realSet = traffic.setWeights.bind(traffic);
    let raced = false;
    traffic.setWeights = async (checked, w) => {
      await realSet(checked, w);
      if (!raced && w.green === 10) {
        raced = true;
        const a = await world.store.get("payments");
        if (a) await forgeRecord(world, a, evil);
      }
    };
    const d = worldDriver(world, suite.moto.endpoint, { traffic, now: () => T0 });
    // Act
    const [r] = await d.tick();
    // Assess
    assert.ok(raced, `the step happened: ${JSON.stringify(r)}`);
    assert.deepEqual(touchesEvil(modified), [], JSON.stringify(modified));
    assert.equal(r?.decision, "hold");
    assert.match(r?.reason ?? "", /^release changed right after the step, and the new record was not followed: .*attacker-tg/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 90, green: 10 });
  });

  it("Traffic.setWeights moves a rule only with routing checkRouting issued, once", async () => {
    const routing = world.services.payments.routing;
    // A record's routing as data, dressed up as a check: refused before any call.
    const forged = { service: "payments", routing, live: { weights: { blue: 90, green: 10 }, targetGroupArns: [] } } as unknown as Parameters<Traffic["setWeights"]>[0];
    await assert.rejects(world.traffic.setWeights(forged, { blue: 0, green: 100 }), UncheckedRoutingError);
    // A rule built from a record is not one read from ELB.
    await assert.rejects(world.traffic.checkRouting("payments", routing, { RuleArn: routing.ruleArn, Actions: [] }), /must be one read from ELB/);
    // A real check moves it once; its second use is refused.
    const check = await world.traffic.checkRouting("payments", routing);
    assert.ok(check.ok);
    await world.traffic.setWeights(check.checked, { blue: 80, green: 20 });
    await assert.rejects(world.traffic.setWeights(check.checked, { blue: 0, green: 100 }), UncheckedRoutingError);
    assert.deepEqual(await world.traffic.currentWeights(routing), { blue: 80, green: 20 });
    // A foreign group is no check at all.
    const bad = await world.traffic.checkRouting("payments", { ...routing, targetGroupArns: { ...routing.targetGroupArns, green: evil } });
    assert.equal(bad.ok, false);
  });
});
