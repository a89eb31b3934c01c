/**
 * `remedy check-api --live <sdl> --candidate <sdl> [--operations <dir|file>...] [--field-retirements <json>] [--deprecated-removal breaking|dangerous] [--json]`
 * Exit 0 compatible, 1 breaking (or an operation no longer validates), 2 bad input.
 */
import { UsageError, parseCommandArgs, usage } from "../args";
import {
  ApiInputError,
  checkCompatibility,
  formatReport,
  loadSchema,
  type CompatReport,
} from "../../core/apiCompat";
import { loadFieldRetirements, loadOperations, readText } from "../../core/apiFiles";


export interface CheckApiArgs {
  readonly live: string;
  readonly candidate: string;
  readonly operations: readonly string[];
  readonly deprecatedRemoval: "breaking" | "dangerous";
  readonly fieldRetirements?: string;
}

export function parseCheckApiArgs(argv: readonly string[]): CheckApiArgs {
  const { values: v } = parseCommandArgs(
    "check-api",
    argv,
    { live: { type: "string" }, candidate: { type: "string" }, operations: { type: "string", multiple: true }, "deprecated-removal": { type: "string" }, "field-retirements": { type: "string" } },
    0,
  );
  const values = v as { live?: string; candidate?: string; operations?: string[]; "deprecated-removal"?: string; "field-retirements"?: string };
  if (!values.live || !values.candidate) usage("check-api", "--live <sdl> and --candidate <sdl> are required");
  const dr = values["deprecated-removal"] ?? "breaking";
  if (dr !== "breaking" && dr !== "dangerous") usage("check-api", `--deprecated-removal must be "breaking" or "dangerous", got "${dr}"`);
  return { live: values.live, candidate: values.candidate, operations: values.operations ?? [], deprecatedRemoval: dr, ...(values["field-retirements"] ? { fieldRetirements: values["field-retirements"] } : {}) };
}

export async function checkApiFiles(a: CheckApiArgs): Promise<CompatReport> {
  const live = loadSchema(readText(a.live, "the live schema"), a.live);
  const candidate = loadSchema(readText(a.candidate, "the candidate schema"), a.candidate);
  const operations = a.operations.length > 0 ? loadOperations(a.operations) : undefined;
  const fieldRetirements = a.fieldRetirements ? loadFieldRetirements(a.fieldRetirements) : undefined;
  return checkCompatibility(live, candidate, { deprecatedRemoval: a.deprecatedRemoval, operations, ...(fieldRetirements ? { fieldRetirements } : {}) });
}

/** Runs the command; returns the exit code. */
export async function checkApiCommand(argv: readonly string[], json: boolean, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  try {
    const report = await checkApiFiles(parseCheckApiArgs(argv));
    out(json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.compatible ? 0 : 1;
  } catch (e) {
    if (e instanceof ApiInputError || e instanceof UsageError) {
      const error = { error: e.name, message: e.message, ...(e instanceof ApiInputError ? { file: e.source, line: e.line, column: e.column } : {}) };
      err(json ? JSON.stringify(error) : `remedy check-api: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
