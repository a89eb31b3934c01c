/**
 * The rollback Lambda's flip in two round trips: the rollback target named in the alarm's
 * description (the other slot's target group and the rule, deployed by AutoRollback) is read in
 * the same round trip as the release state, then ModifyRule. It is used only where the state
 * names the same rule and group: a wrong or missing hint costs the third round trip, never a
 * check. Against moto, with the calls' start and end recorded in order.
 */
import { strict as assert } from "node:assert";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { Traffic } from "../../lambdas/commons/traffic";
import { Outcome } from "../../lambdas/commons/rollbackHandler";
import { rollbackHint } from "../../core/alarms";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { useMoto } from "../helpers/moto";
import { TABLE, clients, createWorld, handlerDeps, type World } from "../helpers/rollbackWorld";

describe("lambdas/rollback: flip in two round trips with the alarm's hint (moto)", function () {
  this.timeout(60_000);
  const suite = useMoto();

  /** A handler whose state read, health and rule reads and flips log `start:`/`end:` in order. */
  function traced(world: World) {
    const c = clients(suite.moto.endpoint);
    const log: string[] = [];
    const around = <T>(name: string, p: () => Promise<T>) => {
      log.push(`start:${name}`);
      return p().finally(() => log.push(`end:${name}`));
    };
    const store = new ReleaseStore(c.ddb, TABLE);
    const traffic = new Traffic(c.elb);
    const get = store.get.bind(store);
    const healthy = traffic.healthyTargets.bind(traffic);
    const rules = traffic.rulesByArn.bind(traffic);
    const set = traffic.setWeights.bind(traffic);
    store.get = (s) => around("state", () => get(s));
    traffic.healthyTargets = (tg) => around(`health:${tg === world.services.payments.routing.targetGroupArns.blue ? "blue" : "green"}`, () => healthy(tg));
    traffic.rulesByArn = (arns) => around("rule", () => rules(arns));
    traffic.setWeights = (r, w) => around("flip", () => set(r, w));
    return { log, h: handlerDeps(suite.moto.endpoint, world.topicArn, { store, traffic }) };
  }

  const firstFlip = (log: string[]) => log.indexOf("start:flip");

  it("reads the rollback target's health and the rule in the state read's round trip, then flips", async () => {
    // Prepare: alarms deployed with the hint (as AutoRollback does); green's error rate fires.
    const world = await createWorld(suite.moto.endpoint, ["payments"]);
    const alarm = await world.setAlarm(world.services.payments.alarmNames.green["error-rate"], "ALARM");
    assert.match(alarm.AlarmDescription ?? "", /\[remedy rollback target: arn:aws:elasticloadbalancing:.*targetgroup\/.*; rule: arn:aws:elasticloadbalancing:.*listener-rule\/.*\]$/);
    const { log, h } = traced(world);
    // Act
    const result = await h.handler(alarmActionEvent(alarm));
    // Assess: rolled back; blue's health and the rule were read while the state was being read.
    assert.equal(result.results[0].outcome, Outcome.RolledBack, JSON.stringify(result));
    const before = log.slice(0, firstFlip(log));
    assert.deepEqual(before.filter((e) => e.startsWith("start:")).sort(), ["start:health:blue", "start:rule", "start:state"]);
    assert.ok(log.indexOf("start:health:blue") < log.indexOf("end:state") && log.indexOf("start:rule") < log.indexOf("end:state"), log.join(" "));
    assert.equal(before.filter((e) => e === "start:health:blue").length, 1, "one health read before the flip");
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
  });

  it("reads again after the state when the hint names another group than the state (never trusts the event), and still refuses an unhealthy target", async () => {
    // Prepare: an event whose description names green's own group as the rollback target.
    const world = await createWorld(suite.moto.endpoint, ["payments"]);
    const routing = world.services.payments.routing;
    const alarm = await world.setAlarm(world.services.payments.alarmNames.green["error-rate"], "ALARM");
    const lying = { ...alarm, AlarmDescription: `payments green error rate${rollbackHint(routing.targetGroupArns.green, routing.ruleArn)}` };
    await world.deregisterAll("payments", "blue");
    const { log, h } = traced(world);
    // Act
    const result = await h.handler(alarmActionEvent(lying));
    // Assess: blue (the real target) was read after the state; with no healthy targets, no flip.
    assert.equal(result.results[0].outcome, Outcome.Escalated, JSON.stringify(result));
    assert.match(result.results[0].reason, /has no healthy targets/);
    assert.ok(log.indexOf("start:health:blue") > log.indexOf("end:state"), log.join(" "));
    assert.equal(firstFlip(log), -1, "nothing flipped");
    assert.deepEqual(await world.traffic.currentWeights(routing), { blue: 90, green: 10 });
  });

  it("works as before for alarms without the hint (deployed by an older remedy): three round trips", async () => {
    const world = await createWorld(suite.moto.endpoint, ["payments"], 10, { noHint: true });
    const alarm = await world.setAlarm(world.services.payments.alarmNames.green["error-rate"], "ALARM");
    const { log, h } = traced(world);
    const result = await h.handler(alarmActionEvent(alarm));
    assert.equal(result.results[0].outcome, Outcome.RolledBack);
    assert.ok(log.indexOf("start:health:blue") > log.indexOf("end:state"), log.join(" "));
  });
});
