/**
 * bench/cli: how fast `remedy` starts, against a bare `node -e 0` measured in the same run.
 *   - `remedy --help`: goal within 3x a bare Node start (it loads no AWS SDK, Pulumi or driver).
 *   - `remedy status`: from process start to its first AWS request arriving at a loopback
 *     endpoint (AWS_ENDPOINT_URL), i.e. ready to call AWS; goal under 1 s. In an incident
 *     `remedy rollback` pays the same start.
 *   - `remedy rollback <service> --reason ...`: the same, to its first AWS request.
 *   - the ways to run it (docs/cli.md, issue 36, 11): `remedy --help` through the `npm link`ed
 *     command (the documented way; goal: as fast as `node cli/remedy.js`, within 3x bare Node)
 *     and through `npx --no-install remedy` (which resolves the package on every call).
 * Medians of BENCH_CLI_RUNS runs (default 7). The bundle is built first (as `npm ci` does).
 */
import { spawn, spawnSync } from "node:child_process";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";

const ROOT = path.join(__dirname, "..", "..");
const REMEDY = path.join(ROOT, "cli", "remedy.js");
const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 7);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall time of a process that runs to its end (`node <args>`, or `command` when given). */
function timeRun(args: readonly string[], command: string = process.execPath): number {
  const t0 = performance.now();
  const r = spawnSync(command, args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

/** Milliseconds from spawning `remedy <args>` to its first HTTP request at a loopback AWS endpoint. */
async function timeToFirstRequest(args: readonly string[]): Promise<number> {
  let t0 = 0;
  let resolveFirst: (ms: number) => void = () => undefined;
  const first = new Promise<number>((r) => (resolveFirst = r));
  const server = http.createServer((req, res) => {
    resolveFirst(performance.now() - t0);
    req.resume();
    res.writeHead(500, { "content-type": "application/x-amz-json-1.0" }).end(JSON.stringify({ __type: "InternalFailure", message: "bench endpoint" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  t0 = performance.now();
  const child = spawn(process.execPath, [REMEDY, ...args], {
    stdio: "ignore",
    env: {
      ...process.env,
      NODE_OPTIONS: "",
      AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "bench",
      AWS_SECRET_ACCESS_KEY: "bench",
      AWS_MAX_ATTEMPTS: "1",
    },
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const ms = await Promise.race([first, exited.then((code) => Promise.reject(new Error(`remedy ${args.join(" ")} exited ${code} before calling AWS`)))]);
  child.kill();
  await exited;
  await new Promise((r) => server.close(r));
  return ms;
}

export async function run(): Promise<boolean> {
  // The bundle `npm ci` builds; a stale one would be rebuilt inside the first timed run.
  spawnSync(process.execPath, [path.join(ROOT, "cli", "build.js"), "--quiet"], { stdio: "inherit" });
  const bare: number[] = [];
  const help: number[] = [];
  const status: number[] = [];
  const rollback: number[] = [];
  const linked: number[] = [];
  const npx: number[] = [];
  // The documented way: `npm link`, here into a prefix of the bench's own.
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-bench-link-"));
  const link = spawnSync("npm", ["link", "--no-audit", "--no-fund"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, npm_config_prefix: prefix } });
  if (link.status !== 0) throw new Error(`npm link: ${link.stderr}`);
  const linkedRemedy = path.join(prefix, "bin", "remedy");
  // Interleaved, so a machine that gets busier mid-run weighs on each the same.
  for (let i = 0; i < RUNS; i++) {
    bare.push(timeRun(["-e", "0"]));
    help.push(timeRun([REMEDY, "--help"]));
    status.push(await timeToFirstRequest(["status", "--stack", "bench"]));
    rollback.push(await timeToFirstRequest(["rollback", "payments", "--reason", "bench: time to first AWS call", "--stack", "bench"]));
    linked.push(timeRun(["--help"], linkedRemedy));
    npx.push(timeRun(["--no-install", "remedy", "--help"], "npx"));
  }
  fs.rmSync(prefix, { recursive: true, force: true });
  const b = median(bare);
  const rows: Array<[string, number, string, boolean]> = [
    ["remedy --help", median(help), "<= 3x bare node", median(help) <= 3 * b],
    ["remedy status, to its first AWS request", median(status), "< 1000 ms", median(status) < 1000],
    ["remedy rollback, to its first AWS request", median(rollback), "< 1000 ms", median(rollback) < 1000],
    ["remedy --help, npm-linked (the documented way)", median(linked), "<= 3x bare node", median(linked) <= 3 * b],
    ["npx --no-install remedy --help (for comparison)", median(npx), "none (measured)", true],
  ];
  console.log(`\nbench/cli: CLI start, median of ${RUNS} runs; baseline node -e 0 = ${b.toFixed(0)} ms`);
  for (const [what, ms, goal, ok] of rows) {
    console.log(`  ${what.padEnd(48)} ${ms.toFixed(0).padStart(5)} ms  ${(ms / b).toFixed(2).padStart(5)}x bare  goal ${goal.padEnd(16)} ${ok ? "PASS" : "MISS"}`);
  }
  return rows.every(([, , , ok]) => ok);
}
