/**
 * Custom and relative alarms behave exactly like the built-in ones, against moto: the alarms are
 * created in CloudWatch from the same definitions AutoRollback deploys, the tests put them in
 * ALARM with SetAlarmState (moto does not evaluate metrics or fire actions) and deliver the
 * alarm action's event to the rollback handler, tick the release driver, and read `remedy status`.
 */
import { strict as assert } from "node:assert";
import { Logger } from "@aws-lambda-powertools/logger";
import { gatherServiceDetail, formatServiceDetail } from "../../cli/commands/serviceStatus";
import { createReleaseDriver } from "../../lambdas/commons/releaseDriver";
import { Outcome } from "../../lambdas/commons/rollbackHandler";
import type { ServiceInput } from "../../core/config";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { useMoto } from "../helpers/moto";
import { PREFIX, clients, createWorld, handlerDeps, startProgressive, type World } from "../helpers/rollbackWorld";

const ALARMS: NonNullable<ServiceInput["alarms"]> = {
  relative: { errorRatePoints: 2 },
  custom: [
    { name: "checkout-errors", description: "checkout failures", metric: { namespace: "Payments", name: "CheckoutErrors", dimensions: { Slot: "{slot}", Version: "{version}" }, statistic: "Sum" }, threshold: 5, periodSeconds: 10 },
    { name: "queue-age", metric: { namespace: "Payments", name: "QueueAge", dimensions: { Slot: "{slot}" }, statistic: "p90" }, threshold: 30, action: "page" },
  ],
};

