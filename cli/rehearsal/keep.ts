/**
 * `remedy rehearse --keep` / `--stop`: the rehearsed stack left running on its emulator for an
 * operator to try the commands on, and stopped again. The keeper writes its pid, its process start
 * time and endpoint to a state file in a directory of the user's own (`$TMPDIR/remedy-<uid>`, mode
 * 0700, refused if anyone else owns it or it is a link); `--stop` signals that pid only if the
 * process there is still the keeper that wrote it (same start time), never a pid reused since
 * (issue 35, 17).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const uid = () => (typeof process.getuid === "function" ? process.getuid() : 0);

/** The user's own state directory (created 0700); throws when it is not safely the user's. */
export function stateDir(): string {
  const dir = path.join(os.tmpdir(), `remedy-${uid()}`);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.isSymbolicLink() || (typeof process.getuid === "function" && st.uid !== uid()) || (st.mode & 0o077) !== 0) {
    throw new Error(`${dir} is not a private directory of this user (owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)}); remove it and run again`);
  }
  return dir;
}

export const stateFile = () => path.join(stateDir(), "rehearsal.json");

interface KeptState {
  readonly pid: number;
  readonly started: string;
  readonly endpoint: string;
}

/** When process `pid` started (Linux: /proc start ticks; elsewhere `ps`), or undefined if it is gone. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    if (fs.existsSync("/proc/self/stat")) return undefined;
  }
  try {
    return execFileSync("ps", ["-o", "lstart=", "-p", String(pid)], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The commands the banner suggests, in an order that works (test/cli/keptRehearsal.test.ts runs each). */
export function bannerCommands(outputs: string): string[] {
  return [
    "remedy status                                 # every service: one promoted, one paused, one at 10%",
    "remedy status orders                          # its steps: paused before full",
    "remedy history payments --limit 5             # who did what, and why",
    "remedy drill catalog --timeout 60             # its alarm -> the rollback function -> traffic back, restored",
    "remedy promote orders                         # past the pause; the driver goes on",
    `remedy wait orders --outputs ${outputs} --interval 1`,
    "remedy rollback payments --reason 'INC-1: trying a rollback inside the window'",
    "remedy abort catalog --reason 'trying abort'",
    "remedy status --exit-status                   # 3: a release was rolled back",
  ];
}

/**
 * Prints what to export, runs what AWS would run on its own (the driver's schedule, alarm
 * actions) every second, and on Ctrl-C / SIGTERM stops the emulator.
 */
export async function keep(kept: { readonly endpoint: string; readonly env: Readonly<Record<string, string>>; readonly outputs: Record<string, unknown>; readonly live: { step(): Promise<void> }; readonly stop: () => Promise<void> }, err: (s: string) => void, code: number): Promise<number> {
  const file = stateFile();
  const outputs = path.join(stateDir(), "outputs.json");
  fs.writeFileSync(outputs, JSON.stringify(kept.outputs, null, 2), { mode: 0o600 });
  fs.writeFileSync(file, JSON.stringify({ pid: process.pid, started: processStart(process.pid) ?? "?", endpoint: kept.endpoint } satisfies KeptState), { mode: 0o600 });
  err(
    [
      "",
      `remedy rehearse --keep: the rehearsed stack (prod) runs on ${kept.endpoint}, with its release driver ticking`,
      "every second and alarm actions invoking the rollback function, as AWS would. The stack's outputs",
      `(what \`pulumi stack output --json\` prints) are in ${outputs}. In another shell (\`remedy\` is on`,
      "PATH after `npm link` in the checkout, else run `node cli/remedy.js`; docs/cli.md shows each with its output):",
      ...Object.entries(kept.env).map(([k, v]) => `  export ${k}=${v}`),
      ...bannerCommands(outputs).map((c) => `  ${c}`),
      "Ctrl-C here, or `remedy rehearse --stop`, ends it.",
    ].join("\n"),
  );
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const done = () => {
      stopping = true;
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  let complaint = "";
  while (!stopping) {
    try {
      await kept.live.step();
      complaint = "";
    } catch (e) {
      // Said once per different problem: a kept rehearsal runs for hours.
      const message = `remedy rehearse: the driver's tick or an alarm action failed: ${(e as Error).message}`;
      if (message !== complaint) err(message);
      complaint = message;
    }
    await Promise.race([stopped, new Promise((r) => setTimeout(r, 1000))]);
  }
  await kept.stop();
  fs.rmSync(file, { force: true });
  fs.rmSync(outputs, { force: true });
  err("remedy rehearse: stopped the emulator");
  return code;
}

/** Stops a kept rehearsal (signals its keeper, which stops the emulator), only if it is still that keeper. */
export function stop(out: (s: string) => void, err: (s: string) => void): number {
  let file: string;
  let state: KeptState;
  try {
    file = stateFile();
    const st = fs.lstatSync(file);
    if (!st.isFile() || (typeof process.getuid === "function" && st.uid !== uid())) throw new Error(`${file} is not this user's file`);
    state = JSON.parse(fs.readFileSync(file, "utf8")) as KeptState;
    if (!Number.isInteger(state.pid) || state.pid <= 1) throw new Error(`${file} names no keeper`);
  } catch {
    err(`remedy rehearse: no kept rehearsal of this user; start one with remedy rehearse --keep`);
    return 2;
  }
  // The pid may have been reused by another process since: signal it only if it started when the keeper did.
  const started = processStart(state.pid);
  if (started === undefined || started !== state.started) {
    fs.rmSync(file, { force: true });
    err(`remedy rehearse: the kept rehearsal (pid ${state.pid}) is gone${started === undefined ? "" : " (that pid is another process now; not signalled)"}; cleaned up ${file}`);
    return 0;
  }
  process.kill(state.pid, "SIGTERM");
  out(`remedy rehearse: asked the kept rehearsal (pid ${state.pid}, ${state.endpoint}) to stop`);
  return 0;
}
