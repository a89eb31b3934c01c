/**
 * bench/release-driver: how late a progressive step happens once it is due, on one moto_server.
 * The driver's clock is set exactly to each step's due time, so the measured time from the tick's
 * start until the rule carries the new weight is the step's drift beyond the schedule's own
 * granularity (the EventBridge period, 1 minute, which a real deployment adds on top). Baseline in
 * the same run: a bare ModifyRule. Also the tick cost when nothing is due (hold), which every
 * service pays every minute. Goal: a due step lands less than 1 s after it is due at p99, under
 * 2% of the 1-minute schedule period, so drift never accumulates into a missed step. Context: the
 * ratio to a bare ModifyRule (a tick makes 7 sequential calls: list, rule, alarms, health, record,
 * flip, re-read).
 *
 * Detection to flip: a canary at 25% whose alarm fires while the driver's next step is due; the
 * rollback Lambda's handler and a driver tick start together (the race the design must win). The
 * figure is the handler's own alarm-event-to-rule-flipped time, and the rule must end at 100% on
 * stable with the release rolled back, every round. Goal: p99 under 1 s (the brief's "within
 * seconds"), as a ratio to a bare ModifyRule in the same run.
 */
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { Logger } from "@aws-lambda-powertools/logger";
import { ModifyRuleCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { normalizeStrategy } from "../../core/progressive";
import { applyEvent } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { createReleaseDriver } from "../../lambdas/commons/releaseDriver";
import * as defaults from "../../core/defaults";
import { alarmActionEvent } from "../../test/helpers/alarmEvents";
import { startMoto } from "../../test/helpers/moto";
import { startFaultProxy } from "../../test/helpers/faultProxy";
import { PREFIX, TABLE, capture, clients, createWorld, handlerDeps, moveRuleByHand } from "../../test/helpers/rollbackWorld";
import { TransactWriteItemsCommand } from "@aws-sdk/client-dynamodb";
import { gatherStatus } from "../../cli/commands/ops";
import { AlarmBatcher } from "../../lambdas/commons/alarmState";
import { listenerOfRule, liveRuleOf } from "../../lambdas/commons/traffic";

const RELEASES = Number(process.env.BENCH_DRIVER_RELEASES ?? 30);
/** Services due in the one big tick (and read by `remedy status`). */
const MANY = Number(process.env.BENCH_DRIVER_SERVICES ?? 500);
const GOAL_MANY_MS = 20_000;
const ROLLBACKS = Number(process.env.BENCH_DRIVER_ROLLBACKS ?? 20);
const GOAL_P99_MS = 1_000;

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

export async function run(): Promise<boolean> {
  console.log(`bench/release-driver: ${RELEASES} linear releases (25% every 5 min) on one moto_server; the driver's clock set to each step's due time`);
  const moto = await startMoto();
  try {
    const world = await createWorld(moto.endpoint, ["payments"]);
    const c = clients(moto.endpoint);
    const logger = new Logger({ serviceName: "bench" });
    capture(logger);
    let clock = Date.now();
    // A driver per tick: in Lambda ticks are a minute apart, so each starts with CloudWatch's
    // token bucket full (ticks back to back here would otherwise wait for each other's tokens).
    const driver = { tick: () => createReleaseDriver({ services: ["payments"], store: world.store, traffic: world.traffic, cloudwatch: c.cw, alarmPrefix: PREFIX, logger, now: () => clock }).tick() };
    const routing = world.services.payments.routing;
    const strategy = normalizeStrategy({ kind: "linear", stepPercent: 25, minutes: 5, bakeMinutes: 0 });
    const due: number[] = [];
    const hold: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < RELEASES; i++) {
      // A fresh progressive release of v<i> on green at 0% (blue stable).
      let s = await world.store.get("payments");
      if (!s) throw new Error("no state");
      for (const e of [
        ...(s.phase === "promoted" ? [{ type: "adopt" as const, stable: { slot: Slot.Blue, version: "v1" }, at: new Date(clock).toISOString(), by: "bench" }] : []),
        { type: "start-release" as const, candidate: { slot: Slot.Green, version: `v${i + 2}` }, weight: 0, progressive: { strategy, rollbackWindowMinutes: 0 }, at: new Date(clock).toISOString(), by: "bench" },
      ]) {
        const t = applyEvent(s, e);
        if (t.kind !== "applied") throw new Error(t.reason);
        await world.store.commit(s.revision, t.state, t.entry);
        s = t.state;
      }
      await moveRuleByHand(world.clients.elb, routing, s.weights);
      // Steps 25, 50, 75, 100, then promote: each tick at its due time.
      for (let step = 0; step < 5; step++) {
        const t0 = performance.now();
        await driver.tick();
        due.push(performance.now() - t0);
        clock += 60_000; // a tick a minute before the next step is due: nothing to do
        const h0 = performance.now();
        await driver.tick();
        hold.push(performance.now() - h0);
        clock += 4 * 60_000;
        const b0 = performance.now();
        await c.elb.send(new ModifyRuleCommand({ RuleArn: routing.ruleArn, Actions: [{ Type: "forward", ForwardConfig: { TargetGroups: [{ TargetGroupArn: routing.targetGroupArns.blue, Weight: 100 }, { TargetGroupArn: routing.targetGroupArns.green, Weight: 0 }] } }] }));
        bare.push(performance.now() - b0);
        await moveRuleByHand(world.clients.elb, routing, (await world.store.get("payments"))?.weights ?? { blue: 100, green: 0 });
      }
    }
    const row = (name: string, v: number[]) => console.log(`  ${name.padEnd(40)} p50 ${percentile(v, 50).toFixed(2).padStart(7)} ms   p99 ${percentile(v, 99).toFixed(2).padStart(7)} ms`);
    row("bare ModifyRule (baseline)", bare);
    row("due step: tick start -> rule moved", due);
    row("nothing due: tick (hold)", hold);
    const p99 = percentile(due, 99);
    const ok = p99 < GOAL_P99_MS;
    console.log(
      `  drift of a due step: p99 ${p99.toFixed(0)} ms = ${((100 * p99) / 60_000).toFixed(2)}% of the 1-minute schedule (goal < ${GOAL_P99_MS} ms) ${ok ? "PASS" : "MISS"}; ` +
        `${(percentile(due, 50) / percentile(bare, 50)).toFixed(2)}x / ${(p99 / percentile(bare, 99)).toFixed(2)}x a bare ModifyRule (p50/p99); in AWS the schedule adds up to its period`,
    );

    // Detection to flip, racing the driver. Releases start an hour back, so the alarms set now
    // are observed after each release started (a late alarm would rightly be ignored).
    const { handler } = handlerDeps(moto.endpoint, world.topicArn);
    const alarmName = world.services.payments.alarmNames.green["error-rate"];
    const flips: number[] = [];
    let wrong = 0;
    const canary = normalizeStrategy({ kind: "canary", weight: 25, minutes: 5, bakeMinutes: 0 });
    for (let i = 0; i < ROLLBACKS; i++) {
      clock = Date.now() - 3_600_000;
      let s = await world.store.get("payments");
      if (!s) throw new Error("no state");
      for (const e of [
        ...(s.phase === "promoted" ? [{ type: "adopt" as const, stable: { slot: Slot.Blue, version: "v1" }, at: new Date(clock - 1).toISOString(), by: "bench" }] : []),
        { type: "start-release" as const, candidate: { slot: Slot.Green, version: `r${i}` }, weight: 0, progressive: { strategy: canary, rollbackWindowMinutes: 0 }, at: new Date(clock).toISOString(), by: "bench" },
      ]) {
        const t = applyEvent(s, e);
        if (t.kind !== "applied") throw new Error(`${e.type}: ${t.reason}`);
        await world.store.commit(s.revision, t.state, t.entry);
        s = t.state;
      }
      await moveRuleByHand(world.clients.elb, routing, s.weights);
      await driver.tick(); // 25%
      clock += 5 * 60_000; // the next step (100%) is due now
      const alarm = await world.setAlarm(alarmName, "ALARM");
      const [r] = await Promise.all([handler(alarmActionEvent(alarm)), driver.tick()]);
      const flip = r.results[0]?.flipMs;
      const after = await world.store.get("payments");
      const live = await world.traffic.currentWeights(routing);
      if (flip === undefined || after?.phase !== "rolled-back" || live.blue !== 100) {
        wrong++;
        console.log(`  round ${i}: handler ${r.outcome}, release ${after?.phase ?? "?"}, rule blue/green ${live.blue}/${live.green}`);
      }
      else flips.push(flip);
      await world.setAlarm(alarmName, "OK");
      await moveRuleByHand(world.clients.elb, routing, { blue: 100, green: 0 });
    }
    let ok2 = false;
    if (flips.length > 0) {
      row("alarm event -> rule flipped (racing a tick)", flips);
      const f99 = percentile(flips, 99);
      ok2 = wrong === 0 && f99 < GOAL_P99_MS;
      console.log(
        `  detection to flip: p99 ${f99.toFixed(0)} ms (goal < ${GOAL_P99_MS} ms), ${wrong}/${ROLLBACKS} rounds not rolled back to 100% stable ${ok2 ? "PASS" : "MISS"}; ` +
          `${(percentile(flips, 50) / percentile(bare, 50)).toFixed(2)}x / ${(f99 / percentile(bare, 99)).toFixed(2)}x a bare ModifyRule (p50/p99); in AWS CloudWatch's evaluation period comes first`,
      );
    } else console.log(`  detection to flip: no round rolled back (${wrong}/${ROLLBACKS} wrong) MISS`);
    return ok && ok2 && (await scale());
  } finally {
    await moto.stop();
  }
}

