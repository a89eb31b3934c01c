/**
 * What a promoted bundle changes in the target's stack config (issue 38, 8), as settings a
 * pipeline applies with `pulumi config set`, or written into the stack file (`remedy promote-env
 * --write`), comments and encrypted values kept.
 *
 * - Image mode (`image` + `version`): the bundle's image, pinned by digest, and its version.
 * - Slot mode (`stable` + `slots`): the bundle goes into the slot that is idle by release state
 *   (not by config, which may lag a promotion the release driver made: writing into the slot
 *   config still calls idle would replace the live version); `stable` catches up with release
 *   state when it lags, and a manual release's `candidate.weight` goes to 0, so the new version
 *   is deployed before it takes traffic.
 *
 * `pulumi config set --path` takes integers as numbers ("2026" would be a number, not a version),
 * so every line says `--type string` or `--type int` (https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { ConfigError, parseStackConfig } from "../../core/config";
import type { ReleaseBundle } from "../../core/promotion/bundle";
import { type Slot, otherSlot } from "../../core/slots";
import { stackFileConfig } from "./validate";

/** One value to set, at its path under the stack file's `config:` (`["remedy:services", 0, "version"]`). */
export interface Setting {
  readonly path: readonly (string | number)[];
  readonly value: string | number;
}

interface RawService {
  readonly name?: unknown;
  readonly image?: unknown;
  readonly stable?: unknown;
  readonly strategy?: { readonly kind?: unknown };
  readonly candidate?: { readonly weight?: unknown };
}

/**
 * The settings that make `file`'s `service` release `bundle`, given the slot release state says is
 * live (undefined: none recorded, config's `stable` stands). @throws Error when the file has no such service
 */
export function promotionSettings(file: string, service: string, bundle: Pick<ReleaseBundle, "image" | "version">, liveSlot: Slot | undefined): Setting[] {
  const { namespace, raw } = stackFileConfig(file);
  const key = `${namespace}:services`;
  const services = (raw.services ?? []) as RawService[];
  const i = services.findIndex((s) => s?.name === service);
  if (i < 0) throw new Error(`${file} has no service ${service} under ${key}`);
  const s = services[i];
  const at = (...rest: (string | number)[]) => [key, i, ...rest];
  if (s.image !== undefined) return [{ path: at("image"), value: bundle.image }, { path: at("version"), value: bundle.version }];
  const live = liveSlot ?? (s.stable === "green" ? "green" : "blue");
  const idle = otherSlot(live);
  const out: Setting[] = [];
  if (s.stable !== live) out.push({ path: at("stable"), value: live });
  out.push({ path: at("slots", idle, "image"), value: bundle.image }, { path: at("slots", idle, "version"), value: bundle.version });
  const manual = s.strategy === undefined || s.strategy.kind === "manual";
  if (manual && typeof s.candidate?.weight === "number" && s.candidate.weight !== 0) out.push({ path: at("candidate", "weight"), value: 0 });
  return out;
}

/** `pulumi config set` lines for `settings` on `stack` (shell-quoted). */
export function configSetCommands(settings: readonly Setting[], stack: string): string[] {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const key = (p: Setting["path"]) => p.map((x, i) => (typeof x === "number" ? `[${x}]` : i === 0 ? x : `.${x}`)).join("");
  return settings.map((s) => `pulumi config set --stack ${stack} --path --type ${typeof s.value === "number" ? "int" : "string"} ${q(key(s.path))} ${q(String(s.value))}`);
}

/**
 * Writes `settings` into `file` (comments, order and `secure:` values kept), only once the result
 * is valid stack config (the same check as `remedy validate`); atomically, by rename.
 * @throws Error naming the problem; the file is unchanged
 */
export function writeSettings(file: string, settings: readonly Setting[]): void {
  const doc = parseDocument(fs.readFileSync(file, "utf8"));
  for (const s of settings) {
    // Into the service list the file has (not one a project default supplies, which this would replace).
    if (!doc.hasIn(["config", ...s.path.slice(0, 2)])) throw new Error(`not written: ${file} has no ${String(s.path[0])}[${String(s.path[1])}] of its own; set it where it is defined`);
    doc.setIn(["config", ...s.path], s.value);
  }
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, doc.toString());
  try {
    parseStackConfig(stackFileConfig(tmp).raw);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const why = err instanceof ConfigError ? err.message : (err as Error).message;
    throw new Error(`not written: ${file} with the bundle would not be valid (${why.split("\n").slice(0, 4).join(" ")})`);
  }
  fs.renameSync(tmp, file);
}
