/**
 * `remedy rehearse --keep` / `--stop`: the rehearsed stack left running on its emulator for an
 * operator to try the commands on, and stopped again. The keeper writes its pid and endpoint to
 * a state file (`$TMPDIR/remedy-rehearsal.json`); `--stop` signals that pid.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const STATE_FILE = path.join(os.tmpdir(), "remedy-rehearsal.json");

interface KeptState {
  readonly pid: number;
  readonly endpoint: string;
}

/** Prints what to export, then waits for Ctrl-C / SIGTERM and stops the emulator. */
export async function keep(kept: { readonly endpoint: string; readonly env: Readonly<Record<string, string>>; readonly stop: () => Promise<void> }, err: (s: string) => void, code: number): Promise<number> {
  fs.writeFileSync(STATE_FILE, JSON.stringify({ pid: process.pid, endpoint: kept.endpoint } satisfies KeptState));
  err(
    [
      "",
      `remedy rehearse --keep: the rehearsed stack (prod) runs on ${kept.endpoint}. In another shell:`,
      ...Object.entries(kept.env).map(([k, v]) => `  export ${k}=${v}`),
      "  npx --no-install remedy status payments     # one service in detail",
      "  npx --no-install remedy history payments    # what the rehearsal did, who and why",
      "  npx --no-install remedy status --watch      # every service, redrawn",
      "  npx --no-install remedy abort orders --reason 'trying abort'",
      "Ctrl-C here, or `remedy rehearse --stop`, ends it.",
    ].join("\n"),
  );
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  await kept.stop();
  fs.rmSync(STATE_FILE, { force: true });
  err("remedy rehearse: stopped the emulator");
  return code;
}

/** Stops a kept rehearsal (signals its keeper, which stops the emulator). */
export function stop(out: (s: string) => void, err: (s: string) => void): number {
  let state: KeptState;
  try {
    state = JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as KeptState;
  } catch {
    err(`remedy rehearse: no kept rehearsal (${STATE_FILE} not found); start one with remedy rehearse --keep`);
    return 2;
  }
  try {
    process.kill(state.pid, "SIGTERM");
  } catch {
    fs.rmSync(STATE_FILE, { force: true });
    err(`remedy rehearse: the kept rehearsal (pid ${state.pid}) is gone; cleaned up ${STATE_FILE}`);
    return 0;
  }
  out(`remedy rehearse: asked the kept rehearsal (pid ${state.pid}, ${state.endpoint}) to stop`);
  return 0;
}
