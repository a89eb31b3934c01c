/**
 * The release driver's tick against moto_server with the clock injected: a canary steps and
 * promotes on its own, holds while an alarm fires or the candidate is unhealthy, ignores
 * duplicate ticks, and loses every race to the rollback Lambda.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { Logger } from "@aws-lambda-powertools/logger";
import { type PreTrafficCheck, normalizeStrategy } from "../../core/progressive";
import { Phase, applyEvent } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { type DriverDeps, createReleaseDriver, tickTime } from "../../lambdas/commons/releaseDriver";
import { Outcome } from "../../lambdas/commons/rollbackHandler";
import { Traffic } from "../../lambdas/commons/traffic";
import { createKubeScaler } from "../../lambdas/commons/kube";
import { PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { loadBalancerDimension, targetGroupDimension } from "../../core/alarms";
import { listenerOfRule, slotWeight } from "../../lambdas/commons/traffic";
import { type FakeKubeApi, startFakeKubeApi } from "../helpers/fakeKubeApi";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { useMotoBehindProxy } from "../helpers/faultProxy";
import { PREFIX, type ProgressiveStart, capture, clientConfig, clients, createWorld, handlerDeps, startProgressive, type World, moveRuleByHand } from "../helpers/rollbackWorld";
import { AddTagsCommand, RemoveTagsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { testRouteSecretReader } from "../../lambdas/commons/testRouteSecret";
import { testRouteValueSha256 } from "../../core/config/service";

describe("lambdas/releaseDriver: progressive steps against moto_server", function () {
  this.timeout(60_000);
  const env = useMotoBehindProxy();
  let world: World;
  let clock: number;
  // In the past: alarms SetAlarmState puts in ALARM now are observed after the release started.
  const T0 = Date.now() - 3_600_000;
  const at = (minutes: number) => T0 + minutes * 60_000;

  const startCanary = (service = "payments", extra: ProgressiveStart = {}) => startProgressive(world, service, new Date(T0 - 1000).toISOString(), extra);

  function driver(extra: Partial<Pick<DriverDeps, "lambda" | "retire" | "store" | "services" | "testRouteValue">> = {}) {
    const c = clients(env.proxy.endpoint);
    const logger = new Logger({ serviceName: "remedy-release-driver" });
    capture(logger);
    return createReleaseDriver({ services: ["payments"], store: world.store, traffic: world.traffic, cloudwatch: c.cw, alarmPrefix: PREFIX, logger, now: () => clock, ...extra });
  }

  const weights = () => world.traffic.currentWeights(world.services.payments.routing);
  const tickPayments = async (d: ReturnType<typeof driver>) => (await d.tick()).find((r) => r.service === "payments");

  beforeEach(async () => {
    // Recorded before T0: history never goes back in time (core/releaseState.ts).
    world = await createWorld(env.moto.endpoint, ["payments"], 10, { recordedAt: T0 - 3_600_000 });
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

  it("says which service each per-service log line is about (Powertools keeps `service` for the function's own name) (issue 34, 16)", async () => {
    // Prepare
    const logger = new Logger({ serviceName: "remedy-release-driver" });
    const lines = capture(logger);
    const c = clients(env.proxy.endpoint);
    const d = createReleaseDriver({ services: ["payments"], store: world.store, traffic: world.traffic, cloudwatch: c.cw, alarmPrefix: PREFIX, logger, now: () => clock });
    clock = at(0);
    // Act: a step.
    await tickPayments(d);
    // Assess: the step's line names payments; `service` stays the function's.
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const step = logged.find((l) => /step 1\/2: 10%/.test(String(l.message)));
    assert.ok(step, lines.join("\n"));
    assert.deepEqual([step.targetService, step.service], ["payments", "remedy-release-driver"]);
  });

  it("times steps from the schedule's time, not the invocation's: linear 25% / 2 min moves at 1, 3, 5, 7 and promotes after the bake", async () => {
    // Prepare: a linear release; each invocation starts a little less late after its scheduled
    // minute than the one before (the jitter that made steps one tick late).
    const s = await world.store.get("payments");
    if (!s) throw new Error("no state");
    await world.store.commit(s.revision, { ...s, revision: s.revision + 1, progress: { ...(s.progress as NonNullable<typeof s.progress>), strategy: normalizeStrategy({ kind: "linear", stepPercent: 25, minutes: 2, bakeMinutes: 3 }) } }, { service: "payments", revision: s.revision + 1, at: new Date(T0).toISOString(), by: "pulumi:test", action: "start-release", releaseId: s.releaseId, summary: "linear", weights: s.weights });
    const d = driver();
    const moved: string[] = [];

    // Act: the schedule fires every minute from 1 to 11.
    for (let minute = 1; minute <= 11; minute++) {
      clock = at(minute) + 1_000 - minute * 60; // 940 ms late at minute 1, 340 ms at minute 11
      const r = (await d.tick({ scheduledAt: new Date(at(minute)).toISOString().replace(/\.\d{3}Z$/, "Z") })).find((x) => x.service === "payments");
      if (r?.decision === "advance" || r?.decision === "promote") moved.push(`${minute}:${r.decision}:${r.weights?.green ?? "?"}`);
    }

    // Assess
    assert.deepEqual(moved, ["1:advance:25", "3:advance:50", "5:advance:75", "7:advance:100", "10:promote:100"]);
    const steps = (await world.store.history("payments")).filter((h) => h.action === "advance-step").map((h) => h.at);
    assert.deepEqual(steps, [1, 3, 5, 7].map((m) => new Date(Math.floor(at(m) / 1000) * 1000).toISOString()), "recorded at the scheduled minute");
    // A time far off the wall clock (a replayed event) is not trusted: the wall clock decides.
    assert.equal(tickTime("2020-01-01T00:00:00Z", at(1)), at(1));
    assert.equal(tickTime("not a time", at(1)), at(1));
    // Nor one ahead of the clock, however close (a copied schedule event with a forged time would
    // advance steps early); one a little in the past is the invocation's lateness (issue 35, 19).
    assert.equal(tickTime(new Date(at(1) + 60_000).toISOString(), at(1)), at(1));
    assert.equal(tickTime(new Date(at(1) + 1_000).toISOString(), at(1)), at(1));
    assert.equal(tickTime(new Date(at(1) - 1_000).toISOString(), at(1)), at(1) - 1_000);
  });

  it("ticks services concurrently within the invocation's deadline: hanging checks are cut and recorded as failed runs, another service's due step still happens", async () => {
    // Prepare: three services; orders and search have pre-traffic checks that never answer
    // (timeout 30 s), payments has a canary due. The invocation reports 5.5 s left (a fixed
    // answer, so the test does not depend on how fast this machine is): 1.5 s for the checks.
    await env.moto.reset();
    world = await createWorld(env.moto.endpoint, ["orders", "payments", "search"]);
    const hole = http.createServer(() => undefined);
    await new Promise<void>((resolve) => hole.listen(0, "127.0.0.1", resolve));
    try {
      const check: PreTrafficCheck = { kind: "http", url: `http://127.0.0.1:${(hole.address() as AddressInfo).port}/hang`, header: "x-remedy-candidate", value: "1", expectStatus: [200, 299], timeoutSeconds: 30 };
      await startCanary("orders", { preTraffic: { check, maxAttempts: 3 } });
      await startCanary("payments");
      await startCanary("search", { preTraffic: { check, maxAttempts: 3 } });
      const d = driver({ services: ["orders", "search", "payments"] });
      clock = at(0);

      // Act
      const started = Date.now();
      const results = await d.tick({ remainingMs: () => 5_500 });

      // Assess
      const by = Object.fromEntries(results.map((r) => [r.service, r]));
      assert.equal(by.payments.decision, "advance", "the third service's due step happened");
      for (const svc of ["orders", "search"]) {
        assert.equal(by[svc].decision, "hold");
        assert.match(by[svc].reason, /^pre-traffic check failed \(1\/3\): GET http:\/\/127\.0\.0\.1:\d+\/hang failed: the request was cut short after \d+ ms by the release driver's deadline \(its timeout is 30 s\); counted as a failed run$/);
        const st = await world.store.get(svc);
        assert.equal(st?.progress?.preTraffic?.attempts, 1, `${svc}: the cut run is recorded, so it is not rerun as if new`);
      }
      assert.ok(Date.now() - started < 25_000, "the checks were cut by the budget, not run to their 30 s timeout");
      // A tick with too little time left does not start a check at all.
      const late = await d.tick({ remainingMs: () => 2_000 });
      assert.match(late.find((r) => r.service === "orders")?.reason ?? "", /^\d+ ms left in this tick: the pre-traffic check runs next tick$/);
      // And with under a second left, no service is started at all.
      const spent = await d.tick({ remainingMs: () => 400 });
      assert.deepEqual(spent.map((r) => [r.service, r.decision, r.reason]), ["orders", "search", "payments"].map((svc) => [svc, "skipped", "400 ms left in this tick: not started, next tick"]));
    } finally {
      hole.closeAllConnections();
      await new Promise<void>((resolve) => hole.close(() => resolve()));
    }
  });

  it("is safe under overlap: two ticks at once record one step and move the rule once; a stale tick never moves it back", async () => {
    // Prepare: two copies of the driver (as if reserved concurrency were lifted), the canary due.
    const moves: string[] = [];
    const realSet = world.traffic.setWeights.bind(world.traffic);
    world.traffic.setWeights = (r, w) => (moves.push(`${w.blue}/${w.green}`), realSet(r, w));
    const [a, b] = [driver(), driver()];
    clock = at(0);

    // Act 1
    const [ra, rb] = await Promise.all([tickPayments(a), tickPayments(b)]);

    // Assess 1: at most one advance (the other lost the conditional write); the rule moved as
    // often as a step was recorded. Two transactions on one item at once may both be cancelled
    // (DynamoDB's TransactionConflict), which records nothing: then the next tick takes the step.
    const decisions = [ra?.decision, rb?.decision];
    assert.ok(decisions.every((d) => d === "advance" || d === "conflict"), `${ra?.reason} | ${rb?.reason}`);
    const advanced = decisions.filter((d) => d === "advance").length;
    assert.ok(advanced <= 1, `${ra?.reason} | ${rb?.reason}`);
    assert.deepEqual(moves, advanced === 1 ? ["90/10"] : []);
    assert.equal((await world.store.history("payments")).filter((h) => h.action === "advance-step").length, advanced);
    if (advanced === 0) {
      assert.equal((await tickPayments(a))?.decision, "advance");
      assert.deepEqual(moves, ["90/10"]);
    }

    // Act 2: the next step lands; a tick that read the state before it (at 10%) comes late.
    const stale = await world.store.get("payments");
    clock = at(5);
    await tickPayments(a);
    assert.deepEqual(await weights(), { blue: 0, green: 100 });
    moves.length = 0;
    let reads = 0;
    // (The tick's first read is its batch read of every progressive service's state.)
    const staleStore = Object.assign(Object.create(world.store) as typeof world.store, {
      getMany: (services: readonly string[]) => (reads++ === 0 && stale ? Promise.resolve(new Map([["payments", stale]])) : world.store.getMany(services)),
    });
    const late = await tickPayments(driver({ store: staleStore }));

    // Assess 2: it sees the rule "off" its stale record, re-reads, and leaves the rule alone.
    assert.equal(late?.decision, "hold");
    assert.match(late?.reason ?? "", /not repaired: release state moved on/);
    assert.deepEqual(moves, [], "the rule never went back to 90/10");
    assert.deepEqual(await weights(), { blue: 0, green: 100 });
  });

  it("ticks once however many invocations run at once: the table's tick lease, not a concurrency of 1 (issue 35, 19)", async () => {
    // Prepare: the schedule's invocation and a flood of direct invokes, all at once.
    const moves: string[] = [];
    const realSet = world.traffic.setWeights.bind(world.traffic);
    world.traffic.setWeights = (r, w) => (moves.push(`${w.blue}/${w.green}`), realSet(r, w));
    const d = driver();
    clock = at(0);
    const holders = ["schedule", ...Array.from({ length: 12 }, (_, i) => `flood-${i}`)];

    // Act
    const results = await Promise.all(holders.map((h) => d.tick({ leaseHolder: h, remainingMs: () => 50_000 })));

    // Assess: one invocation stepped (whichever took the lease); the rest ended at once. A copy
    // whose claim itself failed (moto answering an error under load) ticks without the lease by
    // design (fail open) and loses to the conditional record: one step, one move, either way.
    const decisions = results.map((r) => r[0]?.decision);
    assert.equal(decisions.filter((d) => d === "advance").length, 1, JSON.stringify(decisions));
    assert.ok(decisions.every((d) => d === "advance" || d === "skipped" || d === "conflict"), JSON.stringify(decisions));
    assert.ok(decisions.filter((d) => d === "skipped").length >= Math.ceil(holders.length / 2), `most end at the lease: ${JSON.stringify(decisions)}`);
    for (const r of results.filter((x) => x[0]?.decision === "skipped")) assert.equal(r[0].reason, "another invocation is ticking (it holds the release driver's lease)");
    assert.deepEqual(moves, ["90/10"]);

    // Act + Assess: the lease was given back, so the next minute's tick runs.
    clock = at(1);
    assert.equal((await d.tick({ leaseHolder: "schedule-next", remainingMs: () => 50_000 }))[0].decision, "hold");
    // A holder that died keeps it only until its invocation would have ended.
    assert.equal(await world.store.claimTickLease("crashed", at(2), at(2) + 50_000), true);
    clock = at(2) + 10_000;
    assert.equal((await d.tick({ leaseHolder: "blocked", remainingMs: () => 50_000 }))[0].decision, "skipped");
    clock = at(2) + 50_001;
    assert.notEqual((await d.tick({ leaseHolder: "after-expiry", remainingMs: () => 50_000 }))[0].decision, "skipped");
  });

  it("refuses a record whose routing the rule does not have (and fails the tick, so the errors alarm pages)", async () => {
    // Prepare: payments' record names a target group of another load balancer setup.
    const s = await world.store.get("payments");
    if (!s) throw new Error("no state");
    const evil = s.routing.targetGroupArns.green.replace(/targetgroup\/[^/]+\//, "targetgroup/attacker-tg/");
    await world.store.commit(s.revision, { ...s, revision: s.revision + 1, routing: { ...s.routing, targetGroupArns: { ...s.routing.targetGroupArns, green: evil } } }, { service: "payments", revision: s.revision + 1, at: new Date(T0).toISOString(), by: "attacker", action: "update-routing", releaseId: s.releaseId, summary: "x", weights: s.weights });
    const moves: string[] = [];
    const realSet = world.traffic.setWeights.bind(world.traffic);
    world.traffic.setWeights = (r, w) => (moves.push(`${w.blue}/${w.green}`), realSet(r, w));
    clock = at(0);
    // Act
    const r = await tickPayments(driver());
    // Assess
    assert.equal(r?.decision, "hold");
    assert.equal(r?.failed, true);
    assert.match(r?.reason ?? "", /^release state of payments names target groups .*attacker-tg.* but its rule .* forwards to /);
    assert.deepEqual(moves, []);
    assert.deepEqual(await weights(), { blue: 100, green: 0 });
  });

  it("holds and fails the tick when the rule's remedy tags were removed or changed outside Pulumi, naming them and the fix (issue 35, 14)", async () => {
    // Prepare: someone with the AWS Load Balancer Controller's rights (AddTags/RemoveTags on
    // every rule) removes the rollback tag and re-points the driver's.
    const rule = world.services.payments.routing.ruleArn;
    await world.clients.elb.send(new RemoveTagsCommand({ ResourceArns: [rule], TagKeys: ["remedy:rollback"] }));
    await world.clients.elb.send(new AddTagsCommand({ ResourceArns: [rule], Tags: [{ Key: "remedy:release-driver", Value: "other-stack" }] }));
    clock = at(0);
    // Act
    const r = await tickPayments(driver());
    // Assess: no step, said with the tags and the fix; the tick fails so the errors alarm pages.
    assert.equal(r?.decision, "hold");
    assert.equal(r?.failed, true);
    assert.equal(
      r?.reason,
      "the rule's tags are not this stack's (remedy:release-driver=other-stack (want remedy-test), remedy:rollback missing): automatic rollback cannot move it; run pulumi up (it puts them back) and find who changed them in CloudTrail (elasticloadbalancing RemoveTags/AddTags)",
    );
    assert.deepEqual(await weights(), { blue: 100, green: 0 });
    assert.equal((await world.store.get("payments"))?.weights.green, 0, "no step recorded");
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

  it("a driver tick working from a state read before a rollback never leaves the rule undoing it", async () => {
    // Prepare: the canary at 10%; the driver's read is taken, then an operator's rollback
    // (flip + record) completes before the driver looks at the rule (found by bench/release-driver).
    const d0 = driver();
    clock = at(0);
    await tickPayments(d0);
    const stale = await world.store.get("payments");
    const h = handlerDeps(env.proxy.endpoint, world.topicArn);
    const rb = await h.handler.manual({ service: "payments", reason: "checkout errors reported by support", by: "operator:ana" });
    assert.equal(rb.outcome, Outcome.RolledBack);
    // The driver's first read returns the state from before the rollback; later reads are live.
    let reads = 0;
    // (The tick's first read is its batch read of every progressive service's state.)
    const staleStore = Object.assign(Object.create(world.store) as typeof world.store, {
      getMany: (services: readonly string[]) => (reads++ === 0 && stale ? Promise.resolve(new Map([["payments", stale]])) : world.store.getMany(services)),
    });
    const d = driver({ store: staleStore });
    const moves: string[] = [];
    const realSet = world.traffic.setWeights.bind(world.traffic);
    world.traffic.setWeights = (routing, w) => (moves.push(`${w.blue}/${w.green}`), realSet(routing, w));
    clock = at(6);

    // Act
    const r = (await d.tick()).find((x) => x.service === "payments");

    // Assess: the "repair" is checked against a fresh read right before ModifyRule: never made.
    assert.equal(r?.decision, "hold");
    assert.match(r?.reason ?? "", /^the rule differs from the record; not repaired: release state moved on \(revision \d+, phase rolled-back\)/);
    assert.deepEqual(moves, [], "the rule was never moved against the rollback, not even briefly");
    assert.deepEqual(await weights(), { blue: 100, green: 0 });
    assert.equal((await world.store.get("payments"))?.phase, Phase.RolledBack);
  });

  it("an alarm firing after the driver read the alarms: the rollback's flip lands before its record, and the driver's step never moves the rule back", async () => {
    // Prepare: the canary at 10%; at minute 5 the driver records its next step (100%). Right
    // after that record, the candidate's alarm fires and the rollback Lambda flips to 100/0 (its
    // record comes later: it flips first).
    const d0 = driver();
    clock = at(0);
    await tickPayments(d0);
    const alarmName = world.services.payments.alarmNames.green["error-rate"];
    const routing = world.services.payments.routing;
    const realSet = world.traffic.setWeights.bind(world.traffic);
    let flipped = false;
    const racingStore = Object.assign(Object.create(world.store) as typeof world.store, {
      commit: async (...args: Parameters<typeof world.store.commit>) => {
        await world.store.commit(...args);
        if (!flipped) {
          flipped = true;
          await world.setAlarm(alarmName, "ALARM");
          await moveRuleByHand(world.clients.elb, routing, { blue: 100, green: 0 }); // the rollback Lambda's flip
        }
      },
    });
    const moves: string[] = [];
    world.traffic.setWeights = (r, w) => (moves.push(`${w.blue}/${w.green}`), realSet(r, w));
    const d = driver({ store: racingStore });
    clock = at(5);

    // Act
    const r = await tickPayments(d);

    // Assess: recorded, but the rule stayed where the rollback put it.
    assert.ok(flipped);
    assert.equal(r?.decision, "conflict");
    assert.match(r?.reason ?? "", /^recorded advance-step but did not move the rule: candidate alarms in ALARM: .*error-rate/);
    assert.deepEqual(moves, [], "no ModifyRule from the driver after the flip");
    assert.deepEqual(await weights(), { blue: 100, green: 0 });
    // The rollback Lambda's record then lands on the newer revision.
    const h = handlerDeps(env.proxy.endpoint, world.topicArn);
    const alarm = await world.setAlarm(alarmName, "ALARM");
    assert.equal((await h.handler(alarmActionEvent(alarm))).outcome, Outcome.RolledBack);
    assert.equal((await world.store.get("payments"))?.phase, Phase.RolledBack);
    assert.deepEqual(await weights(), { blue: 100, green: 0 });
  });

  it("the rollback Lambda checks the rule after recording: a stale write landing between its flip and its record is undone", async () => {
    // Prepare: the canary at 10%; right after the handler's flip, a writer with the old state puts 90/10 back.
    const d0 = driver();
    clock = at(0);
    await tickPayments(d0);
    const before = await world.store.get("payments");
    if (!before) throw new Error("no state");
    const c = clients(env.proxy.endpoint);
    const traffic = new Traffic(c.elb);
    const realSet = traffic.setWeights.bind(traffic);
    let undone = false;
    traffic.setWeights = async (checked, w) => {
      await realSet(checked, w);
      if (!undone && w.blue === 100) {
        undone = true;
        await moveRuleByHand(c.elb, checked.routing, before.weights); // the stale writer lands after the flip
      }
    };
    const h = handlerDeps(env.proxy.endpoint, world.topicArn, { traffic });
    const alarm = await world.setAlarm(world.services.payments.alarmNames.green["error-rate"], "ALARM");

    // Act
    const r = await h.handler(alarmActionEvent(alarm));

    // Assess
    assert.equal(r.outcome, Outcome.RolledBack);
    assert.ok(undone, "the stale write happened");
    assert.deepEqual(await weights(), { blue: 100, green: 0 }, "the rule says what the record says");
    assert.ok(h.logs.some((l) => l.includes("the rule moved between the flip and the record")), h.logs.join("\n"));
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
    await moveRuleByHand(world.clients.elb, s.routing, { blue: 50, green: 50 }); // someone edited the rule by hand
    clock = at(1);
    assert.equal((await tickPayments(d))?.decision, "promote");
    assert.deepEqual(await weights(), { blue: 0, green: 100 });
  });

  /**
   * Runs `fn` with a stand-in cluster where payments-blue runs `image`, and a driver that may
   * scale it; the world's stable (v1 on blue) first learns its image, as `pulumi up` records it.
   */
  async function withCluster(image: string, fn: (api: FakeKubeApi, d: ReturnType<typeof driver>) => Promise<void>): Promise<void> {
    const kubeApi = await startFakeKubeApi();
    try {
      const s0 = await world.store.get("payments");
      if (!s0) throw new Error("no state");
      const entry = { service: "payments", revision: s0.revision + 1, at: new Date(T0).toISOString(), by: "pulumi:test", action: "record-images" as const, releaseId: s0.releaseId, summary: "images", weights: s0.weights };
      await world.store.commit(s0.revision, { ...s0, revision: s0.revision + 1, stable: { ...s0.stable, image: "registry/payments:v1" } }, entry);
      kubeApi.deployments.set("payments/payments-blue", { image, replicas: 3 });
      const kube = createKubeScaler({ endpoint: kubeApi.endpoint, certificateAuthorityData: kubeApi.certificateAuthorityData, cluster: "test-eks", region: "eu-west-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
      await fn(kubeApi, driver({ retire: { kube, namespaces: { payments: "payments" } } }));
    } finally {
      await kubeApi.close();
    }
  }

  it("scales the promoted-away slot to 0 once its rollback window ends, if it still runs that version; records it once", async () => {
    // Prepare: the canary gets promoted (window 30 min); blue still runs v1 in the stand-in cluster.
    await withCluster("registry/payments:v1", async (kubeApi, d) => {
      const timeline: string[] = [];

      // Act: promote (0, 5, 15), then ticks inside and after the window, and a duplicate.
      for (const minute of [0, 5, 15, 30, 45, 50, 51]) {
        clock = at(minute);
        const r = await tickPayments(d);
        timeline.push(`${minute}:${r?.decision}`);
      }

      // Assess: held through the window (ends at 45) and the 5-minute grace after it.
      assert.deepEqual(timeline, ["0:advance", "5:advance", "15:promote", "30:hold", "45:hold", "50:retire", "51:skipped"]);
      assert.deepEqual(kubeApi.deployments.get("payments/payments-blue"), { image: "registry/payments:v1", replicas: 0 });
      assert.deepEqual(kubeApi.requests.map((r) => r.method), ["GET", "PATCH"], "scaled once (a read, then the scale); the record stops the repeats");
      const s = await world.store.get("payments");
      assert.equal(s?.previousRetiredAt, new Date(at(50)).toISOString());
      assert.equal((await world.store.history("payments")).at(-1)?.summary, `v1 (blue) scaled to 0: its rollback window ended at ${new Date(at(45)).toISOString()}`);
    });
  });

  it("does not scale the previous slot while the rule sends it traffic (a last-moment rollback landing)", async () => {
    await withCluster("registry/payments:v1", async (kubeApi, d) => {
      await promoteCanary(d);
      // Prepare: the rule already points at blue, the rollback's record not yet written.
      const s = await world.store.get("payments");
      if (!s) throw new Error("no state");
      await moveRuleByHand(world.clients.elb, s.routing, { blue: 100, green: 0 });
      // Act
      clock = at(55);
      const r = await tickPayments(d);
      // Assess
      assert.equal(r?.decision, "skipped");
      assert.equal(r?.reason, "the rule sends 100% to v1 (blue); not scaling it down");
      assert.equal(kubeApi.requests.length, 0);
      assert.equal(kubeApi.deployments.get("payments/payments-blue")?.replicas, 3);
    });
  });

  it("decides a slot gets no traffic from the live rule and the slot's own target group, not the record's ARNs (issue 35, 3)", async () => {
    await withCluster("registry/payments:v1", async (kubeApi, d) => {
      await promoteCanary(d);
      // Prepare: green (v3) serves 100%. A table writer re-records the release with green as the
      // "previous" slot and a bogus group for it, so the record's ARNs read green at 0%.
      kubeApi.deployments.set("payments/payments-green", { image: "registry/payments:v3", replicas: 3 });
      const s = await world.store.get("payments");
      if (!s?.previous) throw new Error("not promoted");
      const bogus = s.routing.targetGroupArns.green.replace(/targetgroup\/[^/]+\//, "targetgroup/payments-green-00000000/");
      const forged = { ...s, revision: s.revision + 1, stable: s.previous, previous: { ...s.stable, image: "registry/payments:v3" }, routing: { ...s.routing, targetGroupArns: { ...s.routing.targetGroupArns, green: bogus } } };
      await world.store.commit(s.revision, forged, { service: "payments", revision: forged.revision, at: new Date(at(16)).toISOString(), by: "attacker", action: "update-routing", releaseId: s.releaseId, summary: "x", weights: s.weights });
      // Act: the window is over.
      clock = at(50);
      const r = await tickPayments(d);
      // Assess: the slot that serves keeps its pods, and the refusal names why.
      assert.equal(kubeApi.deployments.get("payments/payments-green")?.replicas, 3, "the serving slot is never scaled down");
      assert.deepEqual(kubeApi.requests.map((q) => q.method), [], "nothing was asked of the cluster");
      assert.equal(r?.decision, "skipped");
      assert.equal(r?.failed, true);
      assert.match(r?.reason ?? "", /^its routing is not the deployed one \(release state of payments names target groups .*payments-green-00000000.* but its rule .* forwards to .*\); not scaling it down$/);
      assert.equal(slotWeight("payments", Slot.Green, await world.traffic.liveRule(s.routing)), 100);
    });
  });

  /** The canary stepped and promoted at minute 15 (its window ends at 45). */
  async function promoteCanary(d: ReturnType<typeof driver>): Promise<void> {
    for (const minute of [0, 5, 15]) {
      clock = at(minute);
      await tickPayments(d);
    }
  }

  /** Records target-group stickiness on the rule, as `pulumi up` would; returns the routing. */
  async function withStickiness(seconds: number) {
    const s0 = await world.store.get("payments");
    if (!s0) throw new Error("no state");
    const routing = { ...s0.routing, stickinessSeconds: seconds };
    await world.store.commit(s0.revision, { ...s0, routing, revision: s0.revision + 1 }, { service: "payments", revision: s0.revision + 1, at: new Date(T0).toISOString(), by: "pulumi:test", action: "update-routing", releaseId: s0.releaseId, summary: "routing", weights: s0.weights });
    return routing;
  }

  /** `withCluster`, with `during` run right after the scale-down reached the cluster (the race's other side). */
  async function withRacingCluster(during: () => Promise<void>, fn: (api: FakeKubeApi, d: ReturnType<typeof driver>) => Promise<void>): Promise<void> {
    await withCluster("registry/payments:v1", async (kubeApi) => {
      const real = createKubeScaler({ endpoint: kubeApi.endpoint, certificateAuthorityData: kubeApi.certificateAuthorityData, cluster: "test-eks", region: "eu-west-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
      const kube = { ...real, scaleToZeroIfImage: async (ns: string, name: string, image: string) => {
        const r = await real.scaleToZeroIfImage(ns, name, image);
        await during();
        return r;
      } };
      await fn(kubeApi, driver({ retire: { kube, namespaces: { payments: "payments" } } }));
    });
  }

  it("undoes the scale-down when the rule sends the slot traffic again after it was read, and records no retire (issue 34, 15)", async () => {
    await withRacingCluster(
      async () => {
        const s = await world.store.get("payments");
        if (s) await moveRuleByHand(world.clients.elb, s.routing, { blue: 100, green: 0 });
      },
      async (kubeApi, d) => {
        await promoteCanary(d);
        // Act: the window is over; traffic goes back to blue while it is being scaled down.
        clock = at(50);
        const r = await tickPayments(d);
        // Assess: put back at its 3 replicas, nothing recorded, a later tick looks again.
        assert.equal(r?.decision, "conflict");
        assert.match(r?.reason ?? "", /^the rule sends 100% to v1 \(blue\) again; the scale-down was undone: payments\/payments-blue scaled to 3/);
        assert.deepEqual(kubeApi.deployments.get("payments/payments-blue"), { image: "registry/payments:v1", replicas: 3 });
        assert.equal((await world.store.get("payments"))?.previousRetiredAt ?? null, null);
      },
    );
  });

  it("undoes the scale-down when the release changes while the slot is being scaled (a re-release recorded into it), and records no retire (issue 34, 15)", async () => {
    await withRacingCluster(
      async () => {
        // A re-release of v1 into blue, recorded by pulumi up between the driver's read and its record.
        const s = await world.store.get("payments");
        if (!s) return;
        const t = applyEvent(s, { type: "start-release", candidate: { slot: Slot.Blue, version: "v1", image: "registry/payments:v1" }, weight: 0, at: new Date(at(50)).toISOString(), by: "pulumi:test" });
        if (t.kind !== "applied") throw new Error(t.reason);
        await world.store.commit(s.revision, t.state, t.entry);
      },
      async (kubeApi, d) => {
        await promoteCanary(d);
        clock = at(50);
        const r = await tickPayments(d);
        assert.equal(r?.decision, "conflict");
        assert.match(r?.reason ?? "", /^the release changed while v1 \(blue\) was being scaled down \(now releasing\); the scale-down was undone/);
        assert.equal(kubeApi.deployments.get("payments/payments-blue")?.replicas, 3, "the new candidate keeps its pods");
        const s = await world.store.get("payments");
        assert.deepEqual([s?.phase, s?.previousRetiredAt ?? null], ["releasing", null]);
      },
    );
  });

  it("does not scale the previous slot when a new release's image is already in it", async () => {
    // Prepare: promoted, window over, but `pulumi up` has just put v4 into blue (not yet recorded).
    await withCluster("registry/payments:v4", async (kubeApi, d) => {
      await promoteCanary(d);
      // Act
      clock = at(50);
      const r = await tickPayments(d);
      // Assess
      assert.equal(r?.decision, "skipped");
      assert.match(r?.reason ?? "", /payments\/payments-blue no longer runs registry\/payments:v1 .*left alone/);
      assert.deepEqual(kubeApi.deployments.get("payments/payments-blue"), { image: "registry/payments:v4", replicas: 3 });
      assert.equal((await world.store.get("payments"))?.previousRetiredAt ?? null, null, "nothing recorded");
    });
  });

  it("with stickiness, holds the previous slot while its target group still gets requests, whenever the promotion was, and retires it once quiet (issue 34, 12)", async () => {
    await withCluster("registry/payments:v1", async (kubeApi, d) => {
      const routing = await withStickiness(3600);
      await promoteCanary(d);
      // Prepare: a sticky client still reached blue at minute 72 (the cookie refreshed by its requests).
      const listener = listenerOfRule(routing.ruleArn) as string;
      await clients(env.proxy.endpoint).cw.send(
        new PutMetricDataCommand({
          Namespace: "AWS/ApplicationELB",
          MetricData: [{ MetricName: "RequestCount", Timestamp: new Date(at(72)), Value: 3, Unit: "Count", Dimensions: [{ Name: "TargetGroup", Value: targetGroupDimension(routing.targetGroupArns.blue) }, { Name: "LoadBalancer", Value: loadBalancerDimension(listener) }] }],
        }),
      );
      // Act: past the promotion + stickiness bound (75), and 10 quiet minutes later (83).
      clock = at(75);
      const held = await tickPayments(d);
      clock = at(83);
      const retired = await tickPayments(d);
      // Assess
      assert.deepEqual([held?.decision, held?.reason], ["hold", "v1 (blue) still gets requests from sticky clients (3 in the last 10 min); scaled to 0 once it has had none for 10 min"]);
      assert.equal(retired?.decision, "retire");
      assert.equal(kubeApi.deployments.get("payments/payments-blue")?.replicas, 0);
    });
  });

  it("waits out the rule's target-group stickiness after the promotion: sticky clients still reach the old group at weight 0", async () => {
    // Prepare: 1 hour of stickiness (ALB group stickiness overrides weights for its duration).
    await withCluster("registry/payments:v1", async (kubeApi, d) => {
      await withStickiness(3600);
      const timeline: string[] = [];
      let held = "";

      // Act: promoted at 15 (window ends at 45), ticks past the grace and past the stickiness.
      for (const minute of [0, 5, 15, 50, 74, 75]) {
        clock = at(minute);
        const r = await tickPayments(d);
        timeline.push(`${minute}:${r?.decision}`);
        if (minute === 50) held = r?.reason ?? "";
      }

      // Assess: not at 50 (window + grace), only at 75 (promotion + 60 min).
      assert.deepEqual(timeline, ["0:advance", "5:advance", "15:promote", "50:hold", "74:hold", "75:retire"]);
      assert.equal(held, `v1 (blue) is scaled to 0 after ${new Date(at(75)).toISOString()} (the window's end plus 5 min and 3600 s of target group stickiness after the promotion)`);
      assert.equal(kubeApi.deployments.get("payments/payments-blue")?.replicas, 0);
    });
  });

  describe("pre-traffic check before the first step", () => {
    /** A local HTTP server standing in for the candidate behind its test route, or for Lambda's Invoke API. */
    let server: http.Server;
    let base: string;
    let answer: { status: number; body: string; headers?: Record<string, string> };
    const seen: { url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
    before(async () => {
      server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
          seen.push({ url: req.url ?? "", headers: req.headers, body });
          res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
          res.end(answer.body);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    /** Replaces the canary with v4 on green, checked by `check` (3 attempts) before its first step. */
    async function releaseWithCheck(check: PreTrafficCheck): Promise<void> {
      seen.length = 0;
      const s = await world.store.get("payments");
      if (!s) throw new Error("no state");
      const t = applyEvent(s, {
        type: "start-release",
        candidate: { slot: Slot.Green, version: "v4", image: "registry/payments:v4" },
        weight: 0,
        progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }), rollbackWindowMinutes: 30, preTraffic: { check, maxAttempts: 3 } },
        at: new Date(T0 - 500).toISOString(),
        by: "pulumi:test",
      });
      if (t.kind !== "applied") throw new Error(t.reason);
      await world.store.commit(s.revision, t.state, t.entry);
    }
    // The test route's secret, as pulumi up writes it: in Secrets Manager, the record keeps its hash.
    const ROUTE_SECRET = "a3f1c0de-test-route-secret";
    const httpCheck = (): Extract<PreTrafficCheck, { kind: "http" }> => ({ kind: "http", url: `${base}/payments/healthz`, header: "x-remedy-candidate", valueSha256: testRouteValueSha256(ROUTE_SECRET), expectStatus: [200, 299], timeoutSeconds: 2 });
    let secrets: SecretsManagerClient;
    let routeSecretArn: string;
    // After the suite's beforeEach, which resets moto with the world.
    beforeEach(async () => {
      secrets = new SecretsManagerClient(clientConfig(env.moto.endpoint, 3));
      const created = await secrets.send(new CreateSecretCommand({ Name: `remedy-test-test-routes-${Date.now()}`, SecretString: JSON.stringify({ payments: ROUTE_SECRET }) }));
      routeSecretArn = created.ARN as string;
    });
    const driverWithSecret = () => driver({ testRouteValue: testRouteSecretReader(secrets, routeSecretArn) });

    it("HTTP: sends the test route's header; a pass is recorded and the first step follows in the same tick", async () => {
      // Prepare
      await releaseWithCheck(httpCheck());
      answer = { status: 204, body: "" };
      const d = driverWithSecret();
      clock = at(0);

      // Act
      const r = await tickPayments(d);

      // Assess
      assert.equal(r?.decision, "advance", r?.reason);
      assert.deepEqual(await weights(), { blue: 90, green: 10 });
      assert.equal(seen.length, 1);
      assert.equal(seen[0].url, "/payments/healthz");
      assert.equal(seen[0].headers["x-remedy-candidate"], ROUTE_SECRET, "the request carries the test route's header, read from the secret");
      const s = await world.store.get("payments");
      // Nobody who reads the table reaches the candidate (issue 35, 12).
      const items = await world.clients.ddb.send(new ScanCommand({ TableName: world.store.tableName }));
      assert.ok(!JSON.stringify(items.Items).includes(ROUTE_SECRET), "no release record or history item holds the secret");
      assert.match(s?.progress?.preTraffic?.lastResult ?? "", /answered 204 in \d+ ms/);
      assert.ok(s?.progress?.preTraffic?.passedAt, "the pass is recorded");
      const history = (await world.store.history("payments")).slice(-2).map((h) => h.action);
      assert.deepEqual(history, ["pre-traffic-result", "advance-step"], "recorded before any traffic moved");
      clock = at(1);
      await tickPayments(d);
      assert.equal(seen.length, 1, "a passed check is not run again");
    });

    it("HTTP: a failing answer holds at 0% run after run, then holds for an operator; remedy promote runs it again", async () => {
      // Prepare
      await releaseWithCheck(httpCheck());
      answer = { status: 503, body: "{}" };
      const d = driverWithSecret();
      const timeline: string[] = [];

      // Act: three failed runs, a fourth tick that does not run it, a duplicate of the third.
      for (const minute of [0, 1, 2, 3]) {
        clock = at(minute);
        const r = await tickPayments(d);
        timeline.push(`${minute}:${r?.decision}:${r?.reason.slice(0, 40)}`);
      }

      // Assess
      assert.deepEqual(timeline, [
        "0:hold:pre-traffic check failed (1/3): GET http",
        "1:hold:pre-traffic check failed (2/3): GET http",
        "2:hold:pre-traffic check failed (3/3): GET http",
        "3:hold:pre-traffic check failed 3 times (last: ",
      ]);
      assert.equal(seen.length, 3, "held after the third failure: not run again");
      assert.deepEqual(await weights(), { blue: 100, green: 0 }, "no production traffic at any point");
      const held = await world.store.get("payments");
      assert.match(held?.progress?.preTraffic?.lastResult ?? "", /answered 503, expected 200-299$/);

      // Act: the operator fixed it and asks to run it again.
      const t = applyEvent(held as NonNullable<typeof held>, { type: "request-promote", mode: "step", at: new Date(at(4)).toISOString(), by: "operator:ana" });
      if (t.kind !== "applied") throw new Error(t.reason);
      await world.store.commit((held as NonNullable<typeof held>).revision, t.state, t.entry);
      answer = { status: 200, body: "ok" };
      clock = at(5);
      const r = await tickPayments(d);

      // Assess
      assert.equal(r?.decision, "advance");
      assert.deepEqual(await weights(), { blue: 90, green: 10 });
    });

    it("HTTP: a candidate that does not answer in time fails with the timeout named", async () => {
      // Prepare: a port nobody listens on is refused at once; a black hole needs the timeout.
      const hole = http.createServer(() => undefined);
      await new Promise<void>((resolve) => hole.listen(0, "127.0.0.1", resolve));
      try {
        await releaseWithCheck({ ...httpCheck(), url: `http://127.0.0.1:${(hole.address() as AddressInfo).port}/slow`, timeoutSeconds: 1 });
        clock = at(0);
        // Act
        const r = await tickPayments(driverWithSecret());
        // Assess
        assert.equal(r?.decision, "hold");
        assert.match(r?.reason ?? "", /GET http:\/\/127\.0\.0\.1:\d+\/slow failed: no answer within 1 s/);
      } finally {
        hole.closeAllConnections();
        await new Promise<void>((resolve) => hole.close(() => resolve()));
      }
    });

    it("HTTP: without the service's value in the secret, a run fails naming the fix; an unreadable secret holds without using up a run (issue 35, 12)", async () => {
      // Prepare
      await releaseWithCheck(httpCheck());
      answer = { status: 204, body: "" };
      clock = at(0);
      // Act: a secret that has no value for payments.
      const missing = await tickPayments(driver({ testRouteValue: () => Promise.resolve(undefined) }));
      // Assess
      assert.equal(missing?.decision, "hold");
      assert.match(missing?.reason ?? "", /pre-traffic check failed \(1\/3\): the release driver has no test-route secret for payments; run pulumi up/);
      assert.equal(seen.length, 0, "nothing sent without the secret");
      // Act: Secrets Manager refuses (the role lost GetSecretValue, a throttle).
      const refused = await tickPayments(driver({ testRouteValue: () => Promise.reject(new Error("AccessDeniedException: not authorized to perform secretsmanager:GetSecretValue")) }));
      // Assess: the tick fails (the errors alarm pages), the run is not counted.
      assert.equal(refused?.failed, true);
      assert.match(refused?.reason ?? "", /^could not read the test route's secret: AccessDeniedException: .*; the pre-traffic check runs next tick$/);
      assert.equal((await world.store.get("payments"))?.progress?.preTraffic?.attempts, 1);
      // The reader on moto's Secrets Manager: the service's value, none for a service without one.
      const read = testRouteSecretReader(secrets, routeSecretArn);
      assert.equal(await read("payments"), ROUTE_SECRET);
      assert.equal(await read("orders"), undefined);
    });

    it("Lambda hook: invoked with the release through the SDK; Succeeded passes, Failed and function errors hold with their reasons", async () => {
      // Prepare: the SDK's Invoke call goes to the local server (moto does not invoke functions).
      const fn = "arn:aws:lambda:eu-west-1:123456789012:function:payments-smoke";
      const lambda = new LambdaClient({ endpoint: base, region: "eu-west-1", credentials: { accessKeyId: "test", secretAccessKey: "test" }, maxAttempts: 1 });
      await releaseWithCheck({ kind: "lambda", functionArn: fn, timeoutSeconds: 2 });
      const d = driver({ lambda });

      // Act 1: a function error (unhandled exception in the hook).
      answer = { status: 200, body: JSON.stringify({ errorMessage: "checkout returned 500", errorType: "Error" }), headers: { "x-amz-function-error": "Unhandled" } };
      clock = at(0);
      const crashed = await tickPayments(d);
      // Act 2: the hook reports Failed.
      answer = { status: 200, body: JSON.stringify({ status: "Failed", reason: "3/20 smoke requests failed" }) };
      clock = at(1);
      const failed = await tickPayments(d);
      // Act 3: it reports Succeeded.
      answer = { status: 200, body: JSON.stringify({ status: "Succeeded", reason: "20/20 ok" }) };
      clock = at(2);
      const passed = await tickPayments(d);

      // Assess
      assert.match(crashed?.reason ?? "", /\(1\/3\): hook payments-smoke failed \(Unhandled\): checkout returned 500$/);
      assert.match(failed?.reason ?? "", /\(2\/3\): hook payments-smoke reported Failed: 3\/20 smoke requests failed$/);
      assert.equal(passed?.decision, "advance");
      assert.deepEqual(await weights(), { blue: 90, green: 10 });
      assert.match(seen[0].url, /^\/2015-03-31\/functions\/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Apayments-smoke\/invocations/);
      const payload = JSON.parse(seen[2].body) as Record<string, unknown>;
      assert.deepEqual(payload, {
        source: "remedy.release-driver",
        service: "payments",
        releaseId: (await world.store.get("payments"))?.releaseId,
        candidate: { slot: "green", version: "v4", image: "registry/payments:v4" },
        stable: { slot: "blue", version: "v1" },
        targetGroupArn: world.services.payments.routing.targetGroupArns.green,
        attempt: 3,
      });
      assert.equal((await world.store.get("payments"))?.progress?.preTraffic?.lastResult, "hook payments-smoke succeeded: 20/20 ok");
    });
  });
});
