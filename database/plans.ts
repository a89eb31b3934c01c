/**
 * Reading migration plans and the rollback window from files: shared by the stack program's
 * migration gate (`pulumi preview`), the in-cluster Job and `remedy migrate`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { JsonTextError, parseJson } from "../core/jsonText";
import { COLUMN_REF, parsePlan, type MigrationPlan, type VersionUsage } from "./plan";

/** A plan directory, plan file or rollback window that cannot be used; the message names the file and the fix. */
export class PlanInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanInputError";
  }
}

/** Every `*.json` plan in `dir`, sorted by id; two files with one id are refused. */
export function loadPlans(dir: string): MigrationPlan[] {
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  } catch {
    throw new PlanInputError(`cannot read the migrations directory ${dir}`);
  }
  const seen = new Map<string, string>();
  return files.map((f) => {
    const file = path.join(dir, f);
    let plan: MigrationPlan;
    try {
      plan = parsePlan(parseJson(fs.readFileSync(file, "utf8"), file), file);
    } catch (err) {
      const m = (err as Error).message;
      throw new PlanInputError(m.startsWith("invalid migration") || err instanceof JsonTextError ? m : `${file}: ${m}`);
    }
    const other = seen.get(plan.id);
    if (other) throw new PlanInputError(`${file}: plan id ${plan.id} is already used by ${other}; every plan needs its own id (the ledger records phases by id)`);
    seen.set(plan.id, file);
    return plan;
  });
}

const windowColumn = z.string().refine((c) => COLUMN_REF.test(c.replace(/^public\./, "")), { error: 'must be "table.column" (or "public.table.column")' });
const windowSchema = z.array(
  z.strictObject({
    service: z.string().min(1),
    version: z.string().min(1),
    role: z.enum(["stable", "candidate", "previous", "legacy"]),
    columns: z.array(windowColumn),
    /** Columns it may write NULL to; absent means "not said", and a NOT NULL contract on a column it uses waits. */
    writesNull: z.array(windowColumn).optional(),
  }),
);

/**
 * The rollback window from --window or REMEDY_ROLLBACK_WINDOW, validated; `undefined` when
 * neither is given (a contract then refuses: it fails closed). `public.` prefixes are dropped so
 * schema-qualified names match the plan's tables.
 */
export function readWindow(file: string | undefined): VersionUsage[] | undefined {
  let text: string | undefined;
  try {
    text = file ? fs.readFileSync(file, "utf8") : process.env.REMEDY_ROLLBACK_WINDOW;
  } catch {
    throw new PlanInputError(`cannot read the rollback window file ${file ?? ""}`);
  }
  if (text === undefined || text.trim() === "") return undefined;
  let data: unknown;
  try {
    data = parseJson(text, file ?? "REMEDY_ROLLBACK_WINDOW");
  } catch (e) {
    throw new PlanInputError(`the rollback window: ${(e as Error).message}`);
  }
  const r = windowSchema.safeParse(data);
  if (!r.success) {
    throw new PlanInputError(`the rollback window must be a JSON list of { service, version, role, columns }: ${r.error.issues.map((i) => `[${i.path.join("].")}: ${i.message}`).join("; ")}`);
  }
  const bare = (c: string) => c.replace(/^public\./, "");
  return r.data.map((v) => ({ ...v, columns: v.columns.map(bare), ...(v.writesNull ? { writesNull: v.writesNull.map(bare) } : {}) }));
}

