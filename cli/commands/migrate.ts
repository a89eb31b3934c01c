/**
 * `remedy migrate plan|status|apply` against `DATABASE_URL`.
 *   plan                        the plans in --dir (default migrations/) with each phase's steps (and status, with DATABASE_URL)
 *   status                      applied and pending phases
 *   apply <plan-id> <phase>     one phase; a contract phase is refused while a version in the
 *                               rollback window (--window <file> or REMEDY_ROLLBACK_WINDOW, JSON
 *                               list of {service, version, role, columns, writesNull?}) still uses
 *                               what it drops, and without a window at all
 *   abort <plan-id>             undo an applied expand/backfill (not a contract), refused while a
 *                               version in the window uses what it added
 * Exit 0 done, 1 refused (gate or lock timeout), 2 usage or input error.
 */
import { type CommandArgs, UsageError, intOption, parseCommandArgs, usage } from "../args";
import { Pool } from "pg";
import { COLUMN_REF, PHASES, phaseSteps, type MigrationPhase } from "../../database/plan";
import { PlanInputError as InputError, loadPlans, readWindow } from "../../database/plans";
import { ContractRefusedError, LockTimeoutError, MigrationLockedError, MigrationRunner, PlanRefusedError, RunnerOptionError, ViolatingRowsError } from "../../database/runner";

