/**
 * The release bundle of a release this update starts (issue 38, 2), made from what the update
 * deploys and knows: the candidate's image (pinned by digest), its API schema's hash and the
 * gate's verdict, the migration plans its version needs with the phases this stack has applied,
 * and the hash of the service's behaviour config. Recorded once in this stack's release history
 * (its id on the release's start), so another environment can promote exactly it.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { StackConfig } from "../core/config";
import { print } from "graphql";
import { loadFieldRetirements, loadOperations } from "../core/apiFiles";
import { type BundleMigration, type ReleaseBundle, bundleProblem, canonicalJson, makeBundle, serviceConfigSha256 } from "../core/promotion/bundle";
import type { ReleaseEvent } from "../core/releaseState";
import { backfilledColumns, columnChanges, columnMatches } from "../database/gates";
import type { MigrationPlan } from "../database/plan";
import * as pulumi from "@pulumi/pulumi";
import type { ReleaseBackend } from "./releases";
import { thisStackName } from "./config";

export interface BundleContext {
  /** This stack, `org/project/stack` (default: the running one's). */
  readonly source?: string;
  /** Who runs this update, as AWS verified it. */
  readonly releaser: string;
  readonly now: string;
  /** `api.override` reason the gate accepted for this service, if any. */
  readonly apiOverride?: string;
  readonly plans: readonly MigrationPlan[];
  readonly applied: readonly string[];
  /** Where the config's relative paths (API schemas) are. */
  readonly baseDir: string;
}

/** The plans a version needs: those whose expand adds (or backfill fills) a column it uses, with this stack's applied phases. */
export function bundleMigrations(uses: readonly string[], plans: readonly MigrationPlan[], applied: readonly string[]): BundleMigration[] {
  return plans.flatMap((plan) => {
    const added = columnChanges(plan, "expand").added.filter((c) => uses.some((u) => columnMatches(u, c)));
    if (added.length === 0) return [];
    const filled = backfilledColumns(plan).some((c) => uses.some((u) => columnMatches(u, c)));
    const done = applied.filter((a) => a.startsWith(`${plan.id}:`)).map((a) => a.slice(plan.id.length + 1));
    return [{ plan: plan.id, needs: filled ? ["expand", "backfill"] : ["expand"], applied: done }];
  });
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * A service's API block by what its files hold, not where they are: each schema's SHA-256, the
 * client operations (name, client version, printed document) and field retirements hashed. So
 * the same release hashes the same from any checkout (staging's pipeline, prod's, the rehearsal
 * run from anywhere), and an edited operation or schema file is another bundle.
 */
function apiByContent(api: NonNullable<StackConfig["services"][number]["api"]>, baseDir: string): Record<string, unknown> {
  const at = (f: string) => path.resolve(baseDir, f);
  return {
    ...api,
    schemas: Object.fromEntries(Object.entries(api.schemas).map(([v, f]) => [v, sha256(fs.readFileSync(at(f), "utf8"))])),
    operations: sha256(canonicalJson(loadOperations(api.operations.map(at)).map((o) => ({ name: o.name, client: o.client, document: print(o.document) })))),
    ...(api.fieldRetirements ? { fieldRetirements: sha256(canonicalJson(loadFieldRetirements(at(api.fieldRetirements)))) } : {}),
  };
}

/**
 * The bundle of the release `start` begins for `spec`, or why there is none (an image not pinned
 * by digest: said as a warning; such a release cannot be promoted elsewhere).
 */
export function releaseBundle(spec: StackConfig["services"][number], start: Extract<ReleaseEvent, { type: "start-release" }>, ctx: BundleContext): ReleaseBundle | string {
  const image = start.candidate.image ?? spec.slots[start.candidate.slot]?.image ?? "";
  const content = { service: spec.name, version: start.candidate.version, image };
  const problem = bundleProblem(content);
  if (problem) return problem;
  const schemaFile = spec.api?.schemas[start.candidate.version];
  const api = schemaFile
    ? { schemaSha256: sha256(fs.readFileSync(path.resolve(ctx.baseDir, schemaFile), "utf8")), verdict: ctx.apiOverride ? ("breaking-override" as const) : ("compatible" as const), ...(ctx.apiOverride ? { override: ctx.apiOverride } : {}) }
    : { schemaSha256: "none", verdict: "not-checked" as const };
  const uses = spec.database?.uses[start.candidate.version] ?? [];
  return makeBundle(
    { ...content, api, migrations: bundleMigrations(uses, ctx.plans, ctx.applied), configSha256: serviceConfigSha256({ ...(spec as unknown as Record<string, unknown>), ...(spec.api ? { api: apiByContent(spec.api, ctx.baseDir) } : {}) }) },
    { source: ctx.source ?? thisStackName(), createdAt: ctx.now, releaser: ctx.releaser },
  );
}

/**
 * `events` with the bundle's id on the release they start, and the bundle to record; unchanged
 * (with the reason) when they start no release or the release cannot be a bundle.
 */
export function withBundle(spec: StackConfig["services"][number], events: readonly ReleaseEvent[], ctx: BundleContext): { events: readonly ReleaseEvent[]; bundle?: ReleaseBundle; problem?: string } {
  const start = events.find((e): e is Extract<ReleaseEvent, { type: "start-release" }> => e.type === "start-release");
  if (!start) return { events };
  const b = releaseBundle(spec, start, ctx);
  if (typeof b === "string") return { events, problem: b };
  return { events: events.map((e) => (e === start ? { ...start, candidate: { ...start.candidate, bundle: b.id } } : e)), bundle: b };
}

/**
 * The events of `spec`'s release with its bundle's id, the bundle recorded in this stack's
 * history; a release that cannot be a bundle (a tag) is said in the update's log, not warned: a
 * stack that promotes nowhere may well release tags.
 */
export async function recordBundle(spec: StackConfig["services"][number], events: readonly ReleaseEvent[], ctx: BundleContext, releases: Pick<ReleaseBackend, "recordBundle">): Promise<{ events: readonly ReleaseEvent[] }> {
  const b = withBundle(spec, events, ctx);
  if (b.problem) void pulumi.log.info(`service ${spec.name}: no release bundle: ${b.problem}`);
  if (b.bundle) await releases.recordBundle?.(spec.name, b.bundle);
  return { events: b.events };
}
