/**
 * Detection at health-check speed: while a candidate takes traffic, the release driver checks
 * its targets every few seconds within its tick and rolls a candidate with no healthy target back
 * through the rollback Lambda's own path (decision, flip, records, notification), never onto an
 * unhealthy stable. Against moto: deregistering a slot's targets is what "no healthy targets" is
 * there. The clock and the waits are injected: no wall-clock timing.
 */
import { strict as assert } from "node:assert";
import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import * as defaults from "../../core/defaults";
import { byExposure } from "../../lambdas/commons/releaseDriver";
import { TokenBucket } from "../../lambdas/commons/tokenBucket";
import { useMoto } from "../helpers/moto";
import { TABLE, createWorld, handlerDeps, startProgressive, worldDriver, type World, moveRuleByHand } from "../helpers/rollbackWorld";

describe("lambdas/releaseDriver: rolls back a candidate whose targets turn unhealthy, within the tick", function () {
  this.timeout(60_000);
  const suite = useMoto();
  let world: World;
  beforeEach(async () => {
    world = await createWorld(suite.moto.endpoint, ["payments"]); // v2 on green at 10%
    await world.notifications();
  });

  /** A driver whose tick has `checks` health checks left (each wait spends 5 s of its deadline). */
  function watchingDriver(checks: number, onWait: (round: number) => Promise<void>) {
    const rb = handlerDeps(suite.moto.endpoint, world.topicArn);
    let left = 1_000 + checks * 5_000 + 900;
    let round = 0;
    return worldDriver(world, suite.moto.endpoint, {
      watch: {
        intervalMs: 5_000,
        rollBack: (service, reason) => rb.handler.manual({ service, reason, by: "release-driver (target health)" }),
        sleep: async () => {
          left -= 5_000;
          await onWait(++round);
        },
      },
    }).tick.bind(null, { remainingMs: () => left });
  }

  it("rolls the candidate back on the check after its targets went, recorded and told like an alarm's rollback", async () => {
    // Prepare: green's targets vanish during the second wait.
    const tick = watchingDriver(4, async (round) => {
      if (round === 2) await world.deregisterAll("payments", "green");
    });
    // Act
    const results = await tick();
    // Assess
    const rolled = results.find((r) => r.decision === "rolled-back");
    assert.ok(rolled, JSON.stringify(results));
    assert.match(rolled.reason, /candidate v2 \(green\) has no healthy targets at 10% \(target health, checked every 5 s by the release driver\): rolled-back/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
    const state = await world.store.get("payments");
    assert.equal(state?.phase, "rolled-back");
    assert.equal(state?.lastRollback?.by, "release-driver (target health)");
    const told = await world.notifications();
    assert.deepEqual(told.map((n) => n.subject), ["remedy: payments rolled back to v1"]);
    assert.equal(results.filter((r) => r.decision === "rolled-back").length, 1, "once; the rolled-back release is no longer watched");
  });

  it("never rolls back onto an unhealthy stable, and does not retry it every few seconds", async () => {
    // Prepare: both slots lose their targets.
    const tick = watchingDriver(4, async (round) => {
      if (round === 1) {
        await world.deregisterAll("payments", "green");
        await world.deregisterAll("payments", "blue");
      }
    });
    // Act
    const results = await tick();
    // Assess
    const held = results.filter((r) => r.service === "payments" && /has no healthy targets at 10%/.test(r.reason));
    assert.equal(held.length, 1, JSON.stringify(results));
    assert.equal(held[0].decision, "hold");
    assert.match(held[0].reason, /refused: the rollback target v1 \(blue\) has no healthy targets/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 90, green: 10 });
  });

  it("checks before its first wait: a candidate already without targets when the tick ends its steps is rolled back in that tick, no wait", async () => {
    let waits = 0;
    await world.deregisterAll("payments", "green");
    const tick = watchingDriver(4, async () => {
      waits++;
    });
    const results = await tick();
    assert.ok(results.some((r) => r.decision === "rolled-back"), JSON.stringify(results));
    assert.equal(waits, 0);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
  });

  it("watches a manual-weight release it never steps: rolled back on no healthy targets, its weights otherwise untouched", async () => {
    // Prepare: payments is only watched (watch.services), not driven; its candidate at 10% loses its targets.
    const rb = handlerDeps(suite.moto.endpoint, world.topicArn);
    let left = 1_000 + 2 * 5_000 + 900;
    const driver = worldDriver(world, suite.moto.endpoint, {
      services: [],
      watch: {
        services: ["payments"],
        intervalMs: 5_000,
        rollBack: (service, reason) => rb.handler.manual({ service, reason, by: "release-driver (target health)" }),
        sleep: async () => {
          left -= 5_000;
          await world.deregisterAll("payments", "green");
        },
      },
    });
    // Act
    const results = await driver.tick({ remainingMs: () => left });
    // Assess: no step decision for payments, one rollback from the watch.
    assert.deepEqual(results.map((r) => [r.service, r.decision]), [["payments", "rolled-back"]]);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
    assert.equal((await world.store.get("payments"))?.lastRollback?.by, "release-driver (target health)");
  });

  it("stops watching when no candidate takes traffic", async () => {
    let waits = 0;
    await moveRuleByHand(world.clients.elb, world.services.payments.routing, { blue: 100, green: 0 });
    const s = await world.store.get("payments");
    if (!s) throw new Error("no state");
    await world.store.commit(s.revision, { ...s, revision: s.revision + 1, weights: { blue: 100, green: 0 } }, { service: "payments", revision: s.revision + 1, at: new Date().toISOString(), by: "test", action: "shift-weight", releaseId: s.releaseId, summary: "0%", weights: { blue: 100, green: 0 } });
    const tick = watchingDriver(4, async () => {
      waits++;
    });
    await tick();
    assert.equal(waits, 0, "no waiting: nothing is exposed");
  });
});

