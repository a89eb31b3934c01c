/**
 * `remedy <command>` (DESIGN.md CLI contract): `--json` for machine output; exit 0 success,
 * 1 check failed / refused, 2 usage or input error.
 */
import { checkApiCommand } from "./commands/checkApi";
import { migrateCommand } from "./commands/migrate";
import { opsCommand, type OpsHooks } from "./commands/ops";
import { formatTimeline, rehearse } from "./rehearsal/rehearse";

export const USAGE = `usage: remedy <command> [options] [--json]

commands:
  status     [--stack prod]                              versions, weights, phase, alarms, last rollback, hotfix
  rollback   <service> --reason <text> [--force]         the rollback Lambda's decision and flip, by hand
  drill      <service> [--timeout 120] [--allow-stable]  force the candidate's alarm, time the flip, restore
  promote    <service> [--full]                          move a progressive release past its pause (or re-run a failed pre-traffic check), or promote it at the next tick
  abort      <service> --reason <text>                   stop a release: all traffic back to stable, recorded
  rehearse                                               the whole remediation loop on a local AWS emulator (moto)
  check-api  --live <sdl> --candidate <sdl> [--operations <dir|file>...] [--deprecated-removal breaking|dangerous]
  migrate    plan | status | apply <plan-id> <expand|backfill|contract> | abort <plan-id>   (against DATABASE_URL)

exit codes: 0 success, 1 check failed or refused, 2 usage or input error`;