describe("custom and relative alarms: roll back, gate the driver and show in status like the built-in ones (moto)", function () {
  this.timeout(60_000);
  const suite = useMoto();
  let world: World;
  const names = () => world.services.payments.alarmNames;
  beforeEach(async () => {
    world = await createWorld(suite.moto.endpoint, ["payments"], 10, { alarms: ALARMS }); // v2 on green at 10%
    await world.notifications();
  });

  it("records the alarm kinds in the release state and creates each alarm per slot with its placeholders filled", async () => {
    const state = await world.store.get("payments");
    assert.deepEqual(state?.routing.alarmKinds, ["error-rate", "latency-p99", "unhealthy-hosts", "connection-errors", "error-rate-vs-stable", "custom-checkout-errors", "custom-queue-age"]);
    const green = await world.setAlarm(names().green["custom-checkout-errors"], "OK");
    assert.equal(green.Period, 10);
    assert.deepEqual(green.Dimensions, [
      { Name: "Slot", Value: "green" },
      { Name: "Version", Value: "v2" },
    ]);
    const vs = await world.setAlarm(names().green["error-rate-vs-stable"], "OK");
    assert.deepEqual(vs.Metrics?.map((m) => m.Id), ["cErr", "cReq", "sErr", "sReq", "cRate", "sRate", "excess"]);
  });

  for (const kind of ["custom-checkout-errors", "error-rate-vs-stable"]) {
    it(`rolls the candidate back when ${kind} fires, recorded and told with the alarm's name`, async () => {
      // Prepare: the page-only custom alarm fires too, for the "also firing" line.
      await world.setAlarm(names().green["custom-queue-age"], "ALARM", "Threshold Crossed: queue age 41 s");
      const alarm = await world.setAlarm(names().green[kind], "ALARM", `Threshold Crossed: ${kind}`);
      const { handler } = handlerDeps(suite.moto.endpoint, world.topicArn);
      // Act
      const result = await handler(alarmActionEvent(alarm));
      // Assess
      assert.equal(result.results[0].outcome, Outcome.RolledBack, JSON.stringify(result));
      assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
      const state = await world.store.get("payments");
      assert.equal(state?.lastRollback?.by, `${PREFIX}/payments/green/${kind}`);
      const told = await world.notifications();
      assert.deepEqual(told.map((n) => n.subject), ["remedy: payments rolled back to v1"]);
      assert.match(told[0].message, new RegExp(`${PREFIX}/payments/green/${kind}`));
      // The page-only custom alarm is named among the others firing: the handler used the recorded kinds.
      assert.match(told[0].message, /Also firing: .*remedy-test\/payments\/green\/custom-queue-age/);
    });
  }

  describe("after a promotion, inside the rollback window (issue 35, 6)", () => {
    /** A canary of v3 into green, stepped and promoted by the driver; returns the clock after it. */
    async function promoted(): Promise<number> {
      const T0 = Date.now() - 3_600_000;
      await startProgressive(world, "payments", new Date(T0 - 1000).toISOString());
      let clock = T0;
      const d = createReleaseDriver({ services: ["payments"], store: world.store, traffic: world.traffic, cloudwatch: clients(suite.moto.endpoint).cw, alarmPrefix: PREFIX, logger: new Logger({ logLevel: "SILENT" }), now: () => clock });
      for (const minute of [0, 5, 15]) {
        clock = T0 + minute * 60_000;
        await d.tick();
      }
      assert.equal((await world.store.get("payments"))?.phase, "promoted");
      await world.notifications();
      return clock;
    }

    it("a custom alarm alone does not revert a promoted release: it pages with the opt-in and the command", async () => {
      const at = await promoted();
      const alarm = await world.setAlarm(names().green["custom-checkout-errors"], "ALARM", "Threshold Crossed: checkout errors 9");
      const { handler } = handlerDeps(suite.moto.endpoint, world.topicArn, { now: () => at + 60_000 });
      const r = await handler(alarmActionEvent(alarm));
      assert.equal(r.outcome, Outcome.Escalated, JSON.stringify(r));
      assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 0, green: 100 });
      const told = await world.notifications();
      assert.match(told[0]?.message ?? "", /a custom metric alone does not revert a promoted release .*customRevertsPromotion: true.*remedy rollback payments/);
    });

    it("reverts it when the service opted in (alarms.customRevertsPromotion), as a built-in alarm does", async () => {
      const at = await promoted();
      const s = await world.store.get("payments");
      if (!s) throw new Error("no state");
      await world.store.commit(s.revision, { ...s, revision: s.revision + 1, routing: { ...s.routing, customRevertsPromotion: true } }, { service: "payments", revision: s.revision + 1, at: new Date(at).toISOString(), by: "pulumi:test", action: "update-routing", releaseId: s.releaseId, summary: "routing", weights: s.weights });
      const alarm = await world.setAlarm(names().green["custom-checkout-errors"], "ALARM", "Threshold Crossed: checkout errors 9");
      const { handler } = handlerDeps(suite.moto.endpoint, world.topicArn, { now: () => at + 60_000 });
      const r = await handler(alarmActionEvent(alarm));
      assert.equal(r.outcome, Outcome.RolledBack, JSON.stringify(r));
      assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
    });
  });

  it("changes nothing when a custom alarm fires on the stable slot", async () => {
    const alarm = await world.setAlarm(names().blue["custom-checkout-errors"], "ALARM");
    const { handler } = handlerDeps(suite.moto.endpoint, world.topicArn);
    const result = await handler(alarmActionEvent(alarm));
    assert.notEqual(result.results[0].outcome, Outcome.RolledBack, JSON.stringify(result));
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 90, green: 10 });
  });

  it("holds the release driver while a page-only custom alarm fires on the candidate, and steps once it clears", async () => {
    const T0 = Date.now() - 3_600_000;
    let clock = T0;
    await startProgressive(world, "payments", new Date(T0 - 1000).toISOString());
    const logger = new Logger({ serviceName: "remedy-release-driver", logLevel: "SILENT" });
    const d = createReleaseDriver({ services: ["payments"], store: world.store, traffic: world.traffic, cloudwatch: clients(suite.moto.endpoint).cw, alarmPrefix: PREFIX, logger, now: () => clock });
    const tick = async () => (await d.tick()).find((r) => r.service === "payments");
    assert.equal((await tick())?.decision, "advance"); // 10%
    await world.setAlarm(names().green["custom-queue-age"], "ALARM");
    clock = T0 + 6 * 60_000;
    const held = await tick();
    assert.equal(held?.decision, "hold");
    assert.match(held?.reason ?? "", /candidate alarms in ALARM: remedy-test\/payments\/green\/custom-queue-age; not advancing/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 90, green: 10 });
    await world.setAlarm(names().green["custom-queue-age"], "OK");
    assert.equal((await tick())?.decision, "advance");
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 0, green: 100 });
  });

  it("shows every custom and relative alarm in `remedy status <service>` with its state and reason", async () => {
    await world.setAlarm(names().green["custom-checkout-errors"], "ALARM", "Threshold Crossed: 2 out of the last 3 datapoints [9.0, 7.0] were >= 5.0");
    const c = clients(suite.moto.endpoint);
    const detail = await gatherServiceDetail(world.store, c.cw, PREFIX, "test", "payments");
    const kinds = detail?.alarms.filter((a) => a.slot === "green").map((a) => a.kind);
    assert.deepEqual(kinds, ["connection-errors", "custom-checkout-errors", "custom-queue-age", "error-rate", "error-rate-vs-stable", "latency-p99", "unhealthy-hosts"]);
    const text = formatServiceDetail(detail as NonNullable<typeof detail>);
    // A custom alarm by the name its config gives it, as history and the page name it (issue 36, 10).
    assert.match(text, /\n {16}green\/checkout-errors {6}ALARM {13}Threshold Crossed: 2 out of/);
    assert.match(text, /blue\/checkout-errors {7}OK\n {16}blue\/connection-errors {5}OK\n/, "in order of the names shown, aligned to the longest (green/error-rate-vs-stable)");
    assert.doesNotMatch(text, /custom-/);
    for (const line of text.split("\n")) assert.ok(line.length <= 100, line);
  });
});
