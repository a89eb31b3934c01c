/**
 * The release driver's tick over many services, against moto_server behind the fault proxy (which
 * counts the calls that reach AWS): states in BatchGetItem calls of at most 100 keys, rules in one
 * DescribeRules per listener, alarm reads coalesced into DescribeAlarms calls of up to 100 names,
 * throttling absorbed. Every due step really moves its rule.
 */
import { strict as assert } from "node:assert";
import { Logger } from "@aws-lambda-powertools/logger";
import { Phase } from "../../core/releaseState";
import { createReleaseDriver } from "../../lambdas/commons/releaseDriver";
import { AlarmBatcher } from "../../lambdas/commons/alarmState";
import { TokenBucket } from "../../lambdas/commons/tokenBucket";
import { Traffic } from "../../lambdas/commons/traffic";
import { useMotoBehindProxy } from "../helpers/faultProxy";
import { PREFIX, capture, clients, createWorld, type World } from "../helpers/rollbackWorld";

describe("lambdas/releaseDriver at scale: batched reads against moto_server", function () {
  this.timeout(240_000);
  const env = useMotoBehindProxy();
  const SERVICES = Array.from({ length: 40 }, (_, i) => `svc${String(i).padStart(3, "0")}`);
  let world: World;
  const T0 = Date.now() - 3_600_000;

  // Every service in a progressive canary (10% for 5 min) at 0%, started just before T0.
  const setUp = async (names: readonly string[]) => {
    world = await createWorld(env.proxy.endpoint, names, 0, { progressiveAt: new Date(T0 - 1000).toISOString(), concurrency: 6 });
  };

  it("steps 40 due services in one tick, its reads coalesced: BatchGetItem, DescribeRules and DescribeAlarms far fewer than one per service", async () => {
    // Prepare: one service's candidate alarm fires (it must hold), the rest are due at 10%.
    await setUp(SERVICES);
    const firing = SERVICES[7];
    await world.setAlarm(world.services[firing].alarmNames.green["error-rate"], "ALARM");
    const c = clients(env.proxy.endpoint);
    const logger = new Logger({ serviceName: "remedy-release-driver" });
    capture(logger);
    const alarms = new AlarmBatcher(c.cw, PREFIX); // 5 calls a second after a burst of 5, as in the Lambda
    const driver = createReleaseDriver({ services: SERVICES, store: world.store, traffic: world.traffic, cloudwatch: c.cw, alarmPrefix: PREFIX, logger, now: () => T0, alarms });
    env.proxy.reset();

    // Act
    const results = await driver.tick();

    // Assess: every due service advanced (its rule really moved), the firing one held.
    const f = { ...env.proxy.forwarded };
    const byService = new Map(results.map((r) => [r.service, r]));
    assert.equal(byService.get(firing)?.decision, "hold");
    const advanced = results.filter((r) => r.decision === "advance");
    assert.equal(advanced.length, SERVICES.length - 1, JSON.stringify(results.filter((r) => r.decision !== "advance" && r.service !== firing).slice(0, 3)));
    const sample = [SERVICES[0], SERVICES[23], SERVICES[39]];
    for (const s of sample) assert.deepEqual(await world.traffic.currentWeights(world.services[s].routing), { blue: 90, green: 10 }, s);
    assert.deepEqual(await world.traffic.currentWeights(world.services[firing].routing), { blue: 100, green: 0 });
    // What reached AWS during the tick: the batch reads, not one read per service.
    // State: the tick's first read (40 keys, one call), then the fresh reads right before and right
    // after each of the 39 moves (78 keys) in batch calls (how many meet in one call depends on
    // timing; the coalescing itself is pinned by test/lambdas/coalesce.test.ts).
    assert.equal(f.GetItem ?? 0, 0, "no single-item reads");
    assert.ok(f.BatchGetItem >= 2 && f.BatchGetItem <= 1 + 2 * 39, `BatchGetItem called ${f.BatchGetItem} times`);
    assert.equal(f.ModifyRule, SERVICES.length - 1);
    assert.equal(f.DescribeTargetHealth, SERVICES.length - 1, "each due candidate's health, once");
    // Rules: one listing of the listener (no per-service read before deciding), then the moves'
    // fresh re-reads, up to 20 to a call. (Behind this proxy conditional writes go one at a time,
    // as moto needs, so the moves after them rarely meet in one call; in DynamoDB they overlap.)
    assert.ok(f.DescribeRules >= 1 + Math.ceil(39 / 20) && f.DescribeRules <= 1 + 39, `DescribeRules called ${f.DescribeRules} times`);
    // Each service asks twice (before deciding, right before moving): 240 questions of 4 names
    // each; coalesced, they take far fewer calls than one per question.
    assert.equal(alarms.calls, f.DescribeAlarms);
    // How many questions meet in one call depends on timing (a loaded machine spreads them out:
    // 12-16 calls alone, 21 under the parallel suite, 32 with other suites running beside it), so
    // this asserts only fewer calls than questions; test/lambdas/coalesce.test.ts pins the
    // coalescing itself exactly, on a virtual clock.
    assert.ok(f.DescribeAlarms < SERVICES.length * 2, `DescribeAlarms called ${f.DescribeAlarms} times for ${SERVICES.length * 2} questions`);
    assert.ok(f.DescribeAlarms >= Math.ceil((SERVICES.length * 2 * 4) / 100), "never more than 100 names a call");
  });

  it("reads in BatchGetItem calls of at most 100 keys, asking again for what DynamoDB leaves unread", async () => {
    // 230 services' states (no rules needed to read them).
    await setUp(["seed"]);
    const base = await world.store.get("seed");
    if (!base) throw new Error("no state");
    const many = Array.from({ length: 230 }, (_, i) => `bulk${i}`);
    for (const service of many) await world.store.create({ ...base, service });
    env.proxy.reset();

    const states = await world.store.getMany([...many, "never-deployed"]);

    assert.equal(states.size, 230);
    assert.equal(states.get("bulk229")?.service, "bulk229");
    assert.equal(states.has("never-deployed"), false);
    assert.equal(env.proxy.forwarded.BatchGetItem, 3, "231 keys: 100 + 100 + 31");
    // Unprocessed keys (DynamoDB's answer under throttling) are asked for again.
    let first = true;
    const ddb = world.clients.ddb;
    const send = ddb.send.bind(ddb) as (cmd: unknown) => Promise<Record<string, unknown>>;
    (ddb as { send: unknown }).send = async (cmd: { input?: { RequestItems?: Record<string, { Keys: unknown[] }> } }) => {
      const out = await send(cmd);
      const items = cmd.input?.RequestItems;
      if (!first || !items) return out;
      first = false;
      // Pretend DynamoDB only got to half of them.
      const [table, req] = Object.entries(items)[0];
      const responses = (out.Responses as Record<string, unknown[]>)[table];
      return { ...out, Responses: { [table]: responses.slice(0, 50) }, UnprocessedKeys: { [table]: { Keys: req.Keys.slice(50), ConsistentRead: true } } };
    };
    try {
      const again = await world.store.getMany(many.slice(0, 100));
      assert.equal(again.size, 100, "the unprocessed half was read on the retry");
    } finally {
      (ddb as { send: unknown }).send = send;
    }
  });

  it("reads the states again when DynamoDB throttles the batch, falls back to each service's rule when the listing fails, and every step still lands", async () => {
    await setUp(SERVICES);
    const c = clients(env.proxy.endpoint);
    const logger = new Logger({ serviceName: "remedy-release-driver" });
    capture(logger);
    const driver = createReleaseDriver({ services: SERVICES, store: world.store, traffic: world.traffic, cloudwatch: c.cw, alarmPrefix: PREFIX, logger, now: () => T0 });
    env.proxy.reset();
    env.proxy.inject("BatchGetItem", "throttle", 1);
    env.proxy.inject("DescribeTargetHealth", "throttle", 5);
    // The listing fails past the SDK's 3 attempts: each service reads its own rule instead.
    env.proxy.inject("DescribeRules", "throttle", 3);

    const results = await driver.tick();

    assert.equal(results.filter((r) => r.decision === "advance").length, SERVICES.length, JSON.stringify(results.find((r) => r.decision !== "advance")));
    assert.equal(env.proxy.faulted.BatchGetItem, 1);
    assert.equal(env.proxy.faulted.DescribeRules, 3);
    assert.ok(env.proxy.forwarded.DescribeRules >= SERVICES.length, "each service read its own rule before deciding");
    assert.equal((await world.store.get(SERVICES[22]))?.phase, Phase.Releasing);
    assert.deepEqual(await world.traffic.currentWeights(world.services[SERVICES[22]].routing), { blue: 90, green: 10 });
  });

  it("does not start a service whose first ELB read would wait for a token past the deadline", async () => {
    await setUp(SERVICES.slice(0, 3));
    const c = clients(env.proxy.endpoint);
    const logger = new Logger({ serviceName: "remedy-release-driver" });
    capture(logger);
    // The driver's Describe* budget spent (6 calls queued at 1 a second): the next waits about 6 s.
    const spent = new TokenBucket({ perSecond: 1, burst: 1 });
    for (let i = 0; i < 6; i++) spent.consume();
    const starved = createReleaseDriver({ services: SERVICES.slice(0, 3), store: world.store, traffic: new Traffic(c.elb, spent), cloudwatch: c.cw, alarmPrefix: PREFIX, logger, now: () => T0 });
    const skipped = await starved.tick({ remainingMs: () => 5_000 });
    for (const r of skipped) {
      assert.equal(r.decision, "skipped");
      assert.match(r.reason, /^5000 ms left in this tick and \d+ ms to wait for the ELB API rate: not started, next tick$/);
    }
    assert.deepEqual(await world.traffic.currentWeights(world.services[SERVICES[0]].routing), { blue: 100, green: 0 }, "nothing moved");
    // With tokens to spare the same tick steps them all.
    const ample = createReleaseDriver({ services: SERVICES.slice(0, 3), store: world.store, traffic: new Traffic(c.elb, new TokenBucket({ perSecond: 100, burst: 100 })), cloudwatch: c.cw, alarmPrefix: PREFIX, logger, now: () => T0 });
    assert.deepEqual((await ample.tick({ remainingMs: () => 5_000 })).map((r) => r.decision), ["advance", "advance", "advance"]);
  });
});