/** `remedy <command> --help` (and `remedy migrate <subcommand> --help`): what it does, its options, its exit codes. */
export const HELP: Readonly<Record<string, string>> = {
  status: `usage: remedy status [--stack prod] [--project remedy] [--watch [--interval 5] [--count n]] [--json]

Every service of a stack: phase, stable and candidate versions, blue/green weights, alarms in
ALARM, the last rollback (when, by, why), a progressive release's step and when it may move next,
and hotfix mode. --watch redraws every --interval seconds (JSON: one line per refresh). Reads the stack's release table and
alarms with the AWS SDK's usual settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL).

exit codes: 0 shown, 2 unknown stack or no credentials`,
  rollback: `usage: remedy rollback <service> --reason <text> [--force] [--stack prod] [--topic-arn <arn>] [--json]

Sends the service's traffic back to its stable version (or, inside the rollback window after a
promotion, to the previous one) with the rollback Lambda's own decision and flip, recorded with
your name and reason. --force flips even to a target with no healthy targets, and records that.

exit codes: 0 rolled back, 1 refused (nothing to roll back, target unhealthy), 2 usage or environment error`,
  drill: `usage: remedy drill <service> [--timeout 120] [--allow-stable] [--stack prod] [--json]

Rehearses the real rollback path on a live stack: puts the candidate's error-rate alarm in ALARM,
waits for the Lambda to flip, reports detection-to-flip seconds, then restores alarm and release.

exit codes: 0 flipped and restored, 1 nothing flipped in time, 2 usage or environment error`,
  promote: `usage: remedy promote <service> [--full] [--stack prod] [--json]

Asks the release driver to move a progressive release (services[].strategy) past its current
pause, or with --full to promote it at its next tick. On a release held by a failed pre-traffic
check (services[].preTraffic), runs the check again at the next tick (--full skips it).
Recorded in release history with your name. The driver still refuses to advance while a
candidate alarm fires or it has no healthy targets.

exit codes: 0 requested, 1 refused (not a progressive release in progress), 2 usage or environment error`,
  abort: `usage: remedy abort <service> --reason <text> [--stack prod] [--json]

Stops a release in progress: all traffic back to the stable version, with the rollback Lambda's
decision and flip, recorded as an abort with your name and reason. pulumi up then holds the
candidate as after a rollback.

exit codes: 0 aborted, 1 refused (nothing releasing, stable unhealthy), 2 usage or environment error`,
  rehearse: `usage: remedy rehearse [--json]

The whole remediation loop on a local AWS emulator (moto_server on a free loopback port, unless
AWS_ENDPOINT_URL is set): deploy, breach an alarm, automatic rollback, and the next pulumi up
keeping it; prints a timeline with timings.

exit codes: 0 every step passed, 1 a step failed, 2 could not run (e.g. no moto_server)`,
  "check-api": `usage: remedy check-api --live <sdl> --candidate <sdl> [--operations <dir|file>...] [--deprecated-removal breaking|dangerous] [--json]

Compares a candidate GraphQL schema with the live one: breaking and dangerous changes (graphql-js /
GraphQL Inspector categories), and client operations that no longer validate.

exit codes: 0 compatible, 1 breaking or a broken operation, 2 bad input`,
  migrate: `usage: remedy migrate <subcommand> [--dir migrations] [--json]    (against DATABASE_URL)

subcommands:
  plan                                   the plans and each phase's steps (with DATABASE_URL: and status)
  status                                 applied and pending phases
  apply <plan-id> <expand|backfill|contract> [--window <file>] [--lock-timeout ms] [--max-lock-wait ms] [--batch-size n]
  check --uses <table.column,...>        may a version using these columns start now?
  abort <plan-id> [--window <file>]      undo an applied expand/backfill (not a contract)

remedy migrate <subcommand> --help for each. exit codes: 0 done, 1 refused, 2 usage or input error`,
  "migrate plan": `usage: remedy migrate plan [--dir migrations] [--json]

Lists every plan in --dir with the steps of each phase; with DATABASE_URL also what is applied.

exit codes: 0 listed, 2 unreadable or invalid plans`,
  "migrate status": `usage: remedy migrate status [--dir migrations] [--json]

Applied and pending phases, from the remedy_migrations ledger.

exit codes: 0 shown, 2 no DATABASE_URL or invalid plans`,
  "migrate apply": `usage: remedy migrate apply <plan-id> <expand|backfill|contract> [--window <file>] [--lock-timeout ms] [--max-lock-wait ms] [--batch-size n] [--dir migrations] [--json]

Applies one phase, in order, one runner per plan at a time. The plan is checked against the live
database first (nothing runs if it does not fit). A contract needs the rollback window (--window,
or REMEDY_ROLLBACK_WINDOW: a JSON list of { service, version, role, columns, writesNull? }) and is
refused while a version in it uses what the contract drops, may write NULL where it adds NOT NULL,
or uses such a column without saying (writesNull). NULLs written since the backfill are filled
only with the operation's fillNulls, and counted; otherwise the contract is refused naming them.
Each statement waits at most --lock-timeout (default 2000 ms) per attempt for its locks, and a step
at most --max-lock-wait (default 60000 ms) in all; then it stops naming the blocking session.

exit codes: 0 applied, 1 refused (gate, NULLs, rows breaking a constraint, lock wait, another runner), 2 usage or input error`,
  "migrate check": `usage: remedy migrate check --uses <table.column,...> [--dir migrations] [--json]

Whether a version using these columns may start: each exists in the database, and a column a plan
fills by backfill has that backfill in the ledger. Each version's pods run it first (init container).

exit codes: 0 ready, 1 not yet, 2 usage or input error`,
  "migrate abort": `usage: remedy migrate abort <plan-id> [--window <file>] [--dir migrations] [--json]

Undoes an applied or half-applied expand and backfill: new columns, triggers, constraints and
indexes go, the old column gets its default back, sql steps run their down, the ledger forgets
the phases. Refused while a version in the window uses what the expand added, and after contract.

exit codes: 0 undone, 1 refused, 2 usage or input error`,
};

export async function main(argv: readonly string[], hooks: OpsHooks = {}): Promise<number> {
  const json = argv.includes("--json");
  const args = argv.filter((a) => a !== "--json");
  const [command, ...rest] = args;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    const sub = command === "migrate" ? rest.find((a) => !a.startsWith("-")) : undefined;
    const text = (sub && HELP[`migrate ${sub}`]) ?? HELP[command];
    if (text) {
      console.log(text);
      return 0;
    }
  }
  if (command === "status" || command === "rollback" || command === "drill" || command === "promote" || command === "abort") {
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
