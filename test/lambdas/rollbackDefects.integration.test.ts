/**
 * The rollback handler's reviewed defects, each driven against moto_server through the fault
 * proxy: races with `pulumi up`, notifications that must never be lost nor sent twice, oversized
 * alarm reasons, alarms of other accounts/regions, and rollbacks after a promotion.
 */
import { strict as assert } from "node:assert";
import type { Context } from "aws-lambda";
import { Phase, applyEvent, type ReleaseState } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { Outcome } from "../../lambdas/commons/rollbackHandler";
import { alarmActionEvent, eventBridgeEvent, snsEvent } from "../helpers/alarmEvents";
import { useMotoBehindProxy, type FaultProxy } from "../helpers/faultProxy";
import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { FUNCTION_ARN, REGION, TABLE, clients, createWorld, handlerDeps, type World, moveRuleByHand } from "../helpers/rollbackWorld";
import { emfSeries } from "../helpers/weightSeries";

const ACCOUNT = "123456789012";

/** A Lambda context whose clock says `ms` are left. */
function contextWithRemaining(ms: number): Context {
  return { getRemainingTimeInMillis: () => ms, awsRequestId: "test", functionName: "rollback" } as unknown as Context;
}

describe("lambdas/rollback: reviewed defects, against moto_server", function () {
  this.timeout(60_000);
  const env = useMotoBehindProxy();
  let proxy: FaultProxy;
  let world: World;
  let h: ReturnType<typeof handlerDeps>;

  beforeEach(async () => {
    proxy = env.proxy;
    world = await createWorld(env.moto.endpoint, ["payments"]);
    h = handlerDeps(proxy.endpoint, world.topicArn, { expectedAccount: ACCOUNT, expectedRegion: REGION });
  });

  const payments = () => world.services.payments;
  const greenErrors = () => payments().alarmNames.green["error-rate"];
  const weights = () => world.traffic.currentWeights(payments().routing);

  /** Applies one event to the stored state as `pulumi up` (or another writer) would. */
  async function write(event: Parameters<typeof applyEvent>[1]): Promise<ReleaseState> {
    const current = await world.store.get("payments");
    if (!current) throw new Error("no state");
    const t = applyEvent(current, event);
    if (t.kind !== "applied") throw new Error(t.reason);
    await world.store.commit(current.revision, t.state, t.entry);
    return t.state;
  }

  describe("races with pulumi up", () => {
    it("re-flips after a conflict when pulumi up moved the rule between its read and its write", async () => {
      // Prepare: `pulumi up` shifts the same candidate to 20% (rule + record) while the handler
      // is between its flip and its commit.
      const realCommit = h.deps.store.commit.bind(h.deps.store);
      let raced = false;
      h.deps.store.commit = async (expected, next, entry, note) => {
        if (!raced) {
          raced = true;
          const s = await write({ type: "shift-weight", weight: 20, at: new Date().toISOString(), by: "pulumi:prod" });
          await moveRuleByHand(world.clients.elb, s.routing, s.weights);
        }
        return realCommit(expected, next, entry, note);
      };
      const alarm = await world.setAlarm(greenErrors(), "ALARM");
      // Act
      const r = await h.handler(alarmActionEvent(alarm));
      // Assess: recorded rolled back, and the live rule agrees (before the fix it stayed 80/20).
      assert.equal(r.outcome, Outcome.RolledBack, JSON.stringify(r));
      const state = await world.store.get("payments");
      assert.equal(state?.phase, Phase.RolledBack);
      assert.deepEqual(state?.weights, { blue: 100, green: 0 });
      assert.deepEqual(await weights(), { blue: 100, green: 0 });
      assert.equal(proxy.forwarded.ModifyRule, 2, "flipped, then re-flipped over pulumi's 80/20");
      assert.equal(proxy.forwarded.DescribeRules, 4, "each flip checks the record against the rule (2, beside the health check), the re-decision reads it after the conflict, and once more after recording");
      assert.equal((await world.notifications()).length, 1);
    });
  });

  describe("CloudWatch throttling the alarm's confirmation (issue 35, 8)", () => {
    it("retries within the budget, then pages with the command and fails for Lambda's retry, never acting on the unconfirmed event; the retry after the throttle rolls back", async () => {
      // Prepare: DescribeAlarms throttled for the whole first invocation; its waits move a virtual clock.
      proxy.inject("DescribeAlarms", "throttle", 1_000);
      let left = 30_000;
      const throttled = handlerDeps(proxy.endpoint, world.topicArn, {
        expectedAccount: ACCOUNT,
        expectedRegion: REGION,
        cloudwatch: clients(proxy.endpoint, 1).cw,
        sleep: async (ms) => void (left -= ms),
      });
      const context = { getRemainingTimeInMillis: () => left, invokedFunctionArn: FUNCTION_ARN } as unknown as Context;
      const alarm = await world.setAlarm(greenErrors(), "ALARM", "Threshold Crossed: 5xx 40%");
      const event = alarmActionEvent(alarm);
      event.alarmData.state.reason = "forged text";
      // Act
      await assert.rejects(throttled.handler(event, context), (err: Error) => err.name === "ConfirmationThrottledError" && /could not be confirmed; humans were paged/.test(err.message));
      // Assess: tried several times within the budget, moved nothing, paged once without the event's text.
      assert.ok((proxy.faulted.DescribeAlarms ?? 0) >= 3, `${proxy.faulted.DescribeAlarms} tries`);
      assert.ok(30_000 - left <= 15_000, `waited ${30_000 - left} ms`);
      assert.equal(proxy.forwarded.ModifyRule ?? 0, 0);
      assert.deepEqual(await weights(), { blue: 90, green: 10 });
      const notes = await world.notifications();
      assert.deepEqual(notes.map((n) => n.subject), ["remedy: payments NOT rolled back automatically"]);
      assert.match(notes[0].message, /CloudWatch throttled DescribeAlarms .* could not be confirmed in ALARM; .* run remedy rollback payments --reason <text>/);
      assert.doesNotMatch(notes[0].message, /forged text/);
      // The throttle metric carries exactly the identity the component's alarm reads.
      const series = throttled.emf.flatMap(emfSeries).filter((x) => x.metric === "ConfirmationThrottled");
      assert.ok(series.length >= 3);
      assert.deepEqual(series[0], { namespace: "remedy", metric: "ConfirmationThrottled", dimensions: { service: "remedy-rollback" } });
      // Act: the throttle is over; Lambda's retry of the same event.
      proxy.reset();
      const retry = await h.handler(alarmActionEvent(alarm));
      assert.equal(retry.outcome, Outcome.RolledBack, JSON.stringify(retry));
    });
  });

  describe("an invalid stored state (issue 35, 10)", () => {
    /** Overwrites payments' state item with weights that do not sum to 100 (fails validation). */
    async function corrupt() {
      const key = { pk: { S: "payments" }, sk: { S: "state" } };
      const item = (await world.clients.ddb.send(new GetItemCommand({ TableName: TABLE, Key: key }))).Item;
      if (!item) throw new Error("no state item");
      await world.clients.ddb.send(new PutItemCommand({ TableName: TABLE, Item: { ...item, weights: { M: { blue: { N: "90" }, green: { N: "60" } } } } }));
    }

    it("pages CloudWatch's reason, not the event's, and a made-up alarm name pages nobody", async () => {
      await corrupt();
      // A real alarm, its event carrying a forged reason.
      const alarm = await world.setAlarm(greenErrors(), "ALARM", "Threshold Crossed: 5xx 40%");
      const forged = alarmActionEvent(alarm);
      forged.alarmData.state.reason = "<!channel> page this text";
      const r = await h.handler(forged);
      assert.equal(r.outcome, Outcome.Escalated);
      // A made-up alarm name of this stack's shape: no such alarm, no page.
      const madeUp = alarmActionEvent({ ...alarm, AlarmName: `${alarm.AlarmName?.replace("/green/", "/blue/")}x`, AlarmArn: `${alarm.AlarmArn}x` });
      const r2 = await h.handler(madeUp);
      assert.notEqual(r2.outcome, Outcome.Escalated);
      const notes = await world.notifications();
      assert.equal(notes.length, 1, notes.map((n) => n.subject).join("; "));
      assert.match(notes[0].message, /Reason: Threshold Crossed: 5xx 40%/);
      assert.doesNotMatch(notes[0].message, /page this text/);
    });
  });

  describe("notifications are an idempotent step of their own", () => {
    it("rejects a poisoned outbox item instead of letting it block every later page (issue 35, 15)", async () => {
      // Prepare: a table writer leaves an item SNS would refuse (an empty attribute value) ahead of the rollback's own.
      await world.clients.ddb.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { pk: { S: "payments" }, sk: { S: "notify#0000000000" }, status: { S: "pending" }, createdAt: { S: new Date().toISOString() }, subject: { S: "poison" }, lines: { L: [{ S: "x" }] }, attributes: { M: { service: { S: "" } } } },
        }),
      );
      const alarm = await world.setAlarm(greenErrors(), "ALARM", "Threshold Crossed: 5xx 40%");
      // Act
      const r = await h.handler(alarmActionEvent(alarm));
      // Assess: the rollback was paged; the poison was rejected with why, never sent.
      assert.equal(r.outcome, Outcome.RolledBack);
      assert.deepEqual((await world.notifications()).map((n) => n.subject), ["remedy: payments rolled back to v1"]);
      const poison = (await world.clients.ddb.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: "payments" }, sk: { S: "notify#0000000000" } } }))).Item;
      assert.equal(poison?.status?.S, "rejected");
      assert.match(poison?.rejectedBecause?.S ?? "", /attributes\.service/);
      assert.ok(h.logs.some((l) => l.includes("a stored notification is not one remedy writes")));
    });

    it("gives an escalation's page window back when its page could not be sent, so the retry pages (issue 35, 9)", async () => {
      // Prepare: the rollback target (blue) has no healthy targets, so the alarm escalates; SNS fails past the retries.
      await world.deregisterAll("payments", "blue");
      proxy.inject("Publish", "unavailable", 3);
      const alarm = await world.setAlarm(greenErrors(), "ALARM", "Threshold Crossed: 5xx 40%");
      // Act: the first delivery cannot page; Lambda's retry delivers the same event.
      await assert.rejects(h.handler(alarmActionEvent(alarm)));
      const retry = await h.handler(alarmActionEvent(alarm));
      // Assess: the retry paged, once, and was not taken for a duplicate.
      assert.equal(retry.outcome, Outcome.Escalated);
      assert.doesNotMatch(retry.results[0].reason, /already paged/);
      const notes = await world.notifications();
      assert.deepEqual(notes.map((n) => n.subject), ["remedy: payments NOT rolled back automatically"]);
      // A third delivery inside the window is the duplicate.
      assert.match((await h.handler(alarmActionEvent(alarm))).results[0].reason, /already paged within 15 min/);
    });

    it("keeps the notification pending when SNS fails past its retries, and sends it on the redelivery", async () => {
      // Prepare
      proxy.inject("Publish", "unavailable", 3);
      const alarm = await world.setAlarm(greenErrors(), "ALARM", "Threshold Crossed: 5xx 40%");
      // Act: the first delivery flips and records, then cannot notify.
      await assert.rejects(h.handler(alarmActionEvent(alarm)), (err: Error) => err.name === "NotificationError" && /stays pending and is retried/.test(err.message));
      // Assess
      assert.deepEqual(await weights(), { blue: 100, green: 0 });
      assert.equal((await world.store.get("payments"))?.phase, Phase.RolledBack);
      const pending = await world.store.pendingNotifications("payments");
      assert.equal(pending.length, 1);
      assert.equal(pending[0].status, "pending", "the failed copy gave its lease back");
      assert.equal((await world.notifications()).length, 0);
      // Act: Lambda's retry delivers the same event again.
      const retry = await h.handler(alarmActionEvent(alarm));
      // Assess: nothing flipped or recorded again, and the owed notification went out once.
      assert.equal(retry.outcome, Outcome.Ignored);
      assert.match(retry.results[0].reason, /already rolled back/);
      const notes = await world.notifications();
      assert.equal(notes.length, 1);
      assert.equal(notes[0].subject, "remedy: payments rolled back to v1");
      assert.match(notes[0].message, /Reason: +Threshold Crossed: 5xx 40%/);
      assert.equal((await world.store.pendingNotifications("payments")).length, 0);
      assert.equal(proxy.forwarded.ModifyRule, 1);
      // A third delivery sends nothing more.
      await h.handler(alarmActionEvent(alarm));
      assert.equal((await world.notifications()).length, 0);
    });

    it("skips the optional alarm lookup when the deadline is near, and leaves the notification pending when no time is left", async () => {
      const alarm = await world.setAlarm(greenErrors(), "ALARM");
      // 500 ms left: flip and record, but too little time to publish.
      await assert.rejects(h.handler(alarmActionEvent(alarm), contextWithRemaining(500)), /only 500 ms left in this invocation/);
      assert.equal(proxy.forwarded.DescribeAlarms, 1, "only the confirmation of the alarm (beside the first read), no optional call with the deadline this near");
      assert.equal(proxy.forwarded.Publish, undefined);
      assert.equal((await world.store.pendingNotifications("payments")).length, 1);
      // 2.5 s left on the retry: enough to publish, not for the optional lookup.
      await h.handler(alarmActionEvent(alarm), contextWithRemaining(2_500));
      assert.equal(proxy.forwarded.DescribeAlarms, 2, "the retry's confirmation only");
      const [note] = await world.notifications();
      assert.match(note.message, /Also firing: +\(skipped: 2500 ms left\)/);
    });

    it("sends one notification when two copies decide the same alarm in the same millisecond", async () => {
      // Prepare: both copies read the clock as the same millisecond, so they write identical
      // states; B reads before A commits and writes after.
      const sameMs = Date.now();
      const a = handlerDeps(proxy.endpoint, world.topicArn, { now: () => sameMs, expectedAccount: ACCOUNT, expectedRegion: REGION });
      const b = handlerDeps(proxy.endpoint, world.topicArn, { now: () => sameMs, expectedAccount: ACCOUNT, expectedRegion: REGION });
      let aDone!: () => void;
      const aFinished = new Promise<void>((resolve) => (aDone = resolve));
      const realGet = b.deps.store.get.bind(b.deps.store);
      let first = true;
      b.deps.store.get = async (service) => {
        const s = await realGet(service);
        if (first) {
          first = false;
          await aFinished;
        }
        return s;
      };
      const alarm = await world.setAlarm(greenErrors(), "ALARM");
      // Act
      const bResult = b.handler(alarmActionEvent(alarm));
      const aResult = await a.handler(alarmActionEvent(alarm));
      aDone();
      const results = [aResult, await bResult];
      // Assess: B recognises A's identical write as not its own.
      assert.deepEqual(results.map((r) => r.outcome).sort(), [Outcome.Duplicate, Outcome.RolledBack]);
      assert.equal((await world.notifications()).length, 1);
      assert.equal((await world.store.history("payments")).filter((e) => e.action === "roll-back").length, 1);
      assert.deepEqual(await weights(), { blue: 100, green: 0 });
    });

    it("lets only one copy send a pending notification, and a crashed copy's lease be taken over", async () => {
      // Prepare: a rollback recorded, its notification pending (SNS failed).
      proxy.inject("Publish", "unavailable", 3);
      const alarm = await world.setAlarm(greenErrors(), "ALARM");
      await assert.rejects(h.handler(alarmActionEvent(alarm)));
      const [n] = await world.store.pendingNotifications("payments");
      // Act: a copy claims it and "crashes" (never settles); two copies then try at once.
      assert.equal(await world.store.claimNotification("payments", n.sk, "crashed", Date.now(), 30_000), true);
      assert.equal(await world.store.claimNotification("payments", n.sk, "other", Date.now(), 30_000), false, "held by the crashed copy");
      const later = Date.now() + 31_000;
      const c1 = handlerDeps(proxy.endpoint, world.topicArn, { now: () => later });
      const c2 = handlerDeps(proxy.endpoint, world.topicArn, { now: () => later });
      const sent = await Promise.all([c1.handler.deliverPending("payments"), c2.handler.deliverPending("payments")]);
      // Assess
      assert.deepEqual(sent.sort(), [0, 1]);
      assert.equal((await world.notifications()).length, 1);
      assert.equal((await world.store.pendingNotifications("payments")).length, 0);
    });
  });

  describe("oversized alarm reasons", () => {
    it("truncates what it records so a 500 KB reason still flips, records and notifies", async () => {
      // Prepare: DynamoDB would refuse a 500 KB attribute on every retry.
      // (What is recorded is CloudWatch's reason, read back with DescribeAlarms.)
      const huge = `Threshold Crossed: ${"x".repeat(500 * 1024)}`;
      const alarm = await world.setAlarm(greenErrors(), "ALARM", huge);
      const event = alarmActionEvent(alarm);
      // Act
      const r = await h.handler(event);
      // Assess
      assert.equal(r.outcome, Outcome.RolledBack, JSON.stringify(r).slice(0, 300));
      const state = await world.store.get("payments");
      assert.equal(state?.phase, Phase.RolledBack);
      assert.ok((state?.lastRollback?.reason.length ?? Infinity) < 2_200);
      assert.match(state?.lastRollback?.reason ?? "", /^Threshold Crossed: x+\.\.\. \[truncated \d+ characters\]$/);
      const history = await world.store.history("payments");
      assert.ok(history[history.length - 1].summary.length < 2_300);
      assert.deepEqual(await weights(), { blue: 100, green: 0 });
      const [note] = await world.notifications();
      assert.match(note.message, /\[truncated \d+ characters\]/);
    });
  });

  describe("alarms of another account or region", () => {
    it("ignores an alarm with this stack's name from another account or region, in all three shapes", async () => {
      const alarm = await world.setAlarm(greenErrors(), "ALARM");
      const otherAccount = { ...alarm, AlarmArn: String(alarm.AlarmArn).replace(`:${ACCOUNT}:`, ":999999999999:") };
      const otherRegion = { ...alarm, AlarmArn: String(alarm.AlarmArn).replace(`:${REGION}:`, ":us-east-1:") };
      const cases = [
        [alarmActionEvent(otherAccount), /is in account 999999999999, not this stack's account 123456789012/],
        [snsEvent(otherAccount, world.topicArn), /is in account 999999999999/],
        [eventBridgeEvent(otherRegion), /is in region us-east-1, not this stack's region eu-west-1/],
      ] as const;
      for (const [event, why] of cases) {
        const r = await h.handler(event);
        assert.equal(r.outcome, Outcome.Ignored);
        assert.match(r.results[0].reason, why);
      }
      // An SNS notification without AlarmArn cannot be attributed: not acted on either.
      const unattributed = snsEvent(alarm, world.topicArn);
      const msg = JSON.parse(unattributed.Records[0].Sns.Message) as Record<string, unknown>;
      delete msg.AlarmArn;
      unattributed.Records[0].Sns.Message = JSON.stringify(msg);
      const r = await h.handler(unattributed);
      assert.match(r.results[0].reason, /cannot tell which account and region/);
      assert.equal(proxy.forwarded.GetItem, undefined, "decided before reading release state");
      assert.deepEqual(await weights(), { blue: 90, green: 10 });
      // A well-formed ARN of this account and region that is not an alarm's (the listener rule's)
      // is not an alarm ARN: refused in every shape that carries one, before release state is read.
      const ruleArn = payments().routing.ruleArn;
      const forged = { ...alarm, AlarmArn: ruleArn };
      const viaBridge = eventBridgeEvent(alarm) as unknown as { resources: string[] };
      viaBridge.resources = [ruleArn.replace("listener-rule", "alarm:listener-rule")];
      for (const event of [alarmActionEvent(forged), snsEvent(forged, world.topicArn), viaBridge]) {
        const f = await h.handler(event);
        assert.equal(f.outcome, Outcome.Ignored, JSON.stringify(f).slice(0, 300));
        assert.match(f.results[0].reason, /is not a CloudWatch alarm ARN/);
      }
      assert.equal(proxy.forwarded.GetItem, undefined, "decided before reading release state");
      assert.deepEqual(await weights(), { blue: 90, green: 10 });
      // The genuine alarm still rolls back.
      assert.equal((await h.handler(alarmActionEvent(alarm))).outcome, Outcome.RolledBack);
    });
  });

  describe("after a promotion, inside the rollback window", () => {
    it("sends traffic back to the still-warm previous version when the new stable alarms", async () => {
      // Prepare: v2 (green) promoted with a 60-minute window; v1 (blue) is the warm previous.
      await write({ type: "promote", rollbackWindowMinutes: 60, at: new Date().toISOString(), by: "pulumi:prod" });
      await moveRuleByHand(world.clients.elb, payments().routing, { blue: 0, green: 100 });
      const alarm = await world.setAlarm(greenErrors(), "ALARM", "Threshold Crossed: 5xx 30%");
      // Act
      const r = await h.handler(alarmActionEvent(alarm));
      // Assess
      assert.equal(r.outcome, Outcome.RolledBack, JSON.stringify(r));
      assert.deepEqual(await weights(), { blue: 100, green: 0 });
      const state = await world.store.get("payments");
      assert.equal(state?.phase, Phase.RolledBack);
      assert.deepEqual(state?.stable, { slot: Slot.Blue, version: "v1" });
      assert.deepEqual(state?.candidate, { slot: Slot.Green, version: "v2" });
      assert.equal(state?.lastRollback?.afterPromotion, true);
      const [note] = await world.notifications();
      assert.match(note.message, /v2 \(green\) -> v1 \(blue\), after its promotion, inside the rollback window/);
    });

    it("does not act once the window is closed, nor on an alarm of the idle previous slot", async () => {
      const promotedAt = new Date(Date.now() - 5 * 60_000).toISOString();
      await write({ type: "promote", rollbackWindowMinutes: 2, at: promotedAt, by: "pulumi:prod" });
      await moveRuleByHand(world.clients.elb, payments().routing, { blue: 0, green: 100 });
      const closed = await h.handler(alarmActionEvent(await world.setAlarm(greenErrors(), "ALARM")));
      assert.equal(closed.outcome, Outcome.Ignored);
      assert.match(closed.results[0].reason, /the rollback window of v1 \(blue\) closed at /);
      const idle = await h.handler(alarmActionEvent(await world.setAlarm(payments().alarmNames.blue["error-rate"], "ALARM")));
      assert.match(idle.results[0].reason, /blue holds the previous version v1, which receives no traffic/);
      assert.deepEqual(await weights(), { blue: 0, green: 100 });
      assert.equal(proxy.forwarded.ModifyRule, undefined);
    });

    it("lets an operator roll a promoted release back while the window is open", async () => {
      await write({ type: "promote", rollbackWindowMinutes: 60, at: new Date().toISOString(), by: "pulumi:prod" });
      await moveRuleByHand(world.clients.elb, payments().routing, { blue: 0, green: 100 });
      const r = await h.handler.manual({ service: "payments", reason: "checkout errors seen by support", by: "operator:alice" });
      assert.equal(r.outcome, Outcome.RolledBack, JSON.stringify(r));
      assert.deepEqual(await weights(), { blue: 100, green: 0 });
      assert.equal((await world.store.get("payments"))?.lastRollback?.by, "operator:alice");
      assert.equal((await world.notifications()).length, 1);
    });
  });
});