describe("lambdas/releaseDriver: the health watch over many exposed candidates", function () {
  this.timeout(60_000);
  const suite = useMoto();

  it("reads many exposed candidates' health side by side, and rolls back only the one without targets", async () => {
    // Prepare: six services at 10%; the fourth's candidate loses its targets.
    const names = ["a1", "a2", "a3", "a4", "a5", "a6"];
    const many = await createWorld(suite.moto.endpoint, names);
    await many.deregisterAll("a4", "green");
    const rb = handlerDeps(suite.moto.endpoint, many.topicArn);
    let inFlight = 0;
    let most = 0;
    const traffic = Object.create(many.traffic) as typeof many.traffic;
    traffic.targetStates = async (tg) => {
      most = Math.max(most, ++inFlight);
      try {
        return await many.traffic.targetStates(tg);
      } finally {
        inFlight--;
      }
    };
    let left = 1_000 + 5_000 + 900;
    const driver = worldDriver(many, suite.moto.endpoint, {
      services: [],
      traffic,
      watch: { services: names, intervalMs: 5_000, rollBack: (service, reason) => rb.handler.manual({ service, reason, by: "release-driver (target health)" }), sleep: async () => void (left -= 5_000) },
    });
    // Act
    const results = await driver.tick({ remainingMs: () => left });
    // Assess
    assert.deepEqual(results.filter((r) => r.decision === "rolled-back").map((r) => r.service), ["a4"]);
    assert.ok(most > 1, `health reads went one at a time (at most ${most} in flight)`);
    for (const n of names) assert.deepEqual(await many.traffic.currentWeights(many.services[n].routing), n === "a4" ? { blue: 100, green: 0 } : { blue: 90, green: 10 }, n);
  });
});

/**
 * A driver over `world` whose tick has `checks` health checks left (each wait spends 5 s of its
 * deadline and runs `onWait` with its round), rolling back through the rollback Lambda's path.
 */
function watchTick(endpoint: string, world: World, opts: { services?: string[]; watch?: string[]; traffic?: World["traffic"]; checks: number; onWait?: (round: number) => Promise<void> }) {
  const rb = handlerDeps(endpoint, world.topicArn);
  let left = 1_000 + opts.checks * 5_000 + 900;
  let round = 0;
  const driver = worldDriver(world, endpoint, {
    ...(opts.services ? { services: opts.services } : {}),
    ...(opts.traffic ? { traffic: opts.traffic } : {}),
    watch: {
      ...(opts.watch ? { services: opts.watch } : {}),
      intervalMs: 5_000,
      rollBack: (service, reason) => rb.handler.manual({ service, reason, by: "release-driver (target health)" }),
      sleep: async () => {
        left -= 5_000;
        await opts.onWait?.(++round);
      },
    },
  });
  return () => driver.tick({ remainingMs: () => left });
}