export async function migrateCommand(argv: readonly string[], json: boolean, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let parsed: CommandArgs;
  let settings: { lockTimeoutMs?: number; maxLockWaitMs?: number; batchSize?: number };
  try {
    parsed = parseCommandArgs(
      "migrate",
      argv,
      { dir: { type: "string" }, window: { type: "string" }, "lock-timeout": { type: "string" }, "max-lock-wait": { type: "string" }, "batch-size": { type: "string" }, uses: { type: "string" } },
      3,
    );
    const str = (k: string) => parsed.values[k] as string | undefined;
    settings = {
      lockTimeoutMs: intOption("migrate", "lock-timeout", str("lock-timeout"), 1, 600_000),
      maxLockWaitMs: intOption("migrate", "max-lock-wait", str("max-lock-wait"), 1, 86_400_000),
      batchSize: intOption("migrate", "batch-size", str("batch-size"), 1, 1_000_000),
    };
    const sub = parsed.positionals[0];
    if (!["plan", "status", "apply", "abort", "check"].includes(sub ?? "")) usage("migrate", sub === undefined ? "name a subcommand: plan, status, apply, check or abort" : `unknown subcommand ${JSON.stringify(sub)} (plan, status, apply, check, abort)`);
    if (sub === "apply" && (!parsed.positionals[1] || !PHASES.includes(parsed.positionals[2] as MigrationPhase))) usage("migrate apply", "usage: remedy migrate apply <plan-id> <expand|backfill|contract>");
    if (sub === "abort" && !parsed.positionals[1]) usage("migrate abort", "usage: remedy migrate abort <plan-id> [--window <file>]");
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`remedy migrate: ${e.message}`);
    return 2;
  }
  const [sub, planId, phase] = parsed.positionals;
  const dir = (parsed.values.dir as string | undefined) ?? "migrations";
  let pool: Pool | undefined;
  try {
    const plans = loadPlans(dir);
    const url = process.env.DATABASE_URL;
    if (sub === "plan" && plans.length === 0) {
      err(`remedy migrate: no plans in ${dir} (a plan is a <id>.json file there; see docs/database.md)`);
      if (json) out("[]");
      return 0;
    }
    const runnerFor = (connectionString: string) => {
      pool = new Pool({ connectionString, max: 4 });
      return new MigrationRunner(pool, plans, {
        ...settings,
        onNote: (m) => err(`remedy migrate: ${m}`),
        onProgress: (p) => err(`${p.migration} ${p.step}: ${p.done}/${p.total} rows (${p.total ? Math.floor((100 * p.done) / p.total) : 100}%), ${p.rowsPerSecond} rows/s`),
      });
    };
    if (sub === "plan") {
      // Every plan's phases and steps; with DATABASE_URL, also where each phase stands there (issue 36, 9).
      const status = url ? await runnerFor(url).status() : undefined;
      const where = (key: string) => (!status ? undefined : status.applied.includes(key) ? "applied" : status.interrupted.some((i) => i.startsWith(key)) ? "interrupted" : "pending");
      const view = plans.map((p) => ({
        id: p.id,
        description: p.description,
        phases: Object.fromEntries(PHASES.map((ph) => [ph, phaseSteps(p, ph).map((s) => s.description)])),
        ...(status ? { status: Object.fromEntries(PHASES.map((ph) => [ph, where(`${p.id}:${ph}`)])) } : {}),
      }));
      out(json ? JSON.stringify(view, null, 2) : view.map((p) => [`${p.id}: ${p.description}`, ...PHASES.map((ph) => `  ${ph}${p.status ? ` (${p.status[ph]})` : ""}: ${p.phases[ph].join("; ") || "(nothing)"}`)].join("\n")).join("\n"));
      return 0;
    }
    if (!url) throw new InputError("DATABASE_URL is not set (postgres://user@host:5432/db)");
    const runner = runnerFor(url);
    if (sub === "apply") {
      await runner.apply(planId, phase as MigrationPhase, readWindow(parsed.values.window as string | undefined));
    }
    if (sub === "check") {
      const uses = ((parsed.values.uses as string | undefined) ?? "").split(",").map((c) => c.trim()).filter(Boolean);
      const bad = uses.filter((c) => !COLUMN_REF.test(c));
      if (bad.length > 0 || uses.length === 0) throw new InputError(`--uses must list "table.column"s separated by commas${bad.length ? `, got ${bad.map((b) => JSON.stringify(b)).join(", ")}` : ""}`);
      const problems = await runner.checkUses(uses);
      if (problems.length > 0) {
        err(json ? JSON.stringify({ error: "SchemaNotReady", problems }) : `remedy migrate: this version cannot start yet:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        return 1;
      }
      out(json ? JSON.stringify({ ready: true, uses }) : `ready: ${uses.join(", ")}`);
      return 0;
    }
    if (sub === "abort") {
      const undone = await runner.abort(planId, readWindow(parsed.values.window as string | undefined));
      err(`remedy migrate: undid ${undone.join(", ") || "nothing (no phase of it was applied)"}`);
    }
    const status = await runner.status();
    out(
      json
        ? JSON.stringify(status, null, 2)
        : [`applied: ${status.applied.join(", ") || "none"}`, `pending: ${status.pending.join(", ") || "none"}`, ...status.interrupted.map((i) => `interrupted: ${i}`)].join("\n"),
    );
    return 0;
  } catch (e) {
    if (e instanceof ContractRefusedError || e instanceof LockTimeoutError || e instanceof MigrationLockedError || e instanceof ViolatingRowsError) {
      err(json ? JSON.stringify({ error: e.name, message: e.message }) : `remedy migrate: ${e.message}`);
      return 1;
    }
    if (e instanceof PlanRefusedError) {
      err(json ? JSON.stringify({ error: e.name, message: e.message, problems: e.problems }) : `remedy migrate: ${e.message}`);
      return 2;
    }
    if (e instanceof InputError || e instanceof RunnerOptionError || e instanceof SyntaxError || (e instanceof Error && /^no migration plan|^apply .* before/.test(e.message))) {
      err(`remedy migrate: ${(e as Error).message}`);
      return 2;
    }
    // The database cannot be reached: one line naming where, not a stack trace.
    const code = (e as { code?: string }).code;
    if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "ETIMEDOUT" || code === "EHOSTUNREACH" || code === "28P01" || code === "3D000") {
      const where = redactedUrl(process.env.DATABASE_URL ?? "");
      err(json ? JSON.stringify({ error: "DatabaseUnreachable", message: (e as Error).message, database: where }) : `remedy migrate: cannot use the database at ${where}: ${(e as Error).message} (is it up, and is DATABASE_URL right?)`);
      return 2;
    }
    throw e;
  } finally {
    await pool?.end();
  }
}

/** DATABASE_URL without its password, for messages. */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "DATABASE_URL (not a URL)";
  }
}
