/**
 * bench/program-scale: evaluates the prod stack program under Pulumi mocks, each size in a fresh
 * process with Node's default heap, and prints time, peak memory and resources per service.
 * Services are 50 to an ALB (ingress groups), as AWS's 100 target groups per ALB require.
 *
 * Goals, against the 10-service baseline of the same run: per-service time at 500 within 1.5x of
 * it; 500 services pass every AWS quota check the program runs at preview; 1,000 services
 * evaluate within Node's default heap. Also measured: what source-mapping the SDK's per-resource
 * stack captures cost (the program's entry turns it off for them, stacks/stackTraces.ts), as the
 * same 50 services with and without.
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";

const BASELINE = 10;
const LARGE = Number(process.env.BENCH_PROGRAM_SERVICES ?? 500);
const HUGE = Number(process.env.BENCH_PROGRAM_HUGE ?? 1000);
const GOAL_RATIO = 1.5;

interface Sample {
  services: number;
  ms: number;
  resources: number;
  peakRssMiB: number;
  retainedHeapMiB: number;
  heapLimitMiB: number;
  quotaChecks: number;
  quotaProblems: string[];
}

function runWorker(services: number, env: Record<string, string> = {}): Sample {
  const out = execFileSync(process.execPath, ["--expose-gc", "-r", "ts-node/register/transpile-only", path.join(__dirname, "worker.ts"), String(services)], {
    cwd: path.resolve(__dirname, "..", ".."),
    encoding: "utf8",
    maxBuffer: 1 << 20,
    env: { ...process.env, ...env },
  });
  return JSON.parse(out.trim().split("\n").pop() as string) as Sample;
}

/** Returns true when every goal is met. */
export function run(): boolean {
  const started = Date.now();
  console.log(`bench/program-scale: prod program under Pulumi mocks, one fresh process per size (Node's default heap), 50 services per ALB`);
  const rows = [BASELINE, LARGE, HUGE].map((n) => runWorker(n));
  const base = rows[0];
  const basePerService = base.ms / base.services;
  const header = ["services", "ALBs", "resources", "res/svc", "total s", "ms/svc", `vs ${BASELINE}`, "peak RSS MiB", "retained heap MiB"];
  const table = rows.map((r) => [
    String(r.services),
    String(Math.ceil(r.services / 50)),
    String(r.resources),
    (r.resources / r.services).toFixed(1),
    (r.ms / 1000).toFixed(1),
    (r.ms / r.services).toFixed(1),
    `${(r.ms / r.services / basePerService).toFixed(2)}x`,
    r.peakRssMiB.toFixed(0),
    r.retainedHeapMiB.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  for (const row of [header, ...table]) console.log("  " + row.map((c, i) => c.padStart(widths[i])).join("  "));
  const large = rows[1];
  const ratio = large.ms / large.services / basePerService;
  const timeOk = ratio <= GOAL_RATIO;
  console.log(`  per-service time at ${LARGE} vs ${BASELINE}: ${ratio.toFixed(2)}x (goal <= ${GOAL_RATIO}x) ${timeOk ? "PASS" : "MISS"}`);
  const quotaOk = large.quotaProblems.length === 0 && large.quotaChecks > 0;
  console.log(
    `  AWS quota checks at ${LARGE} services: ${large.quotaChecks} limits counted, ${large.quotaProblems.length} exceeded ${quotaOk ? "PASS" : `MISS (${large.quotaProblems.join("; ")})`}`,
  );
  const huge = rows[2];
  console.log(`  ${HUGE} services evaluated in ${(huge.ms / 1000).toFixed(0)} s within Node's default heap (limit ${huge.heapLimitMiB.toFixed(0)} MiB; ${huge.retainedHeapMiB.toFixed(0)} MiB retained after a full GC, peak RSS ${huge.peakRssMiB.toFixed(0)} MiB) PASS`);
  // What dominated before: source-mapping every frame of the SDK's stack captures under ts-node.
  const fast = runWorker(50);
  const mapped = runWorker(50, { BENCH_MAPPED_STACKS: "1" });
  console.log(
    `  50 services with every SDK stack capture source-mapped (as before): ${(mapped.ms / 1000).toFixed(1)} s, peak RSS ${mapped.peakRssMiB.toFixed(0)} MiB; ` +
      `without: ${(fast.ms / 1000).toFixed(1)} s, ${fast.peakRssMiB.toFixed(0)} MiB (${(mapped.ms / fast.ms).toFixed(2)}x the time)`,
  );
  console.log(`  (bench took ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return timeOk && quotaOk;
}

if (require.main === module) {
  process.exit(run() ? 0 : 1);
}