/**
 * One tick with 10, then with MANY services each due a step (fresh moto, one listener, every
 * service's alarms defined), as the Lambda runs it (alarm reads coalesced, 5 DescribeAlarms a second after a burst of 5).
 * Every due step must really have moved its rule. Then `remedy status` over all of them.
 */
async function scale(): Promise<boolean> {
  // moto deep-copies a whole table for each item of a TransactWriteItems (275 ms a commit at 510
  // services' state, against milliseconds in DynamoDB): this launcher backs up only the named
  // items, so the tick measures the driver rather than that copy. Its cost is printed as well.
  const moto = await startMoto({ launcher: path.join(__dirname, "moto_item_snapshots.py") });
  // The proxy counts calls and moto's time per operation. It need not serialize conditional
  // writes here (the tests do, for moto's sake): each service writes only its own items, so no
  // two writes of this tick ever meet on an item, as in DynamoDB.
  const proxy = await startFaultProxy(moto.endpoint, { serializeConditionalWrites: false });
  try {
    const names = Array.from({ length: 10 + MANY }, (_, i) => `svc${String(i).padStart(4, "0")}`);
    const t0 = performance.now();
    const start = new Date(Date.now() - 3_600_000);
    const world = await createWorld(proxy.endpoint, names, 0, { progressiveAt: start.toISOString(), concurrency: 6 });
    console.log(`  (set up ${names.length} services with their rules and alarms in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    const c = clients(proxy.endpoint);
    const logger = new Logger({ serviceName: "bench" });
    capture(logger);
    const bare: number[] = [];
    const routing0 = world.services[names[0]].routing;
    for (let i = 0; i < 20; i++) {
      const b0 = performance.now();
      await c.elb.send(new ModifyRuleCommand({ RuleArn: routing0.ruleArn, Actions: [{ Type: "forward", ForwardConfig: { TargetGroups: [{ TargetGroupArn: routing0.targetGroupArns.blue, Weight: 100 }, { TargetGroupArn: routing0.targetGroupArns.green, Weight: 0 }] } }] }));
      bare.push(performance.now() - b0);
    }
    const bareP50 = percentile(bare, 50);
    // moto copies the whole table for each item of a TransactWriteItems (every commit is a
    // two-item one): its cost at this table size bounds what any driver can do on moto.
    const tx: number[] = [];
    for (let i = 0; i < 5; i++) {
      const x0 = performance.now();
      await c.ddb.send(
        new TransactWriteItemsCommand({
          TransactItems: ["a", "b"].map((sk) => ({ Put: { TableName: TABLE, Item: { pk: { S: "bench#tx" }, sk: { S: sk }, n: { N: String(i) } } } })),
        }),
      );
      tx.push(performance.now() - x0);
    }
    const txP50 = percentile(tx, 50);
    let ok = true;
    for (const services of [names.slice(0, 10), names.slice(10)]) {
      const driver = createReleaseDriver({ services, store: world.store, traffic: world.traffic, cloudwatch: c.cw, alarmPrefix: PREFIX, logger, now: () => start.getTime() + 1000, alarms: new AlarmBatcher(c.cw, PREFIX) });
      proxy.reset();
      const d0 = world.traffic.describeCalls;
      const k0 = performance.now();
      const results = await driver.tick();
      const ms = performance.now() - k0;
      const describes = world.traffic.describeCalls - d0;
      const calls = Object.entries(proxy.forwarded).sort((a, b) => (proxy.upstreamMs[b[0]] ?? 0) - (proxy.upstreamMs[a[0]] ?? 0));
      // Every due step moved: the rule of each service forwards 10% to its candidate now.
      const rules = await world.traffic.rulesOfListeners([listenerOfRule(world.services[services[0]].routing.ruleArn) as string]);
      const moved = services.filter((n) => {
        const r = liveRuleOf(world.services[n].routing, rules.get(world.services[n].routing.ruleArn));
        return r.weights.green === 10 && r.weights.blue === 90;
      }).length;
      const advanced = results.filter((r) => r.decision === "advance").length;
      const pass = moved === services.length && advanced === services.length && (services.length < MANY || ms < GOAL_MANY_MS);
      ok &&= pass;
      console.log(
        `  tick, ${String(services.length).padStart(3)} due services: ${(ms / 1000).toFixed(2)} s (${(ms / services.length).toFixed(1)} ms a service = ${(ms / services.length / bareP50).toFixed(1)}x a bare ModifyRule of ${bareP50.toFixed(1)} ms, ${(ms / services.length / txP50).toFixed(1)}x moto's TransactWriteItems of ${txP50.toFixed(1)} ms at this table size); ${advanced} advanced, ${moved} rules moved` +
          (services.length >= MANY ? ` (goal < ${GOAL_MANY_MS / 1000} s, every step moved) ${pass ? "PASS" : "MISS"}` : ""),
      );
      console.log(`    AWS calls (count, moto's summed answer time): ${calls.map(([op, n]) => `${op} ${n} (${((proxy.upstreamMs[op] ?? 0) / 1000).toFixed(1)} s)`).join(", ")}`);
      // moto does not throttle; AWS does. At the driver's own ELB Describe* rate (the Lambda's
      // setting, below ELB's bucket of 40 refilled at 10 a second):
      const rate = defaults.DRIVER_ELB_DESCRIBE_RATE;
      const perService = describes / services.length;
      const fit = Math.floor((rate.burst + rate.perSecond * (50 - defaults.DRIVER_RECORD_RESERVE_MS / 1000)) / perService);
      console.log(
        `    on AWS: ${describes} ELB Describe* calls (${perService.toFixed(2)} a service) need >= ${Math.max(0, (describes - rate.burst) / rate.perSecond).toFixed(0)} s at the driver's ${rate.perSecond}/s after a burst of ${rate.burst}; ` +
          `about ${fit} due steps fit one 50 s tick${fit < services.length ? `, the other ${services.length - fit} land in the next ticks` : ""}`,
      );
    }
    const s0 = performance.now();
    const rows = await gatherStatus(world.store, c.cw, PREFIX);
    const sms = performance.now() - s0;
    const statusOk = rows.length === names.length && rows.every((r) => r.alarms.total === 8);
    console.log(`  remedy status over ${rows.length} services: ${(sms / 1000).toFixed(2)} s (${(sms / bareP50).toFixed(0)}x a bare ModifyRule), every service with its 8 alarms ${statusOk ? "PASS" : "MISS"}`);
    return ok && statusOk;
  } finally {
    await proxy.close();
    await moto.stop();
  }
}
