/**
 * `remedy migrate plan|status|apply` against `DATABASE_URL`.
 *   plan                        the plans in --dir (default migrations/) with each phase's steps (and status, with DATABASE_URL)
 *   status                      applied and pending phases
 *   apply <plan-id> <phase>     one phase; a contract phase is refused while a version in the
 *                               rollback window (--window <file> or REMEDY_ROLLBACK_WINDOW, JSON
 *                               list of {service, version, role, columns}) still uses what it drops
 * Exit 0 done, 1 refused (gate or lock timeout), 2 usage or input error.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Pool } from "pg";
import { PHASES, parsePlan, phaseSteps, type MigrationPhase, type MigrationPlan, type VersionUsage } from "../../core/migrations";
import { ContractRefusedError, LockTimeoutError, MigrationRunner } from "../migrate/runner";

class InputError extends Error {}

/** Every `*.json` plan in `dir`, sorted by id. */
export function loadPlans(dir: string): MigrationPlan[] {
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  } catch {
    throw new InputError(`cannot read the migrations directory ${dir}`);
  }
  return files.map((f) => {
    const file = path.join(dir, f);
    try {
      return parsePlan(JSON.parse(fs.readFileSync(file, "utf8")), file);
    } catch (err) {
      throw new InputError((err as Error).message.startsWith("invalid migration") ? (err as Error).message : `${file}: ${(err as Error).message}`);
    }
  });
}

function readWindow(file: string | undefined): VersionUsage[] {
  const text = file ? fs.readFileSync(file, "utf8") : process.env.REMEDY_ROLLBACK_WINDOW;
  if (!text) return [];
  const data = JSON.parse(text) as unknown;
  if (!Array.isArray(data)) throw new InputError("the rollback window must be a JSON list of { service, version, role, columns }");
  return data as VersionUsage[];
}

export async function migrateCommand(argv: readonly string[], json: boolean, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { dir: { type: "string" }, window: { type: "string" }, "lock-timeout": { type: "string" }, "batch-size": { type: "string" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    err(`remedy migrate: ${(e as Error).message}`);
    return 2;
  }
  const [sub, planId, phase] = parsed.positionals;
  const dir = parsed.values.dir ?? "migrations";
  let pool: Pool | undefined;
  try {
    const plans = loadPlans(dir);
    const url = process.env.DATABASE_URL;
    if (sub === "plan" && !url) {
      const view = plans.map((p) => ({ id: p.id, description: p.description, phases: Object.fromEntries(PHASES.map((ph) => [ph, phaseSteps(p, ph).map((s) => s.description)])) }));
      out(json ? JSON.stringify(view, null, 2) : view.map((p) => [`${p.id}: ${p.description}`, ...PHASES.map((ph) => `  ${ph}: ${p.phases[ph].join("; ") || "(nothing)"}`)].join("\n")).join("\n"));
      return 0;
    }
    if (!["plan", "status", "apply"].includes(sub ?? "")) throw new InputError(`usage: remedy migrate plan|status|apply <plan-id> <expand|backfill|contract> [--dir ${dir}]`);
    if (!url) throw new InputError("DATABASE_URL is not set (postgres://user@host:5432/db)");
    pool = new Pool({ connectionString: url, max: 4 });
    const runner = new MigrationRunner(pool, plans, {
      lockTimeoutMs: parsed.values["lock-timeout"] ? Number(parsed.values["lock-timeout"]) : undefined,
      batchSize: parsed.values["batch-size"] ? Number(parsed.values["batch-size"]) : undefined,
      onProgress: (p) => err(`${p.migration} ${p.step}: ${p.done}/${p.total} rows (${p.total ? Math.floor((100 * p.done) / p.total) : 100}%), ${p.rowsPerSecond} rows/s`),
    });
    if (sub === "apply") {
      if (!planId || !PHASES.includes(phase as MigrationPhase)) throw new InputError("usage: remedy migrate apply <plan-id> <expand|backfill|contract>");
      await runner.apply(planId, phase as MigrationPhase, readWindow(parsed.values.window));
    }
    const status = await runner.status();
    out(json ? JSON.stringify(status, null, 2) : [`applied: ${status.applied.join(", ") || "none"}`, `pending: ${status.pending.join(", ") || "none"}`].join("\n"));
    return 0;
  } catch (e) {
    if (e instanceof ContractRefusedError || e instanceof LockTimeoutError) {
      err(json ? JSON.stringify({ error: e.name, message: e.message }) : `remedy migrate: ${e.message}`);
      return 1;
    }
    if (e instanceof InputError || e instanceof SyntaxError || (e instanceof Error && /^no migration plan|^apply .* before/.test(e.message))) {
      err(`remedy migrate: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  } finally {
    await pool?.end();
  }
}
