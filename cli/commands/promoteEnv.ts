/**
 * `remedy promote-env <service> --from staging --to prod [--bundle <id>] [--config <file>]
 * [--project remedy] [--explain] [--write] [--json]` (issue 38, 8): whether the source's bundle
 * may be promoted into the target now, every gate with its decision and inputs; the decision is
 * recorded in the target's release table, and on allow it prints the `pulumi config set` lines
 * that make the target release it, or (`--write`) writes them into the target's stack file.
 *
 * Reads: the target's `remedy:promotion` (its stack file), each source's release table (the
 * bundle, its releases and rollbacks, blocks) and CloudWatch (5xx and p99 against the version it
 * replaced), the target's table (approvals); re-checks the bundle on the target (its migration
 * phases, check-api against its live version), and records a re-check's change in each source
 * (a failure revokes the bundle there). `pulumi up` ships it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ConfigError, parseStackConfig } from "../../core/config";
import type { ReleaseBundle } from "../../core/promotion/bundle";
import type { Slot } from "../../core/slots";
import { type PromotionDecision, decidePromotion } from "../../core/promotion/gates";
import type { PromotionPolicy } from "../../core/promotion/policy";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { releaseTableName } from "../../core/naming";
import { recordRechecks, sourceClients, sourcesEvidence } from "../../stacks/promotionEvidence";
import { targetRechecks } from "../../stacks/promotionRechecks";
import { UsageError, parseCommandArgs, usage } from "../args";
import { describeAwsError } from "../awsErrors";
import { printable } from "../../lambdas/commons/text";
import { stackFileConfig } from "./validate";
import { configSetCommands, promotionSettings, writeSettings } from "./promotionConfig";

const OPTIONS = { from: { type: "string" }, to: { type: "string" }, bundle: { type: "string" }, config: { type: "string" }, project: { type: "string" }, explain: { type: "boolean" }, write: { type: "boolean" } } as const;

export interface PromoteEnvHooks {
  readonly nowMs?: number;
  /** CloudWatch for the sources' metrics (tests pass a stand-in: the emulator has no percentiles). */
  readonly cloudwatch?: (source: PromotionPolicy["sources"][number]) => CloudWatchClient;
}

type Source = PromotionPolicy["sources"][number];

/** A promotion asked for: the service, its source, the target and the target's stack file and policy. */
export interface PromotionCall {
  readonly service: string;
  readonly from: Source;
  readonly to: string;
  readonly file: string;
  readonly target: ReturnType<typeof parseStackConfig>;
  readonly policy: PromotionPolicy;
  readonly targetTable: string;
  /** The bundle named with --bundle; otherwise the one the source runs as its stable version. */
  readonly bundle?: string;
}

/** The promotion `--from`, `--to`, `--config`, `--project` and `--bundle` ask for. @throws UsageError */
export function promotionCall(command: string, service: string | undefined, values: Record<string, unknown>): PromotionCall {
  if (!service) usage(command, "name the service");
  if (typeof values.from !== "string" || typeof values.to !== "string") usage(command, "--from <stack> and --to <stack> are required, e.g. --from staging --to prod");
  const to = values.to;
  const file = typeof values.config === "string" ? values.config : `Pulumi.${to}.yaml`;
  if (!fs.existsSync(file)) usage(command, `${file} not found: run it where the target's stack file is, or pass --config <file>`);
  let target: ReturnType<typeof parseStackConfig>;
  try {
    target = parseStackConfig(stackFileConfig(file).raw);
  } catch (err) {
    if (err instanceof ConfigError) usage(command, `${file} is not valid (remedy validate ${file} says why)`);
    throw err;
  }
  const policy = target.promotion;
  if (!policy) usage(command, `${file} has no remedy:promotion: ${to} takes nothing from other environments (docs/release-guide.md#promotion-from-staging-to-prod)`);
  const from = policy.sources.find((s) => s.stack === values.from || s.stack.endsWith(`/${String(values.from)}`));
  if (!from) usage(command, `${String(values.from)} is not a source of ${to} (remedy:promotion.sources: ${policy.sources.map((s) => s.stack).join(", ")})`);
  if (!target.services.some((s) => s.name === service)) usage(command, `${file} has no service ${service}`);
  return { service, from, to, file, target, policy, targetTable: releaseTableName(`${String(values.project ?? "remedy")}-${to}`), ...(typeof values.bundle === "string" ? { bundle: values.bundle } : {}) };
}

/** The target's release table, as the CLI's credentials reach it. */
const targetStore = (call: PromotionCall) => new ReleaseStore(new DynamoDBClient({}), call.targetTable);

/** A promotion decided now, with the bundle, the slot the target runs live, and sources a re-check could not be recorded in. */
export interface Evaluation {
  readonly bundle: ReleaseBundle;
  readonly decision: PromotionDecision;
  readonly liveSlot?: Slot;
  readonly unrecorded: readonly string[];
}

/**
 * Reads the sources' evidence and the target's approvals, re-checks the bundle on the target and
 * decides; a re-check's change is recorded in the sources. A string: why there is nothing to
 * decide on (a usage problem). AWS errors are thrown.
 */
