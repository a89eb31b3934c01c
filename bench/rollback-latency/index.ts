/**
 * bench/rollback-latency: the rollback handler against a real moto_server, versus the physical
 * floor measured in the same run against the same server with the same SDK client settings.
 *
 * - critical path: handler start -> rule weights flipped (`ModifyRule` returned), from the
 *   handler's own monotonic clock, over RUNS alarm deliveries (each on a fresh release);
 * - baseline: one bare `ModifyRule` call; also the floor of a *safe* flip (GetItem beside
 *   DescribeAlarms -> DescribeTargetHealth beside DescribeRules -> ModifyRule: the reads the
 *   handler must make before it may flip, as bare calls, paired as the handler pairs them), for
 *   context.
 * Runs are interleaved so machine noise hits all series alike.
 *
 * A local moto answers in a few milliseconds and handles concurrent requests largely one at a
 * time, so reads made side by side cost about what they cost in sequence: it cannot show the
 * round trips a flip saves. A second series therefore runs the handler and the bare ModifyRule
 * through a proxy that holds every request BENCH_ROLLBACK_MODEL_MS (default 25 ms, of the order
 * of an in-region AWS call) before forwarding it, concurrent requests side by side: a model of
 * real latency, stated as such. Goal: critical path at most 2.1x the bare ModifyRule at p50 and
 * p99 in that model (two round trips: the reads beside the release state, then ModifyRule).
 * Also: zipped bundle size (goal < 1 MB) and the handler's cold import time in a fresh Node process.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { strToU8, zipSync } from "fflate";
import { DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { DescribeRulesCommand, DescribeTargetHealthCommand, ModifyRuleCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { bundleLambda } from "../../components/rollback/bundle";
import { applyEvent } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { alarmActionEvent, cwTimestamp } from "../../test/helpers/alarmEvents";
import { startMoto } from "../../test/helpers/moto";
import { TABLE, clients, createWorld, handlerDeps } from "../../test/helpers/rollbackWorld";
import { startFaultProxy } from "../../test/helpers/faultProxy";

const RUNS = Number(process.env.BENCH_ROLLBACK_RUNS ?? 200);
const WARMUP = 20;
const GOAL_RATIO = 2.1;
const MODEL_MS = Number(process.env.BENCH_ROLLBACK_MODEL_MS ?? 25);
const MODEL_RUNS = Number(process.env.BENCH_ROLLBACK_MODEL_RUNS ?? 60);
const BUNDLE_GOAL_BYTES = 1024 * 1024;

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function zippedSize(code: string): { bytes: number; how: string } {
  return { bytes: zipSync({ "index.js": strToU8(code) }, { level: 9 }).length, how: "zip, deflate level 9" };
}

function coldImportMs(code: string, repeats = 5): { bundle: number; baseline: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-import-"));
  const file = path.join(dir, "index.js");
  fs.writeFileSync(file, code);
  const env = { ...process.env, RELEASE_TABLE: "t", NOTIFY_TOPIC_ARN: "arn:aws:sns:eu-west-1:1:t", ALARM_PREFIX: "p", ALARM_ACCOUNT_ID: "123456789012", AWS_REGION: "eu-west-1", AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" };
  const measure = (target: string) => {
    const script = `const {performance}=require("node:perf_hooks");const t=performance.now();${target};process.stdout.write(String(performance.now()-t))`;
    const samples = Array.from({ length: repeats }, () => Number(execFileSync(process.execPath, ["-e", script], { env, encoding: "utf8" })));
    return percentile(samples, 50);
  };
  try {
    return { bundle: measure(`require(${JSON.stringify(file)})`), baseline: measure(`require("node:http")`) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Returns true when every goal is met. */
