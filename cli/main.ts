/**
 * `remedy <command>` (docs/cli.md): `--json` for machine output; exit 0 success, 1 check failed
 * or refused, 2 usage or input error.
 *
 * Each command's module is loaded only when that command runs (`await import`), so `--help`
 * loads no AWS SDK, Pulumi or database driver: cli/build.js bundles this file with esbuild into
 * dist/remedy.js, packages left external, and `remedy` runs that (nothing compiled at run time).
 */
import type { OpsHooks } from "./commands/ops";
import { version as VERSION } from "../package.json";

export const USAGE = `usage: remedy <command> [options] [--json]      (remedy <command> --help: its options)

operate a deployed stack (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL):
  status     [<service>] [--stack prod] [--watch]        versions, weights, phase, alarms, rollbacks
  history    <service> [--limit 20]                      the release timeline: who, what, when, why
  rollback   <service> --reason <text> [--force]         send traffic back to stable now, recorded
  promote    <service> [--full]                          move a progressive release past its pause
  abort      <service> --reason <text>                   stop a release: all traffic back to stable
  drill      <service> [--timeout 120] [--allow-stable]  force the candidate's alarm, time the flip
  wait       <service>... --outputs <file> [--until promoted|window-closed|promotable]   a pipeline's gate: how releases end, or when a bundle may go on
  confirm-subscription  '<link>'                         confirm a topic subscription, unsubscribe signed only
  versions   <service> --outputs <file>                  a service's legacy lanes: dates, requests per day, what blocks retiring
  retire     <service> --outputs <file>                  the retirement gate of its legacy lane, recorded
  promote-env  <service> --from staging --to prod        may the source's bundle go to the target now: every gate, recorded
  approve    <service> <bundle> [--stack prod]           approve a bundle's promotion, as your AWS identity
  block      <service> <bundle> --reason <text>          stop a bundle's promotion everywhere, recorded
  unblock    <service> <bundle> --reason <text>          lift a bundle's block, recorded

check before shipping (offline):
  validate   [--stack <name> | <Pulumi.<stack>.yaml>...] stack config, as pulumi preview checks it
  check-api  --live <sdl> --candidate <sdl> [--operations <dir|file>...]   GraphQL compatibility
  rehearse   [--keep | --stop]                           the remediation loop on a local emulator

database refactoring (against DATABASE_URL):
  migrate    plan | status | apply <plan-id> <phase> | check --uses <cols> | abort <plan-id>

options: --json machine output (every command); --version; --help
exit codes: 0 success, 1 check failed or refused, 2 usage or input error`;

