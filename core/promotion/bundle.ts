/**
 * A release bundle (issue 38, 2): what a release is, fixed when it starts in its first
 * environment, so promotion moves exactly that and nothing re-resolved on the way. Its id is the
 * hash of its content: the same image digest, API schema and verdict, migration needs and service
 * config give the same bundle in every environment; any difference is another bundle.
 */
import { createHash } from "node:crypto";
import { parseImageRef } from "../image";

/** The API side of a bundle: the candidate schema's hash and what `check-api` said of it. */
export interface BundleApi {
  readonly schemaSha256: string;
  readonly verdict: "compatible" | "breaking-override" | "not-checked";
  /** Why a breaking schema ships anyway (`api.override`), when it does. */
  readonly override?: string;
}

/** A migration plan the release needs, and which of its phases the source had applied. */
export interface BundleMigration {
  readonly plan: string;
  /** Phases the version needs applied before it runs (expand, and backfill when it reads the new shape). */
  readonly needs: readonly string[];
  readonly applied: readonly string[];
}

/** What the bundle is made of (the hashed part). */
export interface BundleContent {
  readonly service: string;
  readonly version: string;
  /** Pinned by digest: `registry/app@sha256:<64 hex>`. */
  readonly image: string;
  readonly api: BundleApi;
  readonly migrations: readonly BundleMigration[];
  /** SHA-256 of the service's config that belongs to its code (see serviceConfigSha256). */
  readonly configSha256: string;
}

/** A bundle as recorded in its source environment's history. */
export interface ReleaseBundle extends BundleContent {
  /** `b-<16 hex>`: the content's hash. */
  readonly id: string;
  /** The stack it was made in (`acme/remedy/staging`), when, and who started the release (the identity AWS verified). */
  readonly source: string;
  readonly createdAt: string;
  readonly releaser: string;
}

/** JSON with keys sorted at every depth: one text per value, whatever the key order it was built in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * The keys of a service's config that belong to its code, the same in every environment it is
 * promoted through: its port and health paths, what it reads and writes in the database, its API
 * files, whether it runs as root. Where and how much it runs (namespace, routes, replicas,
 * resources, env), and each environment's policy (alarms, strategy, rollback window, overrides),
 * differ between staging and prod and are not the bundle.
 */
const CODE_KEYS = ["name", "port", "healthPath", "livenessPath", "database", "api", "allowRunAsRoot"] as const;

/**
 * SHA-256 of the part of a service's config that belongs to its code ({@link CODE_KEYS}; the API
 * block without an environment's `override`): the same release in staging and prod hashes the
 * same, and a changed port, health path, database use or API file is another bundle.
 */
export function serviceConfigSha256(service: Readonly<Record<string, unknown>>): string {
  const picked: Record<string, unknown> = {};
  for (const k of CODE_KEYS) {
    const v = service[k];
    if (v === undefined) continue;
    picked[k] = k === "api" && v !== null && typeof v === "object" ? { ...(v as Record<string, unknown>), override: undefined } : v;
  }
  return sha256(canonicalJson(picked));
}

/** Why `content` cannot be a bundle, or undefined: the image must be pinned by digest. */
export function bundleProblem(content: Pick<BundleContent, "service" | "version" | "image">): string | undefined {
  const ref = parseImageRef(content.image);
  if (typeof ref === "string" || ref.digest === undefined) {
    return `${content.service} ${content.version}: image ${content.image} is not pinned by digest; a bundle names exactly what ran (registry/app@sha256:<64 hex>), so promotion cannot move a tag that may point elsewhere tomorrow`;
  }
  return undefined;
}

/**
 * The bundle id of `content`: the same content, the same id, in every environment. The phases a
 * stack had applied are its state, not the release: they are kept with the bundle, not hashed.
 */
export function bundleId(content: BundleContent): string {
  const { service, version, image, api, migrations, configSha256 } = content;
  const needs = migrations.map((m) => ({ plan: m.plan, needs: m.needs }));
  return `b-${sha256(canonicalJson({ service, version, image, api, migrations: needs, configSha256 })).slice(0, 16)}`;
}

/** Makes the bundle. @throws Error naming why when the image is not pinned by digest */
export function makeBundle(content: BundleContent, made: { readonly source: string; readonly createdAt: string; readonly releaser: string }): ReleaseBundle {
  const problem = bundleProblem(content);
  if (problem) throw new Error(problem);
  return { ...content, id: bundleId(content), ...made };
}
