/**
 * The GraphQL compatibility gate in `pulumi preview` / `pulumi up`: for each service that
 * declares `api.schemas`, the candidate version's schema is checked against the stable (live)
 * version's, with the service's known client operations. A breaking candidate stops the program
 * before anything is deployed, unless `api.override` names that candidate version with a reason.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { checkCompatibility, formatReport, loadSchema, type CompatReport } from "../core/apiCompat";
import type { ServiceSpec, StackConfig } from "../core/config";
import { otherSlot } from "../core/slots";
import { ApiInputError } from "../core/apiCompat";
import { loadFieldRetirements, loadOperations } from "../core/apiFiles";

/** A candidate's schema breaks the live one; the message carries every report. */
export class ApiCompatibilityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApiCompatibilityError";
  }
}

export interface GateResult {
  readonly warnings: readonly string[];
  /** Reports by service, for services that were checked. */
  readonly reports: ReadonlyMap<string, CompatReport>;
  /** Override reasons applied, by service (recorded in release history). */
  readonly overrides: ReadonlyMap<string, string>;
}

function schemaFile(spec: ServiceSpec, index: number, version: string, role: string, baseDir: string): string {
  const rel = spec.api?.schemas[version];
  if (rel === undefined) {
    throw new ApiCompatibilityError(
      `services[${index}].api.schemas: no schema for ${role} version ${version} of ${spec.name}; add "${version}: <path to its SDL>" or remove api`,
    );
  }
  return path.resolve(baseDir, rel);
}

/**
 * check-api of a candidate schema (`text`, read from `file`) against the live one, with the
 * service's client operations, field retirements and deprecation rule (paths relative to `baseDir`).
 */
export async function compareSchemas(api: NonNullable<ServiceSpec["api"]>, baseDir: string, liveFile: string, candidate: { readonly file: string; readonly text: string }): Promise<CompatReport> {
  const liveText = fs.readFileSync(path.resolve(baseDir, liveFile), "utf8");
  return checkCompatibility(loadSchema(liveText, liveFile), loadSchema(candidate.text, candidate.file), {
    deprecatedRemoval: api.deprecatedRemoval,
    operations: api.operations.length > 0 ? loadOperations(api.operations.map((p) => path.resolve(baseDir, p))) : undefined,
    ...(api.fieldRetirements ? { fieldRetirements: loadFieldRetirements(path.resolve(baseDir, api.fieldRetirements)) } : {}),
  });
}

export async function checkApiGates(config: StackConfig, baseDir: string): Promise<GateResult> {
  const warnings: string[] = [];
  const reports = new Map<string, CompatReport>();
  const overrides = new Map<string, string>();
  const refusals: string[] = [];
  for (const [i, spec] of config.services.entries()) {
    const candidate = spec.slots[otherSlot(spec.stable)];
    const live = spec.slots[spec.stable];
    if (!spec.api || !candidate || !live || candidate.version === live.version) continue;
    let report: CompatReport;
    try {
      const liveFile = schemaFile(spec, i, live.version, "live", baseDir);
      const candFile = schemaFile(spec, i, candidate.version, "candidate", baseDir);
      report = await compareSchemas(spec.api, baseDir, liveFile, { file: candFile, text: fs.readFileSync(candFile, "utf8") });
    } catch (err) {
      if (err instanceof ApiInputError || (err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new ApiCompatibilityError(`services[${i}].api (${spec.name}): ${(err as Error).message}`);
      }
      throw err;
    }
    reports.set(spec.name, report);
    const dangerous = report.changes.filter((c) => c.category === "dangerous");
    if (dangerous.length > 0) {
      warnings.push(`service ${spec.name}: API ${live.version} -> ${candidate.version} has ${dangerous.length} dangerous change(s): ${dangerous.map((c) => `${c.coordinate} (${c.message})`).join("; ")}`);
    }
    if (report.compatible) continue;
    const override = spec.api.override;
    if (override && override.version === candidate.version) {
      overrides.set(spec.name, override.reason);
      warnings.push(`service ${spec.name}: API ${live.version} -> ${candidate.version} is NOT compatible; shipping anyway by override: ${override.reason}`);
      continue;
    }
    if (override) {
      warnings.push(`service ${spec.name}: api.override is for ${override.version}, not the candidate ${candidate.version}; ignored`);
    }
    refusals.push(
      `service ${spec.name}: candidate ${candidate.version} breaks the API of live ${live.version}:\n` +
        formatReport(report).split("\n").map((l) => `    ${l}`).join("\n") +
        `\n  Fix the candidate (add, deprecate, then remove), version the API as a last resort, or set services[${i}].api.override { version: "${candidate.version}", reason: "..." }.`,
    );
  }
  if (refusals.length > 0) throw new ApiCompatibilityError(`API compatibility gate refused ${refusals.length} release(s):\n${refusals.join("\n")}`);
  return { warnings, reports, overrides };
}