export async function run(): Promise<boolean> {
  console.log(`bench/rollback-latency: rollback handler vs bare ModifyRule on one moto_server, ${RUNS} interleaved runs`);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  const moto = await startMoto();
  try {
    const world = await createWorld(moto.endpoint, ["payments"]);
    const svc = world.services.payments;
    const h = handlerDeps(moto.endpoint, world.topicArn);
    const alarm = await world.setAlarm(svc.alarmNames.green["error-rate"], "ALARM");
    const { elb, ddb } = world.clients;
    const routing = svc.routing;
    const bareModify = () =>
      elb.send(
        new ModifyRuleCommand({
          RuleArn: routing.ruleArn,
          Actions: [{ Type: "forward", ForwardConfig: { TargetGroups: [{ TargetGroupArn: routing.targetGroupArns.blue, Weight: 90 }, { TargetGroupArn: routing.targetGroupArns.green, Weight: 10 }] } }],
        }),
      );
    const cw = world.clients.cw;
    const safeFloor = async () => {
      // The event is confirmed with CloudWatch beside the state read; the record's routing is
      // checked against the rule beside the health check.
      await Promise.all([
        ddb.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: "payments" }, sk: { S: "state" } }, ConsistentRead: true })),
        cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarm.AlarmName as string], AlarmTypes: ["MetricAlarm"] })),
      ]);
      await Promise.all([
        elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: routing.targetGroupArns.blue })),
        elb.send(new DescribeRulesCommand({ RuleArns: [routing.ruleArn] })),
      ]);
      await bareModify();
    };
    let release = 0;
    /** Untimed: acknowledge the last rollback, start a fresh release at 10%, and fire the alarm anew after it. */
    const freshRelease = async () => {
      let s = await world.store.get("payments");
      if (!s) throw new Error("no state");
      for (const event of [
        { type: "acknowledge" as const, at: new Date(Date.now() - 2000).toISOString(), by: "bench" },
        { type: "start-release" as const, candidate: { slot: Slot.Green, version: `v3.${++release}` }, weight: 10, at: new Date(Date.now() - 1000).toISOString(), by: "bench" },
      ]) {
        const t = applyEvent(s, event);
        if (t.kind === "applied") {
          await world.store.commit(s.revision, t.state, t.entry);
          s = t.state;
        }
      }
      await world.traffic.setWeights(routing, s.weights);
      // The handler believes CloudWatch's record of when the alarm fired: it must fire after the release.
      await world.setAlarm(alarm.AlarmName as string, "OK");
      await new Promise((r) => setTimeout(r, 2));
      return world.setAlarm(alarm.AlarmName as string, "ALARM");
    };
    const deliver = async (): Promise<{ flip: number; total: number }> => {
      const fired = await freshRelease();
      const event = alarmActionEvent(fired);
      event.alarmData.state.timestamp = cwTimestamp(new Date());
      const t = performance.now();
      const r = await h.handler(event);
      const total = performance.now() - t;
      const flip = r.results[0]?.flipMs;
      if (r.outcome !== "rolled-back" || flip === undefined) throw new Error(`run did not roll back: ${JSON.stringify(r)}`);
      return { flip, total };
    };

    for (let i = 0; i < WARMUP; i++) {
      await bareModify();
      await safeFloor();
      await deliver();
    }
    const bare: number[] = [];
    const floor: number[] = [];
    const flips: number[] = [];
    const totals: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      bare.push(await timed(bareModify));
      floor.push(await timed(safeFloor));
      const d = await deliver();
      flips.push(d.flip);
      totals.push(d.total);
    }
    await world.notifications(); // drain

    const row = (label: string, v: number[]) =>
      console.log(`  ${label.padEnd(44)} p50 ${percentile(v, 50).toFixed(2).padStart(6)} ms   p99 ${percentile(v, 99).toFixed(2).padStart(6)} ms`);
    row("bare ModifyRule (baseline)", bare);
    row("safe-flip floor (2 paired reads + ModifyRule)", floor);
    row("handler: start -> weights flipped", flips);
    row("handler: start -> recorded + notified", totals);
    let okLatency = false;
    const ratio = (p: number) => percentile(flips, p) / percentile(bare, p);
    const vsFloor = (p: number) => percentile(flips, p) / percentile(floor, p);
    console.log(`  critical path vs bare ModifyRule, local moto: p50 ${ratio(50).toFixed(2)}x, p99 ${ratio(99).toFixed(2)}x (moto serializes side-by-side reads; see the model below)`);
    console.log(`  critical path vs the safe-flip floor (paired reads + ModifyRule, bare): p50 ${vsFloor(50).toFixed(2)}x, p99 ${vsFloor(99).toFixed(2)}x`);

    // The model: every call held MODEL_MS on the way in, side by side.
    const proxy = await startFaultProxy(moto.endpoint, { latencyMs: MODEL_MS });
    try {
      const hm = handlerDeps(proxy.endpoint, world.topicArn);
      const elbModel = clients(proxy.endpoint).elb;
      const bareModel = () =>
        elbModel.send(
          new ModifyRuleCommand({
            RuleArn: routing.ruleArn,
            Actions: [{ Type: "forward", ForwardConfig: { TargetGroups: [{ TargetGroupArn: routing.targetGroupArns.blue, Weight: 90 }, { TargetGroupArn: routing.targetGroupArns.green, Weight: 10 }] } }],
          }),
        );
      const modelBare: number[] = [];
      const modelFlips: number[] = [];
      for (let i = 0; i < MODEL_RUNS + 5; i++) {
        const b = await timed(bareModel);
        const fired = await freshRelease();
        const event = alarmActionEvent(fired);
        event.alarmData.state.timestamp = cwTimestamp(new Date());
        const r = await hm.handler(event);
        const flip = r.results[0]?.flipMs;
        if (r.outcome !== "rolled-back" || flip === undefined) throw new Error(`modelled run did not roll back: ${JSON.stringify(r)}`);
        if (i >= 5) {
          modelBare.push(b);
          modelFlips.push(flip);
        }
      }
      const mRatio = (p: number) => percentile(modelFlips, p) / percentile(modelBare, p);
      okLatency = mRatio(50) <= GOAL_RATIO && mRatio(99) <= GOAL_RATIO;
      row(`model (${MODEL_MS} ms a call): bare ModifyRule`, modelBare);
      row(`model (${MODEL_MS} ms a call): handler -> flipped`, modelFlips);
      console.log(`  critical path vs bare ModifyRule, modelled latency: p50 ${mRatio(50).toFixed(2)}x, p99 ${mRatio(99).toFixed(2)}x (goal <= ${GOAL_RATIO}x) ${okLatency ? "PASS" : "MISS"}`);
    } finally {
      await proxy.close();
    }

    const bundle = bundleLambda("rollback");
    const zip = zippedSize(bundle.code);
    const okSize = zip.bytes < BUNDLE_GOAL_BYTES;
    console.log(
      `  bundle: ${(bundle.code.length / 1024).toFixed(0)} KiB minified, ${(zip.bytes / 1024).toFixed(0)} KiB zipped (${zip.how}); goal < 1024 KiB ${okSize ? "PASS" : "MISS"}`,
    );
    const cold = coldImportMs(bundle.code);
    console.log(`  cold import of the bundle in a fresh node: ${cold.bundle.toFixed(1)} ms (require("node:http") alone: ${cold.baseline.toFixed(1)} ms), median of 5`);
    return okLatency && okSize;
  } finally {
    await moto.stop();
  }
}