describe("lambdas/releaseDriver: one service's bad record or unreadable health costs only that service (issue 34, 13 and 14)", function () {
  this.timeout(60_000);
  const suite = useMoto();

  /** Overwrites a service's state item with weights that do not sum to 100 (fails validation). */
  async function corrupt(world: World, service: string) {
    const key = { pk: { S: service }, sk: { S: "state" } };
    const item = (await world.clients.ddb.send(new GetItemCommand({ TableName: TABLE, Key: key }))).Item;
    if (!item) throw new Error(`no state item for ${service}`);
    await world.clients.ddb.send(new PutItemCommand({ TableName: TABLE, Item: { ...item, weights: { M: { blue: { N: "90" }, green: { N: "60" } } } } }));
    await assert.rejects(world.store.get(service), /release state of .* is invalid: weights: weights must sum to 100/);
  }

  it("steps and watches the other services while one record fails validation, and names the bad one", async () => {
    // Prepare: payments a canary at 0%, orders corrupt, both driven; later, payments' green loses its targets.
    const world = await createWorld(suite.moto.endpoint, ["payments", "orders"]);
    await startProgressive(world, "payments", new Date(Date.now() - 60_000).toISOString());
    await corrupt(world, "orders");
    const tick = watchTick(suite.moto.endpoint, world, { services: ["payments", "orders"], checks: 2, onWait: () => world.deregisterAll("payments", "green") });
    // Act
    const results = await tick();
    // Assess: payments stepped to 10%, then was rolled back by the watch; orders failed alone.
    assert.deepEqual(results.map((r) => [r.service, r.decision]), [["payments", "advance"], ["orders", "skipped"], ["payments", "rolled-back"]], JSON.stringify(results));
    const orders = results.find((r) => r.service === "orders");
    assert.equal(orders?.failed, true);
    assert.match(orders?.reason ?? "", /^failed: release state of orders is invalid: weights: weights must sum to 100/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
  });

  it("rolls back another service's unhealthy candidate when one target group's health cannot be read, and reports that one", async () => {
    // Prepare: a1 and a2 at 10%; a1's target group health read fails (deleted); a2's candidate has no targets.
    const world = await createWorld(suite.moto.endpoint, ["a1", "a2"]);
    await world.deregisterAll("a2", "green");
    const gone = world.services.a1.routing.targetGroupArns.green;
    const traffic = Object.create(world.traffic) as typeof world.traffic;
    traffic.targetStates = async (tg) => {
      if (tg === gone) throw Object.assign(new Error(`Target groups '${tg}' not found`), { name: "TargetGroupNotFoundException" });
      return world.traffic.targetStates(tg);
    };
    const rb = handlerDeps(suite.moto.endpoint, world.topicArn);
    let left = 1_000 + 5_000 + 900;
    const driver = worldDriver(world, suite.moto.endpoint, {
      services: [],
      traffic,
      watch: { services: ["a1", "a2"], intervalMs: 5_000, rollBack: (service, reason) => rb.handler.manual({ service, reason, by: "release-driver (target health)" }), sleep: async () => void (left -= 5_000) },
    });
    // Act
    const results = await driver.tick({ remainingMs: () => left });
    // Assess
    assert.deepEqual(results.map((r) => [r.service, r.decision, r.failed ?? false]), [["a2", "rolled-back", false], ["a1", "skipped", true]], JSON.stringify(results));
    assert.match(results[1]?.reason ?? "", /health watch: target health could not be read: Target groups .* not found/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.a2.routing), { blue: 100, green: 0 });
    assert.deepEqual(await world.traffic.currentWeights(world.services.a1.routing), { blue: 90, green: 10 }, "not rolled back on a read error");
  });

  it("reads only the exposed candidates after its first round", async () => {
    // Prepare: three watched services, only b2 exposed (the others at 0%).
    const world = await createWorld(suite.moto.endpoint, ["b1", "b2", "b3"]);
    for (const n of ["b1", "b3"]) {
      await moveRuleByHand(world.clients.elb, world.services[n].routing, { blue: 100, green: 0 });
      const s = await world.store.get(n);
      if (!s) throw new Error("no state");
      await world.store.commit(s.revision, { ...s, revision: s.revision + 1, weights: { blue: 100, green: 0 } }, { service: n, revision: s.revision + 1, at: new Date().toISOString(), by: "test", action: "shift-weight", releaseId: s.releaseId, summary: "0%", weights: { blue: 100, green: 0 } });
    }
    const reads: string[][] = [];
    const store = Object.create(world.store) as typeof world.store;
    // (The tick's own read of the services it steps, none here, is not the watch's.)
    store.getMany = (services, invalid) => (services.length > 0 && reads.push([...services]), world.store.getMany(services, invalid));
    let left = 1_000 + 3 * 5_000 + 900;
    const rb = handlerDeps(suite.moto.endpoint, world.topicArn);
    const driver = worldDriver(world, suite.moto.endpoint, {
      services: [],
      store,
      watch: { services: ["b1", "b2", "b3"], intervalMs: 5_000, rollBack: (service, reason) => rb.handler.manual({ service, reason, by: "test" }), sleep: async () => void (left -= 5_000) },
    });
    // Act
    await driver.tick({ remainingMs: () => left });
    // Assess: the first round reads all three, the rest b2 alone.
    assert.deepEqual(reads[0], ["b1", "b2", "b3"]);
    assert.ok(reads.length >= 3, JSON.stringify(reads));
    for (const r of reads.slice(1)) assert.deepEqual(r, ["b2"]);
  });

  it("tells a node drain from a failing candidate: a target registering or draining is not rolled back; one that fails its checks is (issue 34, 11)", async () => {
    // Prepare: payments' one-replica candidate is evicted (its target draining, the new pod's
    // registering), then, on the next check, the replacement fails its health checks.
    const world = await createWorld(suite.moto.endpoint, ["payments"]);
    const green = world.services.payments.routing.targetGroupArns.green;
    const seen = [
      { healthy: 0, transitioning: 2, unhealthy: 0 },
      { healthy: 0, transitioning: 0, unhealthy: 1 },
    ];
    let round = 0;
    const traffic = Object.create(world.traffic) as typeof world.traffic;
    traffic.targetStates = async (tg) => (tg === green ? (seen[Math.min(round, seen.length - 1)] as { healthy: number; transitioning: number; unhealthy: number }) : world.traffic.targetStates(tg));
    const tick = watchTick(suite.moto.endpoint, world, { services: [], watch: ["payments"], traffic, checks: 2, onWait: async (r) => void (round = r) });
    // Act
    const results = await tick();
    // Assess: no rollback while draining (round 0), one on the failing replacement (round 1).
    assert.deepEqual(results.map((r) => [r.service, r.decision]), [["payments", "rolled-back"]]);
    assert.ok(round >= 1, "the drain itself was not acted on");
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
  });
});

