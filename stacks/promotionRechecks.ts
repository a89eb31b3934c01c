/**
 * The target's own checks at promotion (issue 38, 6): the bundle's version must be a valid
 * release on the target as the target is now, whatever it passed in its source.
 *
 * - Database: every migration phase the bundle's version needs is applied on the target (its
 *   migration ledger, or the phases its config records), so the target's live version stays a
 *   valid rollback target on the schema the bundle leaves.
 * - API: the target's config names, for the bundle's version, the very schema the bundle was made
 *   with (same SHA-256: immutability), and check-api passes it against the target's live version's
 *   schema and client operations (or the target's config overrides it for that version).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { formatReport } from "../core/apiCompat";
import { compareSchemas } from "./apiGate";
import type { StackConfig } from "../core/config";
import type { ReleaseBundle } from "../core/promotion/bundle";
import type { TargetRechecks } from "../core/promotion/gates";

type Check = TargetRechecks["database"];

/** The bundle's migration needs against the phases applied on `target` (`<plan>:<phase>`). */
export function databaseRecheck(bundle: Pick<ReleaseBundle, "version" | "migrations">, applied: readonly string[], target: string): Check {
  const needed = bundle.migrations.flatMap((m) => m.needs.map((phase) => `${m.plan}:${phase}`));
  const missing = needed.filter((p) => !applied.includes(p));
  if (missing.length > 0) return { passed: false, detail: `${bundle.version} needs ${missing.join(", ")}, not applied on ${target}: run it there first (remedy migrate apply, or database.run in its config)` };
  return { passed: true, detail: needed.length > 0 ? `${needed.join(", ")} applied` : `${bundle.version} needs no migration` };
}

/**
 * The bundle's API against the target's live version, with the target's files (relative to
 * `baseDir`). The live version is release state's when given (`liveVersion`): an image-mode
 * config names the version it wants, not the one running; else config's stable slot's.
 */
export async function apiRecheck(bundle: Pick<ReleaseBundle, "service" | "version" | "api">, spec: StackConfig["services"][number], baseDir: string, target: string, liveVersion?: string): Promise<Check> {
  const live = liveVersion !== undefined ? { version: liveVersion } : spec.slots[spec.stable];
  if (!spec.api) {
    return bundle.api.verdict === "not-checked" ? { passed: true, detail: "no API gate on either side" } : { passed: false, detail: `${target}'s ${bundle.service} has no api block, but the bundle's API was checked: add services[].api to ${target} so it is checked there too` };
  }
  const file = spec.api.schemas[bundle.version];
  if (!file) return { passed: false, detail: `${target}'s api.schemas names no schema for ${bundle.version}: add the bundle's schema (its SHA-256 ${bundle.api.schemaSha256.slice(0, 12)}…)` };
  const text = fs.readFileSync(path.resolve(baseDir, file), "utf8");
  const sha = createHash("sha256").update(text).digest("hex");
  if (sha !== bundle.api.schemaSha256) return { passed: false, detail: `${file} is not the schema the bundle was made with (SHA-256 ${sha.slice(0, 12)}… vs ${bundle.api.schemaSha256.slice(0, 12)}…): promote the bundle's schema, not another` };
  if (!live || live.version === bundle.version) return { passed: true, detail: `${bundle.version} is already live on ${target}` };
  const liveFile = spec.api.schemas[live.version];
  if (!liveFile) return { passed: false, detail: `${target}'s api.schemas names no schema for its live ${live.version}` };
  const report = await compareSchemas(spec.api, baseDir, liveFile, { file, text });
  if (report.compatible) return { passed: true, detail: `compatible with ${target}'s live ${live.version}${spec.api.operations.length ? " and its client operations" : ""}` };
  if (spec.api.override?.version === bundle.version) return { passed: true, detail: `NOT compatible with ${target}'s live ${live.version}; shipped by ${target}'s override: ${spec.api.override.reason}` };
  return { passed: false, detail: `breaks ${target}'s live ${live.version}: ${formatReport(report).split("\n").slice(0, 3).join(" ")}` };
}

/** Both re-checks of `bundle` on `target` (its applied migration phases; its API files and live version), as the gates take them. */
export async function targetRechecks(bundle: Pick<ReleaseBundle, "service" | "version" | "api" | "migrations">, spec: StackConfig["services"][number], o: { readonly applied: readonly string[]; readonly baseDir: string; readonly target: string; readonly liveVersion?: string }): Promise<TargetRechecks> {
  return { database: databaseRecheck(bundle, o.applied, o.target), api: await apiRecheck(bundle, spec, o.baseDir, o.target, o.liveVersion) };
}