export async function evaluatePromotion(call: PromotionCall, nowMs: number, hooks: PromoteEnvHooks = {}): Promise<Evaluation | string> {
  const { service, from, to, policy, target } = call;
  const state = await sourceClients(from).store.get(service);
  const id = call.bundle ?? state?.stable.bundle;
  if (!id) return `${from.stack}'s ${service} runs ${state ? `${state.stable.version}, which no bundle was recorded for (released from a tag, or before bundles)` : "nothing yet"}; name one with --bundle <id>`;
  const read = await sourcesEvidence(policy, service, id, nowMs, hooks.cloudwatch);
  const bundle = read.evidence.find((e) => e.bundle)?.bundle;
  if (!bundle) return `no source of ${to} recorded bundle ${id} for ${service}; remedy history ${service} --stack ${from.stack.split("/").pop()} shows each release's bundle`;
  const store = targetStore(call);
  const [approvals, live] = await Promise.all([store.approvals(service, id), store.get(service)]);
  const spec = target.services.find((s) => s.name === service) as (typeof target.services)[number];
  const rechecks = await targetRechecks(bundle, spec, { applied: target.database?.applied ?? [], baseDir: path.dirname(path.resolve(call.file)), target: to, ...(live ? { liveVersion: live.stable.version } : {}) });
  const { evidence, unrecorded } = await recordRechecks(policy, read.evidence, { service, bundle: id, target: to, rechecks, nowMs });
  const decision = decidePromotion({ target: to, bundle, policy, evidence, approvals, blocks: read.blocks, rechecks, kind: "promotion", nowMs });
  return { bundle, decision, unrecorded, ...(live ? { liveSlot: live.stable.slot } : {}) };
}

/** Records `decision` in the target's release table. */
export async function recordDecision(call: PromotionCall, e: Evaluation, nowMs: number): Promise<void> {
  const d = e.decision;
  await targetStore(call).recordPromotionDecision(call.service, e.bundle.id, new Date(nowMs).toISOString(), { from: call.from.stack, to: call.to, decision: d.decision, ...(d.until ? { until: d.until } : {}), gates: d.gates });
}

/** The exit code of a decision: 0 allow, 1 deny, 4 wait. */
export const decisionExit = (d: PromotionDecision): number => (d.decision === "allow" ? 0 : d.decision === "deny" ? 1 : 4);

/** The exit code: 0 allowed (recorded), 1 refused, 4 wait, 2 usage, configuration or AWS. */
export async function promoteEnvCommand(argv: readonly string[], json: boolean, io: { out: (s: string) => void; err: (s: string) => void }, hooks: PromoteEnvHooks = {}): Promise<number> {
  const nowMs = hooks.nowMs ?? Date.now();
  let call: PromotionCall;
  let write: boolean;
  let explain: boolean;
  try {
    const parsed = parseCommandArgs("promote-env", argv, OPTIONS, 1);
    call = promotionCall("promote-env", parsed.positionals[0], parsed.values as Record<string, unknown>);
    write = parsed.values.write === true;
    explain = parsed.values.explain === true;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`remedy promote-env: ${err.message}`);
      return 2;
    }
    throw err;
  }
  let e: Evaluation;
  try {
    const r = await evaluatePromotion(call, nowMs, hooks);
    if (typeof r === "string") {
      io.err(`remedy promote-env: ${r}`);
      return 2;
    }
    e = r;
    await recordDecision(call, e, nowMs);
  } catch (err) {
    io.err(`remedy promote-env: ${describeAwsError(err, call.targetTable, call.to)}`);
    return 2;
  }
  for (const u of e.unrecorded) io.err(`remedy promote-env: the re-check could not be recorded in ${u}; it still decides here`);
  const settings = e.decision.decision === "allow" ? promotionSettings(call.file, call.service, e.bundle, e.liveSlot) : [];
  let wrote: string | undefined;
  if (write && settings.length > 0) {
    try {
      writeSettings(call.file, settings);
      wrote = call.file;
    } catch (err) {
      io.err(`remedy promote-env: ${(err as Error).message}`);
      return 2;
    }
  }
  const set = configSetCommands(settings, call.to);
  io.out(json ? JSON.stringify({ service: call.service, bundle: e.bundle.id, from: call.from.stack, to: call.to, ...e.decision, ...(settings.length ? { set: settings, ...(wrote ? { wrote } : {}) } : {}) }, null, 2) : formatDecision(call, e, { explain, set, ...(wrote ? { wrote } : {}) }));
  return decisionExit(e.decision);
}

/** What promote-env prints: the decision, each gate that holds it (every gate with --explain), and what to do next. */
export function formatDecision(call: Pick<PromotionCall, "service" | "from" | "to">, e: Pick<Evaluation, "bundle" | "decision">, o: { readonly explain: boolean; readonly set: readonly string[]; readonly wrote?: string }): string {
  const { service, to } = call;
  const { bundle, decision: d } = e;
  const head = `${service} ${bundle.version} (${bundle.id}) from ${call.from.stack} to ${to}: ${d.decision.toUpperCase()}${d.until ? ` until ${d.until}` : ""}`;
  const gates = d.gates.filter((g) => o.explain || g.decision !== "allow").map((g) => `  ${g.decision.padEnd(5)}  ${g.gate.padEnd(9)}  ${g.message}${o.explain ? `\n${" ".repeat(20)}inputs: ${JSON.stringify(g.inputs)}` : ""}`);
  const next =
    d.decision !== "allow"
      ? [`recorded in ${to}'s release table; remedy promote-env ${service} --from ${call.from.stack.split("/").pop()} --to ${to} --explain shows every gate's inputs`]
      : o.wrote
        ? [`ship it: wrote ${bundle.image} (version ${bundle.version}) into ${o.wrote}; commit it and run pulumi up --stack ${to}. The decision is recorded in ${to}'s release table`]
        : [`ship it: set ${service}'s release in ${to}'s config to ${bundle.image} (version ${bundle.version}) and run pulumi up there (or run this with --write); the decision is recorded in ${to}'s release table`, ...o.set.map((l) => `  ${l}`)];
  // Gate messages carry recorded text (a block's reason, a source's alarm reason): shown, never obeyed by the terminal.
  return [head, ...gates, ...next].flatMap((l) => l.split("\n")).map(printable).join("\n");
}