/** `remedy <command> --help` (and `remedy migrate <subcommand> --help`): what it does, its options, its exit codes. */
export const HELP: Readonly<Record<string, string>> = {
  "promote-env": `usage: remedy promote-env <service> --from <stack> --to <stack> [--bundle <id>] [--config Pulumi.<to>.yaml]
                          [--project remedy] [--explain] [--write] [--json]

Whether the bundle the source runs (or --bundle) may be promoted into the target now, by the
target's remedy:promotion: blocked, verified by its sources, soak, evidence (5xx and p99 against
the version it replaced), the target's re-checks (migrations applied, check-api against its live
version), approvals and windows; each gate's decision and message (--explain: its inputs). The
decision is recorded in the target's release table, and a re-check's change in each source (a
failed one revokes the bundle there). On allow it prints the pulumi config set lines that release
the bundle on the target, or with --write writes them into the target's stack file (comments
kept, into the slot release state calls idle, validated first).

exit codes: 0 allowed, 1 refused, 4 wait (until when, where known), 2 usage, configuration or AWS`,
  approve: `usage: remedy approve <service> <bundle> [--stack prod] [--project remedy] [--json]

Records your approval of a release bundle's promotion into <stack>, bound to that bundle, with the
identity AWS verifies for your credentials (sts:GetCallerIdentity). remedy:promotion.approvals
decides whether it counts: an approver, not the releaser, within its expiry.

exit codes: 0 recorded, 2 usage, credentials or AWS`,
  block: `usage: remedy block <service> <bundle> --reason <text> [--stack staging] [--project remedy] [--json]

Stops a release bundle's promotion everywhere: recorded in the bundle's source stack, which every
environment promoting it reads. remedy unblock lifts it, recorded too.

exit codes: 0 recorded, 2 usage, credentials or AWS`,
  unblock: `usage: remedy unblock <service> <bundle> --reason <text> [--stack staging] [--project remedy] [--json]

Lifts every active block of a release bundle, recording who, when and why.

exit codes: 0 recorded, 1 no active block, 2 usage, credentials or AWS`,
  versions: `usage: remedy versions <service> --outputs <file> [--operations <dir>] [--days 30] [--stack prod] [--json]

A service's legacy lanes (services[].legacy): dates, requests per day (its target group's
RequestCount; a day without a datapoint is zero only when the main target groups served that day),
days since the last request, the client versions it serves (active unless <dir>/<client>/<version>
has a retired.json) and what blocks its retirement. <file>: pulumi stack output --json.

exit codes: 0 shown, 2 usage, credentials or an unknown service`,
  retire: `usage: remedy retire <service> --outputs <file> [--operations <dir>] [--threshold 0] [--quiet-days 14] [--stack prod] [--json]

The retirement gate of the service's legacy lane: at most --threshold requests a day for
--quiet-days consecutive days (days without data on either side break the streak), and no active
client version it serves. The decision and every input are recorded in the release table. When it
is allowed, remove the lane from services[].legacy and run pulumi up.

exit codes: 0 allowed (recorded), 1 blocked (recorded, with why), 2 usage, credentials or no lane`,
  wait: `usage: remedy wait <service>... [--outputs <file> | --release <service>=<id>...] [--until promoted|window-closed]
                   [--timeout 3600] [--interval 10] [--stack prod] [--project remedy] [--json]
       remedy wait <service>... --until promotable --from <stack> --to <stack> [--config Pulumi.<to>.yaml]
                   [--bundle <id>] [--timeout 3600] [--interval 60] [--project remedy] [--json]

Follows the releases a pulumi up started until each is promoted (or, with --until window-closed,
its rollback window has closed), rolled back, or held for a person; prints each change as it
happens and a summary. --outputs is \`pulumi stack output --json\` written right after the up: it
ties the wait to that up's releases (services.<name>.release.releaseId), so an older release's
rollback is never taken for this one. --json prints one JSON object per change and a summary.

--until promotable asks the target's promotion gates (as remedy promote-env) until each service's
bundle may be promoted or is refused, sleeping until the time a waiting gate names (a soak's end,
the next allowed window) and at most --interval between reads (an approval may come at any time);
each change of decision is recorded in the target's release table.

exit codes: 0 every release promoted (or its window closed; or every bundle promotable),
1 a bundle's promotion refused, 3 one rolled back or aborted, 4 one held for a person (a pause
step, a failed pre-traffic check, manual weights, replaced), 5 timed out, 2 usage, credential or
stack error`,
  "confirm-subscription": `usage: remedy confirm-subscription '<confirmation link>' [--json]

Confirms a subscription to a stack topic with AuthenticateOnUnsubscribe: the "unsubscribe" link in
later messages stops working, only a signed sns:Unsubscribe does. Use it in place of clicking the
"Confirm subscription" link of the email SNS sends (notificationEmails), with a deployer's credentials.

exit codes: 0 confirmed, 1 refused by SNS (expired or used token), 2 usage error`,
  status: `usage: remedy status [<service>] [--stack prod] [--project remedy] [--watch [--interval 5] [--count n]] [--exit-status] [--outputs <file>] [--json]

Every service of a stack: phase, stable and candidate versions, blue/green weights, alarms in
ALARM, the last rollback (when, by, why), a progressive release's step and when it may move next,
and hotfix mode. With a service: that service in detail (each step with when it started, the
pre-traffic check's runs, every alarm with its state and reason, the rollback window). --watch
redraws every --interval seconds (JSON: one line per refresh). Reads the stack's release table
and alarms with the AWS SDK's usual settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL).

exit codes: 0 shown, 2 unknown stack or no credentials; with --exit-status 3 when a service is
rolled back and 4 when a release waits for a person; with --outputs 1 when a function's code
differs from what pulumi up deployed`,
  history: `usage: remedy history <service> [--limit 20] [--html <file>] [--stack prod] [--project remedy] [--json]

A service's release timeline from its recorded history, oldest first: each change's revision,
time, action, blue/green weights after it, who made it (an operator, an alarm, the release
driver, pulumi up) and why. The newest --limit changes (1..1000). --html writes a page drawing
the weights over time with rollbacks, promotions and releases marked (default: every change).

exit codes: 0 shown, 2 unknown stack or service, or no credentials`,
  rollback: `usage: remedy rollback <service> --reason <text> [--force] [--stack prod] [--url <override url>] [--topic-arn <arn>] [--json]

Sends the service's traffic back to its stable version (or, inside the rollback window after a
promotion, to the previous one) with the rollback Lambda's own decision and flip, recorded with
your name and reason. --force flips even to a target with no healthy targets, and records that.

Sent to the stack's override URL (stack output rollback.overridesUrl, recorded in the release;
--url or REMEDY_OVERRIDE_URL set it) as a SigV4-signed request: the rollback function acts and
records the caller AWS verified, so your role needs only lambda:InvokeFunctionUrl and reads
(docs/security.md). Without a recorded URL it acts with your own credentials and says so.

exit codes: 0 rolled back, 1 refused (nothing to roll back, target unhealthy), 2 usage or environment error`,
  drill: `usage: remedy drill <service> [--timeout 120] [--allow-stable] [--stack prod] [--url <override url>] [--json]

Rehearses the real rollback path on a live stack: puts the candidate's error-rate alarm in ALARM,
waits for the Lambda to flip, reports detection-to-flip seconds, then restores alarm and release.
The stack's override URL forces and restores (the function's own role; you need only to call it
and read); without a recorded URL it acts with your own credentials and says so.

--allow-stable drills the stable slot's alarm when nothing is releasing: it passes when the
rollback function saw the alarm and left traffic alone.

exit codes: 0 flipped and restored (stable: seen, nothing moved), 1 not in time, 2 usage or environment error`,
  promote: `usage: remedy promote <service> [--full] [--stack prod] [--url <override url>] [--json]

Asks the release driver to move a progressive release (services[].strategy) past its current
pause, or with --full to promote it at its next tick. On a release held by a failed pre-traffic
check (services[].preTraffic), runs the check again at the next tick (--full skips it).
Recorded in release history with your name. The driver still refuses to advance while a
candidate alarm fires or it has no healthy targets.

Sent to the stack's override URL (stack output rollback.overridesUrl, recorded in the release;
--url or REMEDY_OVERRIDE_URL set it) as a SigV4-signed request: the rollback function acts and
records the caller AWS verified, so your role needs only lambda:InvokeFunctionUrl and reads
(docs/security.md). Without a recorded URL it acts with your own credentials and says so.

exit codes: 0 requested, 1 refused (not a progressive release in progress), 2 usage or environment error`,
  abort: `usage: remedy abort <service> --reason <text> [--stack prod] [--url <override url>] [--json]

Stops a release in progress: all traffic back to the stable version, with the rollback Lambda's
decision and flip, recorded as an abort with your name and reason. pulumi up then holds the
candidate as after a rollback.

Sent to the stack's override URL, as remedy rollback is (see its --help).

exit codes: 0 aborted, 1 refused (nothing releasing, stable unhealthy), 2 usage or environment error`,
  rehearse: `usage: remedy rehearse [--keep | --stop] [--json]

The whole remediation loop on a local AWS emulator (moto_server on a free loopback port, unless
AWS_ENDPOINT_URL is set): deploy, breach an alarm, automatic rollback, the next pulumi up keeping
it, a canary the release driver steps and promotes, an image-mode release rolled back mid-step;
prints a timeline with timings, what a subscriber to the stack's topic received, and the history.
--keep leaves the emulator and the rehearsed stack running and prints the environment to export,
so remedy status, history, promote, abort and drill can be tried; Ctrl-C, or remedy rehearse
--stop from another shell, ends it.

exit codes: 0 every step passed, 1 a step failed, 2 could not run (e.g. no moto_server)`,
  validate: `usage: remedy validate [--stack <name> | <Pulumi.<stack>.yaml>...] [--json]

Checks stack config offline, with no Pulumi CLI, backend or credentials: the same checks and
messages as pulumi preview for remedy:* config (every section, cross-field rules, secret test
routes, AWS quotas), and unknown remedy:* keys ("remedy:rolback: did you mean remedy:rollback?").
Without arguments, every Pulumi.<stack>.yaml in the current directory. Encrypted (secure:) values
are checked by shape only. Left to preview: release state (image-mode versions, rollback holds),
the migration gate's rollback window and the API gate against the live version.

exit codes: 0 valid, 1 invalid, 2 usage error or unreadable file`,
  "check-api": `usage: remedy check-api --live <sdl> --candidate <sdl> [--operations <dir|file>...] [--field-retirements <json>] [--deprecated-removal breaking|dangerous] [--json]

Compares a candidate GraphQL schema with the live one: breaking and dangerous changes (graphql-js /
GraphQL Inspector categories), and client operations that no longer validate. Operations under
<dir>/<client>/<version>/ are that client version's: the report says which versions a candidate
breaks (a retired.json there marks a version retired: not checked). With operations, a field may
be removed only when it is @deprecated, its deletion date (--field-retirements: { "Type.field":
{ "after": "YYYY-MM-DD" } }) has passed and no active client version uses it.

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
  if (command === "--version" || command === "-v" || command === "version") {
    console.log(json ? JSON.stringify({ version: VERSION, node: process.version }) : `remedy ${VERSION} (node ${process.version})`);
    return 0;
  }
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
    const { opsCommand } = await import("./commands/ops");
    return opsCommand(command, rest, json, { out: (s) => console.log(s), err: (s) => console.error(s), tty: process.stdout.isTTY === true, columns: process.stdout.columns }, hooks);
  }
  if (command === "versions" || command === "retire") {
    const { versionsCommand } = await import("./commands/versions");
    return versionsCommand(command, rest, json, { out: (s) => console.log(s), err: (s) => console.error(s) });
  }
  if (command === "promote-env") {
    const { promoteEnvCommand } = await import("./commands/promoteEnv");
    return promoteEnvCommand(rest, json, { out: (s) => console.log(s), err: (s) => console.error(s) });
  }
  if (command === "approve" || command === "block" || command === "unblock") {
    const { promotionCommand } = await import("./commands/promotion");
    return promotionCommand(command, rest, json, { out: (s) => console.log(s), err: (s) => console.error(s) });
  }
  if (command === "wait") {
    const { waitCommand } = await import("./commands/wait");
    return waitCommand(rest, json, { out: (s) => console.log(s), err: (s) => console.error(s) });
  }
  if (command === "confirm-subscription") {
    const { confirmSubscriptionCommand } = await import("./commands/confirmSubscription");
    return confirmSubscriptionCommand(rest, json, (s) => console.log(s), (s) => console.error(s));
  }
  if (command === "history") {
    const { historyCommand } = await import("./commands/history");
    return historyCommand(rest, json, { out: (s) => console.log(s), err: (s) => console.error(s), columns: process.stdout.isTTY === true ? process.stdout.columns : undefined });
  }
  if (command === "migrate") {
    const { migrateCommand } = await import("./commands/migrate");
    return migrateCommand(rest, json, (s) => console.log(s), (s) => console.error(s));
  }
  if (command === "validate") {
    const { validateCommand } = await import("./commands/validate");
    return validateCommand(rest, json, (s) => console.log(s), (s) => console.error(s));
  }
  if (command === "check-api") {
    const { checkApiCommand } = await import("./commands/checkApi");
    return checkApiCommand(rest, json, (s) => console.log(s), (s) => console.error(s));
  }
  if (command === "rehearse") {
    const { keep, stop } = await import("./rehearsal/keep");
    const flags = rest.filter((a) => a === "--keep" || a === "--stop");
    const other = rest.find((a) => a !== "--keep" && a !== "--stop");
    if (other !== undefined || flags.length > 1) {
      console.error(`remedy rehearse: unexpected argument ${JSON.stringify(other ?? flags[1])}; see \`remedy rehearse --help\``);
      return 2;
    }
    if (flags[0] === "--stop") return stop((s) => console.log(s), (s) => console.error(s));
    const { formatTimeline, rehearse } = await import("./rehearsal/rehearse");
    try {
      const result = await rehearse({ keep: flags[0] === "--keep" });
      console.log(json ? JSON.stringify({ ...result, kept: result.kept ? { endpoint: result.kept.endpoint, env: result.kept.env } : undefined }, null, 2) : formatTimeline(result));
      if (result.kept) return keep(result.kept, (s) => console.error(s), result.verdict === "pass" ? 0 : 1);
      return result.verdict === "pass" ? 0 : 1;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      console.error(json ? JSON.stringify({ verdict: "error", error: message }) : `remedy rehearse: ${message}`);
      return 2;
    }
  }
  console.error(`remedy: unknown command "${command}"; see \`remedy --help\``);
  return 2;
}
