/**
 * bench/program-scale: evaluates the prod stack program under Pulumi mocks for 1, 10, 100 and 300
 * services, each in a fresh process (median of REPEATS runs), and prints time, peak memory and
 * resources per service. Goal: per-service time stays flat — at 300 services no more than 1.5x the
 * per-service time at 10 (the baseline, measured in the same run).
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";

export const SIZES = [1, 10, 100, 300] as const;
const BASELINE = 10;
const GOAL_RATIO = 1.5;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

interface Sample {
  services: number;
  ms: number;
  resources: number;
  peakRssMiB: number;
}

function runWorker(services: number): Sample {
  const out = execFileSync(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", path.join(__dirname, "worker.ts"), String(services)],
    { cwd: path.resolve(__dirname, "..", ".."), encoding: "utf8", maxBuffer: 1 << 20 },
  );
  return JSON.parse(out.trim().split("\n").pop() as string) as Sample;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Returns true when the goal is met. */
export function run(): boolean {
  console.log(`bench/program-scale: prod program under Pulumi mocks, median of ${REPEATS} fresh processes per size`);
  const rows = SIZES.map((n) => {
    const samples = Array.from({ length: REPEATS }, () => runWorker(n));
    return {
      services: n,
      resources: samples[0].resources,
      ms: median(samples.map((s) => s.ms)),
      peakRssMiB: median(samples.map((s) => s.peakRssMiB)),
    };
  });
  const base = rows.find((r) => r.services === BASELINE);
  if (base === undefined) throw new Error(`baseline size ${BASELINE} missing`);
  const basePerService = base.ms / base.services;
  // Stack-wide resources (shared ingress) from the two smallest sizes; the rest are per service.
  const [a, b] = rows;
  const marginal = (b.resources - a.resources) / (b.services - a.services);
  const fixed = a.resources - marginal * a.services;
  const header = ["services", "resources", "res/svc", "total ms", "ms/svc", "vs 10", "peak RSS MiB"];
  const table = rows.map((r) => [
    String(r.services),
    String(r.resources),
    ((r.resources - fixed) / r.services).toFixed(1),
    r.ms.toFixed(0),
    (r.ms / r.services).toFixed(1),
    (r.ms / r.services / basePerService).toFixed(2) + "x",
    r.peakRssMiB.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  for (const row of [header, ...table]) console.log("  " + row.map((c, i) => c.padStart(widths[i])).join("  "));
  const largest = rows[rows.length - 1];
  const ratio = largest.ms / largest.services / basePerService;
  const ok = ratio <= GOAL_RATIO;
  console.log(
    `  per-service time at ${largest.services} vs ${BASELINE}: ${ratio.toFixed(2)}x (goal <= ${GOAL_RATIO}x) ${ok ? "PASS" : "FAIL"}`,
  );
  console.log(`  (res/svc excludes the ${fixed} stack-wide resources: shared ingress, rollback Lambda, release table, topic, queue)`);
  return ok;
}

if (require.main === module) {
  process.exit(run() ? 0 : 1);
}