/**
 * Virtual time for code that sleeps from several async paths at once: a sleeper wakes when every
 * earlier one has, the clock jumping to its time (no wall-clock waits, order kept).
 */
function virtualTime() {
  let now = 0;
  const pending: { at: number; seq: number; wake: () => void }[] = [];
  let seq = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const next = pending.shift();
    if (!next) return;
    now = Math.max(now, next.at);
    next.wake();
    if (pending.length > 0) schedule();
  };
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return {
    now: () => now,
    sleep: (ms: number) =>
      new Promise<void>((wake) => {
        pending.push({ at: now + ms, seq: seq++, wake });
        schedule();
      }),
  };
}

describe("lambdas/releaseDriver: the health watch keeps to its share of ELB's Describe* budget (issue 34, 11)", function () {
  this.timeout(120_000);
  const suite = useMoto();

  it("with 14 exposed candidates reads at most 2 target healths a second after its burst of 10, checks every one each round, most traffic first", async () => {
    // Prepare: 14 candidates at 10%, two of them at 50%; a virtual clock drives the tick's
    // deadline, the watch's waits and the watch's token bucket (ELB: 40 Describe* tokens
    // refilled at 10 a second per account and region, "Request throttling for the ELB API").
    const names = Array.from({ length: 14 }, (_, i) => `w${String(i).padStart(2, "0")}`);
    const world = await createWorld(suite.moto.endpoint, names);
    for (const n of ["w03", "w09"]) {
      await moveRuleByHand(world.clients.elb, world.services[n].routing, { blue: 50, green: 50 });
      const s = await world.store.get(n);
      if (!s) throw new Error("no state");
      await world.store.commit(s.revision, { ...s, revision: s.revision + 1, weights: { blue: 50, green: 50 } }, { service: n, revision: s.revision + 1, at: new Date().toISOString(), by: "test", action: "shift-weight", releaseId: s.releaseId, summary: "50%", weights: { blue: 50, green: 50 } });
    }
    const clock = virtualTime();
    const deadline = 40_000;
    const reads: { at: number; tg: string }[] = [];
    const traffic = Object.create(world.traffic) as typeof world.traffic;
    traffic.targetStates = async (tg) => (reads.push({ at: clock.now(), tg }), world.traffic.targetStates(tg));
    const rb = handlerDeps(suite.moto.endpoint, world.topicArn);
    const driver = worldDriver(world, suite.moto.endpoint, {
      services: [],
      traffic,
      watch: {
        services: names,
        intervalMs: 5_000,
        rollBack: (service, reason) => rb.handler.manual({ service, reason, by: "test" }),
        sleep: clock.sleep,
        rate: new TokenBucket(defaults.DRIVER_WATCH_ELB_DESCRIBE_RATE, clock.now, clock.sleep),
      },
    });
    // Act
    const results = await driver.tick({ remainingMs: () => deadline - clock.now(), scheduledAt: new Date(Date.UTC(2026, 11, 7, 12, 0)).toISOString() });
    // Assess: no candidate was judged unhealthy, and none went unread.
    assert.deepEqual(results, []);
    const byTg = new Map(names.map((n) => [world.services[n].routing.targetGroupArns.green, n]));
    const who = reads.map((r) => byTg.get(r.tg));
    // The two at 50% are read first.
    assert.deepEqual(new Set(who.slice(0, 2)), new Set(["w03", "w09"]));
    // Never more than the burst plus 2 a second in any window, from any start.
    for (const [i, r] of reads.entries()) {
      for (const later of reads.slice(i)) {
        const inWindow = reads.filter((x) => x.at >= r.at && x.at <= later.at).length;
        assert.ok(inWindow <= 10 + 2 * Math.ceil((later.at - r.at) / 1000), `${inWindow} reads between ${r.at} and ${later.at} ms`);
      }
    }
    // Sustained: after the first second, about 2 a second (the rounds lasted longer than 5 s).
    const span = (reads[reads.length - 1].at - reads[0].at) / 1000;
    assert.ok(reads.length <= 10 + 2 * span, `${reads.length} reads in ${span} s`);
    // Every candidate was read in every full round; with 14 at 2 a second a round takes ~7 s, so
    // the 40 s tick reads each at least 3 times.
    for (const n of names) assert.ok(who.filter((w) => w === n).length >= 3, `${n} read ${who.filter((w) => w === n).length} times`);
    // And no read waited past the deadline.
    assert.ok(reads.every((r) => r.at <= deadline - defaults.DRIVER_MIN_SERVICE_MS), `last read at ${reads[reads.length - 1].at}`);
  });

  it("orders exposed candidates by traffic, ties rotating with the tick's minute so a cut-off round leaves different ones out", () => {
    const st = (service: string, w: number) => ({ service, candidate: { slot: "green" }, weights: { blue: 100 - w, green: w } }) as unknown as Parameters<typeof byExposure>[0][number];
    const xs = [st("a", 10), st("b", 10), st("c", 25), st("d", 10)];
    const order = (minute: number) => byExposure(xs, minute * 60_000).map((s) => s.service);
    assert.deepEqual(order(0), ["c", "a", "b", "d"]);
    assert.deepEqual(order(1), ["c", "b", "d", "a"]);
    assert.deepEqual(order(2), ["c", "d", "a", "b"]);
    // Over as many ticks as there are candidates, each tie is first once.
    assert.deepEqual(new Set([0, 1, 2, 3].map((m) => order(m)[1])), new Set(["a", "b", "d"]));
    assert.deepEqual(byExposure([], 0), []);
  });
});
