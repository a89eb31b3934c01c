/**
 * The rollback handler against a real moto_server: ALB, target groups, rule, alarms, release
 * table and topic exist in moto; alarms are put in ALARM with SetAlarmState and the event
 * CloudWatch would send is delivered to the handler in-process. SDK calls go through a fault
 * proxy that can throttle, fail or lose responses.
 */
import { strict as assert } from "node:assert";
import { Phase, applyEvent } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { Outcome, type RollbackResult } from "../../lambdas/commons/rollbackHandler";
import { alarmActionEvent, cwTimestamp, eventBridgeEvent, snsEvent } from "../helpers/alarmEvents";
import { useMotoBehindProxy, type FaultProxy } from "../helpers/faultProxy";
import { FUNCTION_ARN, PREFIX, createWorld, handlerDeps, putBareAlarm as putWorldAlarm, type World, moveRuleByHand } from "../helpers/rollbackWorld";
import { dashboardWeightSeries, emfSeries } from "../helpers/weightSeries";

describe("lambdas/rollback against moto_server", function () {
  this.timeout(60_000);
  const env = useMotoBehindProxy();
  let proxy: FaultProxy;
  let world: World;
  let h: ReturnType<typeof handlerDeps>;

  beforeEach(async () => {
    proxy = env.proxy;
    world = await createWorld(env.moto.endpoint, ["payments", "orders"]);
    h = handlerDeps(proxy.endpoint, world.topicArn);
  });

  const payments = () => world.services.payments;
  const greenErrors = () => payments().alarmNames.green["error-rate"];
  const weightsOf = (svc: string) => world.traffic.currentWeights(world.services[svc].routing);
  const metricNames = () =>
    h.emf
      .map((l) => JSON.parse(l) as { _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] }; Service?: string })
      .filter((e) => e._aws.CloudWatchMetrics[0].Namespace === "remedy")
      .flatMap((e) => e._aws.CloudWatchMetrics[0].Metrics.map((m) => `${m.Name}${e.Service ? `:${e.Service}` : ""}`));

  /** An alarm remedy did not create (another stack's, or for a service with no release state). */
  const putBareAlarm = (name: string) => putWorldAlarm(world.clients.cw, name);

  async function assertRolledBack(result: RollbackResult): Promise<void> {
    assert.equal(result.outcome, Outcome.RolledBack, JSON.stringify(result));
    assert.deepEqual(await weightsOf("payments"), { blue: 100, green: 0 });
    const state = await world.store.get("payments");
    assert.equal(state?.phase, Phase.RolledBack);
    assert.equal(state?.lastRollback?.by, greenErrors());
    assert.equal(state?.lastRollback?.fromVersion, "v2");
    assert.equal(state?.lastRollback?.toVersion, "v1");
  }

  for (const [shape, build] of [
    ["the CloudWatch alarm Lambda action", (a: Parameters<typeof alarmActionEvent>[0]) => alarmActionEvent(a)],
    ["an SNS-wrapped alarm notification", (a: Parameters<typeof alarmActionEvent>[0]) => snsEvent(a, world.topicArn)],
    ["the EventBridge CloudWatch Alarm State Change", (a: Parameters<typeof alarmActionEvent>[0]) => eventBridgeEvent(a)],
  ] as const) {
    it(`rolls back on ${shape}: weights, release state, history, SNS and metric`, async () => {
      // Prepare
      const alarm = await world.setAlarm(greenErrors(), "ALARM", "Threshold Crossed: 5xx rate 12.5 >= 5.0");
      // Act
      const result = await h.handler(build(alarm));
      // Assess
      await assertRolledBack(result);
      const state = await world.store.get("payments");
      assert.equal(state?.lastRollback?.reason, "Threshold Crossed: 5xx rate 12.5 >= 5.0");
      assert.ok((result.results[0].flipMs ?? -1) >= 0);
      const history = await world.store.history("payments");
      assert.deepEqual(history.map((e) => e.action), ["start-release", "roll-back"]);
      assert.equal(history[1].by, greenErrors());
      assert.equal(proxy.forwarded.ModifyRule, 1);
      const notes = await world.notifications();
      assert.equal(notes.length, 1);
      assert.equal(notes[0].subject, "remedy: payments rolled back to v1");
      assert.match(notes[0].message, /rolled back payments: v2 \(green\) -> v1 \(blue\)/);
      assert.match(notes[0].message, /Alarm: +remedy-test\/payments\/green\/error-rate/);
      assert.match(notes[0].message, /Also firing: +none/);
      assert.ok(metricNames().includes("Rollbacks:payments"), metricNames().join());
      assert.ok(metricNames().includes("FlipLatency:payments"));
      assert.ok(metricNames().includes("CandidateWeight:payments"), "the failed slot's weight, for the stack dashboard");
      // Exactly the series the dashboard graphs: no Powertools `service` dimension (issue 34, 8).
      assert.deepEqual(h.emf.filter((l) => l.includes("CandidateWeight")).flatMap(emfSeries).filter((x) => x.metric === "CandidateWeight"), [dashboardWeightSeries(PREFIX, "payments")]);
      // The other service is untouched.
      assert.deepEqual(await weightsOf("orders"), { blue: 90, green: 10 });
      assert.equal((await world.store.get("orders"))?.phase, Phase.Releasing);
    });
  }

  it("lists the service's other firing alarms in the notification", async () => {
    await world.setAlarm(payments().alarmNames.green["latency-p99"], "ALARM");
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    await assertRolledBack(await h.handler(alarmActionEvent(alarm)));
    const [note] = await world.notifications();
    assert.match(note.message, /Also firing: +remedy-test\/payments\/green\/latency-p99/);
  });

  it("names the stack in the page's subject, as every other notice does (issue 36, 10)", async () => {
    const prod = handlerDeps(proxy.endpoint, world.topicArn, { stack: "prod" });
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    await assertRolledBack(await prod.handler(alarmActionEvent(alarm)));
    assert.deepEqual((await world.notifications()).map((n) => n.subject), ["remedy prod: payments rolled back to v1"]);
  });

  it("treats a duplicate delivery as a no-op: one flip, one record, one notification", async () => {
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    await assertRolledBack(await h.handler(alarmActionEvent(alarm)));
    const second = await h.handler(alarmActionEvent(alarm));
    assert.equal(second.outcome, Outcome.Ignored);
    assert.match(second.results[0].reason, /already rolled back/);
    assert.equal(proxy.forwarded.ModifyRule, 1);
    assert.equal((await world.store.history("payments")).length, 2);
    assert.equal((await world.notifications()).length, 1);
  });

  it("records and notifies once when the same alarm arrives in three shapes at once", async () => {
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    const results = await Promise.all([
      h.handler(alarmActionEvent(alarm)),
      h.handler(snsEvent(alarm, world.topicArn)),
      h.handler(eventBridgeEvent(alarm)),
    ]);
    const outcomes = results.map((r) => r.outcome).sort();
    assert.equal(outcomes.filter((o) => o === Outcome.RolledBack).length, 1, outcomes.join());
    assert.deepEqual(await weightsOf("payments"), { blue: 100, green: 0 });
    const history = await world.store.history("payments");
    assert.equal(history.filter((e) => e.action === "roll-back").length, 1);
    assert.equal((await world.notifications()).length, 1);
  });

  it("ignores OK and INSUFFICIENT_DATA, before and after an ALARM", async () => {
    const ok = await world.setAlarm(greenErrors(), "OK", "Threshold Crossed: back to normal");
    const first = await h.handler(alarmActionEvent(ok));
    assert.equal(first.outcome, Outcome.Ignored);
    assert.equal(first.results[0].reason, "alarm is OK; only ALARM rolls back");
    assert.deepEqual(await weightsOf("payments"), { blue: 90, green: 10 });

    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    await assertRolledBack(await h.handler(alarmActionEvent(alarm)));
    const recovered = await world.setAlarm(greenErrors(), "OK");
    assert.equal((await h.handler(eventBridgeEvent(recovered))).outcome, Outcome.Ignored);
    const insufficient = { ...alarmActionEvent(recovered) };
    insufficient.alarmData = { ...insufficient.alarmData, state: { ...insufficient.alarmData.state, value: "INSUFFICIENT_DATA" } };
    assert.equal((await h.handler(insufficient)).outcome, Outcome.Ignored);
    assert.deepEqual(await weightsOf("payments"), { blue: 100, green: 0 });
    assert.equal(proxy.forwarded.ModifyRule, 1);
  });

  it("ignores an alarm of another stack, and one for the stable slot, without touching AWS", async () => {
    await putBareAlarm("someone-else/payments/green/error-rate");
    const foreign = await world.setAlarm("someone-else/payments/green/error-rate", "ALARM");
    const r1 = await h.handler(alarmActionEvent(foreign));
    assert.equal(r1.outcome, Outcome.Ignored);
    assert.equal(r1.results[0].reason, `not a rollback alarm of ${PREFIX}`);

    const stable = await world.setAlarm(payments().alarmNames.blue["error-rate"], "ALARM");
    const r2 = await h.handler(alarmActionEvent(stable));
    assert.equal(r2.outcome, Outcome.Ignored);
    assert.match(r2.results[0].reason, /blue is the stable slot/);

    assert.equal(proxy.forwarded.ModifyRule, undefined);
    assert.deepEqual(await weightsOf("payments"), { blue: 90, green: 10 });
    assert.equal((await world.notifications()).length, 0);
  });

  it("ignores a late ALARM that predates the current release (by CloudWatch's record of when it fired)", async () => {
    // Prepare: the alarm fired, then a new release (v3 on green) started; its event arrives late.
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    await new Promise((r) => setTimeout(r, 5));
    let s = await world.store.get("payments");
    if (!s) throw new Error("no state");
    for (const e of [
      { type: "shift-weight" as const, weight: 0, at: new Date().toISOString(), by: "pulumi:test" },
      { type: "start-release" as const, candidate: { slot: Slot.Green, version: "v3" }, weight: 10, at: new Date().toISOString(), by: "pulumi:test" },
    ]) {
      const t = applyEvent(s, e);
      if (t.kind !== "applied") throw new Error(t.reason);
      await world.store.commit(s.revision, t.state, t.entry);
      s = t.state;
    }
    // Act: even an event that claims a fresh timestamp is judged by CloudWatch's.
    const late = alarmActionEvent(alarm);
    late.alarmData = { ...late.alarmData, state: { ...late.alarmData.state, timestamp: cwTimestamp(new Date(Date.now() + 1000)) } };
    const r = await h.handler(late);
    // Assess
    assert.equal(r.outcome, Outcome.Ignored);
    assert.match(r.results[0].reason, /predates release green:v3:/);
    assert.deepEqual(await weightsOf("payments"), { blue: 90, green: 10 });
  });

  it("believes CloudWatch, not the event: a forged ALARM for an alarm that is OK does nothing, and a forged reason is never recorded or paged", async () => {
    // Prepare: the alarm is OK in CloudWatch; the event (anyone who may invoke the function could send it) says ALARM.
    const ok = await world.setAlarm(greenErrors(), "OK", "Threshold Crossed: no datapoints were greater than the threshold");
    const forged = alarmActionEvent({ ...ok, StateValue: "ALARM", StateReason: "rm -rf: call +1-555-0100 now" });
    // Act
    const r1 = await h.handler(forged);
    // Assess
    assert.equal(r1.outcome, Outcome.Ignored);
    assert.match(r1.results[0].reason, /^CloudWatch has remedy-test\/payments\/green\/error-rate in OK \(since .*\), not ALARM as the event says; not rolling back$/);
    assert.equal(proxy.forwarded.ModifyRule, undefined);
    assert.equal((await world.notifications()).length, 0);
    // The alarm really fires: the rollback records CloudWatch's reason, not the event's.
    const real = await world.setAlarm(greenErrors(), "ALARM", "Threshold Crossed: 5xx rate 12.5 >= 5.0");
    const r2 = await h.handler(alarmActionEvent({ ...real, StateReason: "rm -rf: call +1-555-0100 now" }));
    assert.equal(r2.outcome, Outcome.RolledBack);
    const state = await world.store.get("payments");
    assert.equal(state?.lastRollback?.reason, "Threshold Crossed: 5xx rate 12.5 >= 5.0");
    const [note] = await world.notifications();
    assert.ok(!note.message.includes("555-0100"), note.message);
    // An alarm CloudWatch does not know is not acted on either.
    const ghost = alarmActionEvent({ ...real, AlarmName: `${PREFIX}/ghost/green/error-rate`, AlarmArn: String(real.AlarmArn).replace("payments", "ghost") });
    const r3 = await h.handler(ghost);
    assert.equal(r3.results[0].reason, "no alarm remedy-test/ghost/green/error-rate exists in CloudWatch; the event is not acted on");
  });

  it("never acts on routing the rule does not have: a record pointing payments at other target groups, or at another service's rule, is refused and paged", async () => {
    // Prepare: someone with write access to the table points payments' record at orders' groups,
    // then at orders' rule (with orders' groups: a rule the Lambda may modify).
    const s0 = await world.store.get("payments");
    if (!s0) throw new Error("no state");
    const orders = world.services.orders.routing;
    const forge = async (routing: typeof orders) => {
      const s = await world.store.get("payments");
      if (!s) throw new Error("no state");
      await world.store.commit(s.revision, { ...s, revision: s.revision + 1, routing }, { service: "payments", revision: s.revision + 1, at: new Date().toISOString(), by: "attacker", action: "update-routing", releaseId: s.releaseId, summary: "x", weights: s.weights });
    };
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    for (const routing of [{ ...s0.routing, targetGroupArns: orders.targetGroupArns }, { ...orders }]) {
      await forge(routing);
      // Act
      const r = await h.handler(alarmActionEvent(alarm));
      // Assess
      assert.equal(r.outcome, Outcome.Escalated, JSON.stringify(r));
      assert.match(r.results[0].reason, /^release state of payments names (target groups .* but its rule .* forwards to|.* for blue, not a target group pulumi up made for payments-blue)/);
    }
    assert.equal(proxy.forwarded.ModifyRule, undefined, "no rule was touched");
    assert.deepEqual(await weightsOf("payments"), { blue: 90, green: 10 });
    assert.deepEqual(await weightsOf("orders"), { blue: 90, green: 10 });
  });

  it("pages once per escalation cause, however many events repeat it", async () => {
    // Prepare: the rollback target (blue) has no healthy targets: every event escalates.
    await world.deregisterAll("payments", Slot.Blue);
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    // Act: CloudWatch (or a flood) delivers it five times.
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await h.handler(alarmActionEvent(alarm)));
    // Assess
    assert.deepEqual(results.map((r) => r.outcome), Array(5).fill(Outcome.Escalated));
    const pages = await world.notifications();
    assert.equal(pages.length, 1, pages.map((p) => p.subject).join("; "));
    assert.equal(pages[0].subject, "remedy: payments NOT rolled back automatically");
    assert.match(results[4].results[0].reason, /\(already paged within 15 min\)$/);
  });

  it("rejects malformed events with a logged error naming the problem, changing nothing", async () => {
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    const broken = snsEvent(alarm, world.topicArn);
    broken.Records[0].Sns.Message = "{not json";
    const r1 = await h.handler(broken);
    assert.equal(r1.outcome, Outcome.Rejected);
    assert.match(r1.results[0].reason, /^Records\[0\]\.Sns\.Message: must be the JSON alarm notification/);

    const r2 = await h.handler({ hello: "world" });
    assert.match(r2.results[0].reason, /unrecognised event \(top-level keys: hello\); expected a CloudWatch alarm action/);

    const noState = alarmActionEvent(alarm) as Record<string, unknown>;
    noState.alarmData = { alarmName: alarm.AlarmName };
    const r3 = await h.handler(noState);
    assert.match(r3.results[0].reason, /not a CloudWatch alarm action event: alarmData\.state: /);

    assert.equal((await h.handler("ALARM")).outcome, Outcome.Rejected);
    const errors = h.logs.map((l) => JSON.parse(l) as { level: string; message: string; error?: string }).filter((l) => l.level === "ERROR");
    assert.equal(errors.length, 4);
    assert.ok(errors.every((e) => e.message === "rejected event" && typeof e.error === "string"));
    assert.equal(metricNames().filter((m) => m === "RejectedEvents").length, 4);
    assert.deepEqual(await weightsOf("payments"), { blue: 90, green: 10 });
    assert.equal(proxy.forwarded.GetItem, undefined);
  });

  it("refuses to flip to a stable slot with no healthy targets and escalates via SNS", async () => {
    await world.deregisterAll("payments", Slot.Blue);
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    const r = await h.handler(alarmActionEvent(alarm));
    assert.equal(r.outcome, Outcome.Escalated);
    assert.equal(r.results[0].reason, "the rollback target v1 (blue) has no healthy targets; flipping would send all traffic nowhere");
    assert.equal(proxy.forwarded.ModifyRule, undefined);
    assert.deepEqual(await weightsOf("payments"), { blue: 90, green: 10 });
    assert.equal((await world.store.get("payments"))?.phase, Phase.Releasing);
    const [note] = await world.notifications();
    assert.equal(note.subject, "remedy: payments NOT rolled back automatically");
    assert.match(note.message, /Why: +the rollback target v1 \(blue\) has no healthy targets/);
    assert.ok(metricNames().includes("Escalations:payments"));
  });

  it("escalates when a service has no release state", async () => {
    await putWorldAlarm(world.clients.cw, `${PREFIX}/search/green/error-rate`, [FUNCTION_ARN]);
    const alarm = await world.setAlarm(`${PREFIX}/search/green/error-rate`, "ALARM");
    const r = await h.handler(alarmActionEvent(alarm));
    assert.equal(r.outcome, Outcome.Escalated);
    assert.match(r.results[0].reason, /no release state for search in remedy-test-releases; run `pulumi up`/);
    assert.equal((await world.notifications()).length, 1);
  });

  it("acts only on alarms pulumi up made to roll back: not a made-up custom-* name, not a page-only alarm (issue 35, 5)", async () => {
    // Prepare: payments records the built-in four kinds. Someone with PutMetricAlarm makes up a
    // custom alarm under this stack's naming (even naming the function), and a page-only alarm
    // of a recorded kind exists (its actions page, they do not invoke the function).
    const madeUp = `${PREFIX}/payments/green/custom-anything`;
    await putWorldAlarm(world.clients.cw, madeUp, [FUNCTION_ARN]);
    const pageOnly = greenErrors();
    await putWorldAlarm(world.clients.cw, pageOnly, [world.topicArn]); // replaces the rollback alarm with a page-only one
    // Act
    const r1 = await h.handler(alarmActionEvent(await world.setAlarm(madeUp, "ALARM")));
    const r2 = await h.handler(alarmActionEvent(await world.setAlarm(pageOnly, "ALARM")));
    // Assess: nothing flipped, nothing recorded, each says why.
    assert.deepEqual([r1.outcome, r2.outcome], [Outcome.Ignored, Outcome.Ignored]);
    assert.match(r1.results[0].reason, /custom-anything is not one of the alarms pulumi up made for payments \(kinds error-rate, .*\); not acting on it/);
    assert.match(r2.results[0].reason, /does not name this function among its alarm actions \(a page-only alarm, or not this stack's\); not rolling back/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 90, green: 10 });
    assert.equal((await world.store.history("payments")).filter((e) => e.action === "roll-back").length, 0);
  });

  it("retries throttled ModifyRule calls and flips exactly once", async () => {
    proxy.inject("ModifyRule", "throttle", 2);
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    await assertRolledBack(await h.handler(alarmActionEvent(alarm)));
    assert.equal(proxy.faulted.ModifyRule, 2);
    assert.equal(proxy.forwarded.ModifyRule, 1);
    assert.equal((await world.store.history("payments")).filter((e) => e.action === "roll-back").length, 1);
    assert.equal((await world.notifications()).length, 1);
  });

  it("survives 5xx on reads and a lost commit response without a second record or notification", async () => {
    proxy.inject("GetItem", "unavailable", 1);
    proxy.inject("DescribeTargetHealth", "throttle", 1);
    proxy.inject("TransactWriteItems", "lose-response", 1);
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    await assertRolledBack(await h.handler(alarmActionEvent(alarm)));
    assert.equal(proxy.faulted.TransactWriteItems, 1);
    assert.equal(proxy.forwarded.ModifyRule, 1);
    assert.equal((await world.store.history("payments")).filter((e) => e.action === "roll-back").length, 1);
    assert.equal((await world.notifications()).length, 1);
  });

  it("fails loudly when AWS keeps throttling, and completes on redelivery with one record", async () => {
    proxy.inject("ModifyRule", "throttle", 3);
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    await assert.rejects(h.handler(alarmActionEvent(alarm)), (err: Error) => /Rate exceeded/.test(err.message));
    assert.equal((await world.store.get("payments"))?.phase, Phase.Releasing);
    assert.deepEqual(await weightsOf("payments"), { blue: 90, green: 10 });
    // Lambda's asynchronous retry delivers the same event again.
    await assertRolledBack(await h.handler(alarmActionEvent(alarm)));
    assert.equal((await world.store.history("payments")).filter((e) => e.action === "roll-back").length, 1);
    assert.equal((await world.notifications()).length, 1);
  });

  it("restores the recorded weights when a new release lands between its flip and its record", async () => {
    // Prepare: a `pulumi up` starting release v3 at 20% races the handler's commit.
    const realCommit = world.store.commit.bind(world.store);
    let raced = false;
    const store = h.deps.store;
    store.commit = async (expected, next, entry) => {
      if (!raced) {
        raced = true;
        const current = await world.store.get("payments");
        if (!current) throw new Error("no state");
        const t = applyEvent(current, {
          type: "start-release",
          candidate: { slot: Slot.Green, version: "v3" },
          weight: 20,
          at: new Date(Date.now() + 1000).toISOString(),
          by: "pulumi:prod",
        });
        if (t.kind !== "applied") throw new Error(t.reason);
        await moveRuleByHand(world.clients.elb, current.routing, t.state.weights);
        await realCommit(current.revision, t.state, t.entry);
      }
      return realCommit(expected, next, entry);
    };
    const alarm = await world.setAlarm(greenErrors(), "ALARM");
    // Act
    const r = await h.handler(alarmActionEvent(alarm));
    // Assess: the alarm was about v2; v3 is now releasing, so traffic goes back to v3's 80/20.
    assert.equal(r.outcome, Outcome.Ignored);
    assert.match(r.results[0].reason, /predates release green:v3:.*; restored the recorded weights/);
    assert.deepEqual(await weightsOf("payments"), { blue: 80, green: 20 });
    const state = await world.store.get("payments");
    assert.equal(state?.candidate?.version, "v3");
    assert.equal(state?.phase, Phase.Releasing);
    assert.equal((await world.notifications()).length, 0);
  });
});
