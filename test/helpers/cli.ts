/** Runs the `remedy` CLI in-process, capturing what it prints, for CLI tests. */
import { main } from "../../cli/main";
import type { OpsHooks } from "../../cli/commands/ops";

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export async function runRemedy(argv: readonly string[], hooks: OpsHooks = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (s: string) => out.push(s);
  console.error = (s: string) => err.push(s);
  try {
    return { code: await main(argv, hooks), out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}
