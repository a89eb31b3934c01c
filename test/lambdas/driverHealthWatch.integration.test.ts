/**
 * Detection at health-check speed: while a candidate takes traffic, the release driver checks
 * its targets every few seconds within its tick and rolls a candidate with no healthy target back
 * through the rollback Lambda's own path (decision, flip, records, notification), never onto an
 * unhealthy stable. Against moto: deregistering a slot's targets is what "no healthy targets" is
 * there. The clock and the waits are injected: no wall-clock timing.
 */
import { strict as assert } from "node:assert";
import { useMoto } from "../helpers/moto";
import { createWorld, handlerDeps, worldDriver, type World } from "../helpers/rollbackWorld";

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
    await world.traffic.setWeights(world.services.payments.routing, { blue: 100, green: 0 });
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
    traffic.healthyTargets = async (tg) => {
      most = Math.max(most, ++inFlight);
      try {
        return await many.traffic.healthyTargets(tg);
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
