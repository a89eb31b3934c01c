/**
 * `remedy <command>` (DESIGN.md CLI contract): `--json` for machine output; exit 0 success,
 * 1 check failed / refused, 2 usage or input error.
 */
import { checkApiCommand } from "./commands/checkApi";
import { migrateCommand } from "./commands/migrate";
import { opsCommand, type OpsHooks } from "./commands/ops";
import { formatTimeline, rehearse } from "./rehearsal/rehearse";

const USAGE = `usage: remedy <command> [options] [--json]

commands:
  status     [--stack prod]                              versions, weights, phase, alarms, last rollback, hotfix
  rollback   <service> --reason <text> [--force]         the rollback Lambda's decision and flip, by hand
  drill      <service> [--timeout 120] [--allow-stable]  force the candidate's alarm, time the flip, restore
  rehearse                                               the whole remediation loop on a local AWS emulator (moto)
  check-api  --live <sdl> --candidate <sdl> [--operations <dir|file>...] [--deprecated-removal breaking|dangerous]
  migrate    plan | status | apply <plan-id> <expand|backfill|contract> | abort <plan-id>   (against DATABASE_URL)

exit codes: 0 success, 1 check failed or refused, 2 usage or input error`;

export async function main(argv: readonly string[], hooks: OpsHooks = {}): Promise<number> {
  const json = argv.includes("--json");
  const args = argv.filter((a) => a !== "--json");
  const [command, ...rest] = args;
  if (!command || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === "status" || command === "rollback" || command === "drill") {
    return opsCommand(command, rest, json, { out: (s) => console.log(s), err: (s) => console.error(s), tty: process.stdout.isTTY === true }, hooks);
  }
  if (command === "migrate") {
    return migrateCommand(rest, json, (s) => console.log(s), (s) => console.error(s));
  }
  if (command === "check-api") {
    return checkApiCommand(rest, json, (s) => console.log(s), (s) => console.error(s));
  }
  if (command === "rehearse") {
    if (rest.length > 0) {
      console.error(`remedy rehearse: unexpected argument ${rest[0]}\n\n${USAGE}`);
      return 2;
    }
    try {
      const result = await rehearse();
      console.log(json ? JSON.stringify(result, null, 2) : formatTimeline(result));
      return result.verdict === "pass" ? 0 : 1;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      console.error(json ? JSON.stringify({ verdict: "error", error: message }) : `remedy rehearse: ${message}`);
      return 2;
    }
  }
  console.error(`remedy: unknown or not yet available command "${command}"\n\n${USAGE}`);
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
