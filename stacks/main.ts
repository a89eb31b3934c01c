/**
 * The program behind `stacks/index.ts`. Two kinds of stack share it:
 * - prod-like stacks (`remedy:services`): export, besides the usual outputs, `hotfixSeed` (their
 *   live versions) for a hotfix stack; services in hotfix release mode are checked against the
 *   hotfix stack's `testedImages` before anything is deployed;
 * - hotfix stacks (`remedy:hotfix`): seeded from prod's `hotfixSeed` through a StackReference,
 *   isolated (own ALB, namespace, alarms, Lambda, role, table), exporting `testedImages`.
 */
import * as pulumi from "@pulumi/pulumi";
import { releaseTableName } from "../components/rollback/rollbackFunction";
import {
  type HotfixSeed,
  type StackConfig,
  checkHotfixReleases,
  hotfixSeed,
  hotfixStackConfig,
  parseHotfixStackConfig,
  parseStackConfig,
} from "../core/config";
import { checkApiGates } from "./apiGate";
import { readRawConfig } from "./config";
import { type StackOutputs, buildStack, stackOutputs } from "./program";
import { releaseBackend } from "./releases";

export type ProgramOutputs = StackOutputs & {
  readonly hotfixSeed?: HotfixSeed;
  readonly hotfix?: { readonly prodStack: string; readonly host: string };
  readonly testedImages?: Readonly<Record<string, string>>;
};

/** Reads a stack output, failing with what to do when it is missing. */
async function requireOutput<T>(ref: pulumi.StackReference, stack: string, key: string, fix: string): Promise<T> {
  const details = await ref.getOutputDetails(key);
  const value = (details.value ?? details.secretValue) as T | undefined;
  if (value === undefined) throw new Error(`stack ${stack} exports no "${key}"; ${fix}`);
  return value;
}

function build(config: StackConfig, apiOverrides?: ReadonlyMap<string, string>): StackOutputs {
  const alarmNamePrefix = `${pulumi.getProject()}-${pulumi.getStack()}`;
  return stackOutputs(
    buildStack(config, {
      alarmNamePrefix,
      releases: releaseBackend(releaseTableName(alarmNamePrefix), new pulumi.Config("aws").get("region")),
      by: `pulumi:${pulumi.getStack()}`,
      apiOverrides,
    }),
  );
}

export async function main(): Promise<ProgramOutputs> {
  const raw = readRawConfig();
  if ("hotfix" in raw) {
    const h = parseHotfixStackConfig(raw);
    const prod = new pulumi.StackReference("prod", { name: h.prodStack });
    const seed = await requireOutput<HotfixSeed>(prod, h.prodStack, "hotfixSeed", `run \`pulumi up\` on ${h.prodStack} with this version of remedy first`);
    const outputs = build(hotfixStackConfig(seed, h));
    return { ...outputs, hotfix: { prodStack: h.prodStack, host: h.host }, testedImages: h.images };
  }
  const config = parseStackConfig(raw);
  if (config.services.some((s) => s.hotfix) && config.hotfixStack) {
    const hotfix = new pulumi.StackReference("hotfix", { name: config.hotfixStack });
    const tested = await requireOutput<Record<string, string>>(hotfix, config.hotfixStack, "testedImages", `deploy the hotfix there first (\`pulumi stack select hotfix && pulumi up\`)`);
    checkHotfixReleases(config, tested, new Date().toISOString());
  }
  // API compatibility gate: a breaking candidate stops preview and up here, before anything.
  const gate = await checkApiGates(config, process.cwd());
  for (const w of gate.warnings) void pulumi.log.warn(w);
  return { ...build(config, gate.overrides), hotfixSeed: hotfixSeed(config) };
}
