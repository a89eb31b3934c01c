/**
 * The release driver's tick against moto_server with the clock injected: a canary steps and
 * promotes on its own, holds while an alarm fires or the candidate is unhealthy, ignores
 * duplicate ticks, and loses every race to the rollback Lambda.
 */
import { strict as assert } from "node:assert";
import { Logger } from "@aws-lambda-powertools/logger";
import { normalizeStrategy } from "../../core/progressive";
import { Phase, applyEvent, type ReleaseEvent } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { createReleaseDriver } from "../../lambdas/commons/releaseDriver";
import { Outcome } from "../../lambdas/commons/rollbackHandler";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { useMotoBehindProxy } from "../helpers/faultProxy";
import { PREFIX, capture, clients, createWorld, handlerDeps, type World } from "../helpers/rollbackWorld";

describe("lambdas/releaseDriver: progressive steps against moto_server", function () {
  this.timeout(60_000);
  const env = useMotoBehindProxy();
  let world: World;
  let clock: number;
  // In the past: alarms SetAlarmState puts in ALARM now are observed after the release started.
  const T0 = Date.now() - 3_600_000;
  const at = (minutes: number) => T0 + minutes * 60_000;

  /** Starts v3 on green as a canary (10% for 5 min, bake 10 min) from the world's state. */
  async function startCanary(): Promise<void> {
    const s = await world.store.get("payments");
    if (!s) throw new Error("no state");
    const events: ReleaseEvent[] = [
      { type: "shift-weight", weight: 0, at: new Date(T0 - 2000).toISOString(), by: "pulumi:test" },
      {
        type: "start-release",
        candidate: { slot: Slot.Green, version: "v3" },
        weight: 0,
        progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }), rollbackWindowMinutes: 30 },
        at: new Date(T0 - 1000).toISOString(),
        by: "pulumi:test",
      },
    ];
    let state = s;
    for (const e of events) {
      const t = applyEvent(state, e);
      if (t.kind !== "applied") throw new Error(t.reason);
      await world.store.commit(state.revision, t.state, t.entry);
      state = t.state;
    }
    await world.traffic.setWeights(state.routing, state.weights);
  }

  function driver() {
    const c = clients(env.proxy.endpoint);
    const logger = new Logger({ serviceName: "remedy-release-driver" });
    capture(logger);
    return createReleaseDriver({ store: world.store, traffic: world.traffic, cloudwatch: c.cw, alarmPrefix: PREFIX, logger, now: () => clock });
  }

  const weights = () => world.traffic.currentWeights(world.services.payments.routing);
  const tickPayments = async (d: ReturnType<typeof driver>) => (await d.tick()).find((r) => r.service === "payments");

  beforeEach(async () => {
    world = await createWorld(env.moto.endpoint, ["payments"]);
    await startCanary();
  });

  it("steps a canary on its own: 10%, then 100% after 5 minutes, promotes after the 10-minute bake", async () => {
    const d = driver();
    const timeline: string[] = [];
    for (const [minute, duplicate] of [[0, false], [1, false], [1, true], [5, false], [5, true], [14, false], [15, false]] as const) {
      clock = at(minute);
      const r = await tickPayments(d);
      const w = await weights();
      timeline.push(`${minute}${duplicate ? "(dup)" : ""}:${r?.decision}:${w.blue}/${w.green}`);
    }
    assert.deepEqual(timeline, ["0:advance:90/10", "1:hold:90/10", "1(dup):hold:90/10", "5:advance:0/100", "5(dup):hold:0/100", "14:hold:0/100", "15:promote:0/100"]);
    const s = await world.store.get("payments");
    assert.equal(s?.phase, Phase.Promoted);
    assert.deepEqual(s?.stable, { slot: Slot.Green, version: "v3" });
    assert.equal(s?.rollbackWindowEndsAt, new Date(at(15) + 30 * 60_000).toISOString(), "the promotion opens the rollback window");
    const history = (await world.store.history("payments")).map((h) => `${h.action} by ${h.by}`);
    assert.deepEqual(history.slice(-3), ["advance-step by release-driver", "advance-step by release-driver", "promote by release-driver"]);
  });

  it("never advances while a candidate alarm is in ALARM or the candidate has no healthy targets", async () => {
    const d = driver();
    clock = at(0);
    await tickPayments(d); // 10%
    await world.setAlarm(world.services.payments.alarmNames.green["latency-p99"], "ALARM");
    clock = at(6);
    const held = await tickPayments(d);
    assert.equal(held?.decision, "hold");
    assert.match(held?.reason ?? "", /candidate alarms in ALARM: remedy-test\/payments\/green\/latency-p99; not advancing/);
    await world.setAlarm(world.services.payments.alarmNames.green["latency-p99"], "OK");
    await world.deregisterAll("payments", Slot.Green);
    const unhealthy = await tickPayments(d);
    assert.match(unhealthy?.reason ?? "", /no healthy targets/);
    assert.deepEqual(await weights(), { blue: 90, green: 10 });
  });

  it("loses the race to the rollback Lambda: a rollback between the driver's record and its flip keeps traffic on stable", async () => {
    // Prepare: the rollback Lambda handles the candidate's alarm right after the driver recorded
    // its first step, before the driver moves the rule.
    const d = driver();
    const h = handlerDeps(env.proxy.endpoint, world.topicArn);
    const realSet = world.traffic.setWeights.bind(world.traffic);
    let raced = false;
    world.traffic.setWeights = async (routing, w) => {
      if (!raced && w.green === 10) {
        raced = true;
        const alarm = await world.setAlarm(world.services.payments.alarmNames.green["error-rate"], "ALARM");
        const r = await h.handler(alarmActionEvent(alarm));
        assert.equal(r.outcome, Outcome.RolledBack, JSON.stringify(r));
      }
      return realSet(routing, w);
    };
    clock = at(0);
    // Act
    const r = await tickPayments(d);
    // Assess
    assert.equal(r?.decision, "conflict");
    assert.match(r?.reason ?? "", /release became rolled-back right after the step; the rule follows it/);
    assert.deepEqual(await weights(), { blue: 100, green: 0 });
    assert.equal((await world.store.get("payments"))?.phase, Phase.RolledBack);
    clock = at(10);
    assert.equal((await tickPayments(d))?.decision, "skipped", "a rolled-back release is not driven");
  });

  it("promotes at once when an operator asks for --full, and puts a drifted rule back before deciding", async () => {
    const d = driver();
    clock = at(0);
    await tickPayments(d);
    const s = await world.store.get("payments");
    if (!s) throw new Error("no state");
    const t = applyEvent(s, { type: "request-promote", mode: "full", at: new Date(at(1)).toISOString(), by: "operator:ana" });
    if (t.kind !== "applied") throw new Error(t.reason);
    await world.store.commit(s.revision, t.state, t.entry);
    await world.traffic.setWeights(s.routing, { blue: 50, green: 50 }); // someone edited the rule by hand
    clock = at(1);
    assert.equal((await tickPayments(d))?.decision, "promote");
    assert.deepEqual(await weights(), { blue: 0, green: 100 });
  });
});
