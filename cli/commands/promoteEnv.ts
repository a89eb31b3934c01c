/**
 * `remedy promote-env <service> --from staging --to prod [--bundle <id>] [--config <file>]
 * [--project remedy] [--explain] [--json]` (issue 38, 8): whether the source's bundle may be
 * promoted into the target now, every gate with its decision and inputs; the decision is recorded
 * in the target's release table, and on allow it prints what the target's config must say.
 *
 * Reads: the target's `remedy:promotion` (its stack file), each source's release table (the
 * bundle, its releases and rollbacks, blocks) and CloudWatch (5xx and p99 against the version it
 * replaced), the target's table (approvals); re-checks the bundle on the target (its migration
 * phases, check-api against its live version). Writes nothing else: `pulumi up` ships it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ConfigError, parseStackConfig } from "../../core/config";
import type { ReleaseBundle } from "../../core/promotion/bundle";
import { type PromotionDecision, decidePromotion } from "../../core/promotion/gates";
import type { PromotionPolicy } from "../../core/promotion/policy";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { releaseTableName } from "../../core/naming";
import { sourceClients, sourcesEvidence } from "../../stacks/promotionEvidence";
import { apiRecheck, databaseRecheck } from "../../stacks/promotionRechecks";
import { UsageError, parseCommandArgs, usage } from "../args";
import { describeAwsError } from "../awsErrors";
import { stackFileConfig } from "./validate";

const OPTIONS = { from: { type: "string" }, to: { type: "string" }, bundle: { type: "string" }, config: { type: "string" }, project: { type: "string" }, explain: { type: "boolean" } } as const;

export interface PromoteEnvHooks {
  readonly nowMs?: number;
  /** CloudWatch for the sources' metrics (tests pass a stand-in: the emulator has no percentiles). */
  readonly cloudwatch?: (source: PromotionPolicy["sources"][number]) => CloudWatchClient;
}

type Source = PromotionPolicy["sources"][number];

/** The exit code: 0 allowed (recorded), 1 refused, 4 wait, 2 usage, configuration or AWS. */
export async function promoteEnvCommand(argv: readonly string[], json: boolean, io: { out: (s: string) => void; err: (s: string) => void }, hooks: PromoteEnvHooks = {}): Promise<number> {
  const nowMs = hooks.nowMs ?? Date.now();
  let service: string;
  let values: Record<string, unknown>;
  let policy: PromotionPolicy;
  let target: ReturnType<typeof parseStackConfig>;
  let file: string;
  try {
    const parsed = parseCommandArgs("promote-env", argv, OPTIONS, 1);
    values = parsed.values as Record<string, unknown>;
    service = parsed.positionals[0] as string;
    if (!service) usage("promote-env", "name the service");
    if (typeof values.from !== "string" || typeof values.to !== "string") usage("promote-env", "--from <stack> and --to <stack> are required, e.g. --from staging --to prod");
    file = typeof values.config === "string" ? values.config : `Pulumi.${values.to}.yaml`;
    if (!fs.existsSync(file)) usage("promote-env", `${file} not found: run it where the target's stack file is, or pass --config <file>`);
    try {
      target = parseStackConfig(stackFileConfig(file).raw);
    } catch (err) {
      if (err instanceof ConfigError) usage("promote-env", `${file} is not valid (remedy validate ${file} says why)`);
      throw err;
    }
    if (!target.promotion) usage("promote-env", `${file} has no remedy:promotion: ${values.to} takes nothing from other environments (docs/release-guide.md#promotion-from-staging-to-prod)`);
    policy = target.promotion;
    if (!policy.sources.some((s) => s.stack === values.from || s.stack.endsWith(`/${String(values.from)}`))) usage("promote-env", `${String(values.from)} is not a source of ${values.to} (remedy:promotion.sources: ${policy.sources.map((s) => s.stack).join(", ")})`);
    if (!target.services.some((s) => s.name === service)) usage("promote-env", `${file} has no service ${service}`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`remedy promote-env: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const to = String(values.to);
  const targetTable = releaseTableName(`${String(values.project ?? "remedy")}-${to}`);
  const spec = target.services.find((s) => s.name === service) as (typeof target.services)[number];
  const from = policy.sources.find((s) => s.stack === values.from || s.stack.endsWith(`/${String(values.from)}`)) as Source;
  try {
    const fromClients = sourceClients(from);
    // The bundle: named, or the one the source runs as its stable version.
    const state = await fromClients.store.get(service);
    const id = typeof values.bundle === "string" ? values.bundle : state?.stable.bundle;
    if (!id) {
      io.err(`remedy promote-env: ${from.stack}'s ${service} runs ${state ? `${state.stable.version}, which no bundle was recorded for (released from a tag, or before bundles)` : "nothing yet"}; name one with --bundle <id>`);
      return 2;
    }
    const { evidence, blocks } = await sourcesEvidence(policy, service, id, nowMs, hooks.cloudwatch);
    const bundle = evidence.find((e) => e.bundle)?.bundle as ReleaseBundle | undefined;
    if (!bundle) {
      io.err(`remedy promote-env: no source of ${to} recorded bundle ${id} for ${service}; remedy history ${service} --stack ${String(values.from)} shows each release's bundle`);
      return 2;
    }
    const targetStore = new ReleaseStore(new DynamoDBClient({}), targetTable);
    const approvals = await targetStore.approvals(service, id);
    const rechecks = { database: databaseRecheck(bundle, target.database?.applied ?? [], to), api: await apiRecheck(bundle, spec, path.dirname(path.resolve(file)), to) };
    const decision = decidePromotion({ target: to, bundle, policy, evidence, approvals, blocks, rechecks, kind: "promotion", nowMs });
    await targetStore.recordPromotionDecision(service, id, new Date(nowMs).toISOString(), { from: from.stack, to, decision: decision.decision, ...(decision.until ? { until: decision.until } : {}), gates: decision.gates });
    io.out(json ? JSON.stringify({ service, bundle: id, from: from.stack, to, ...decision }, null, 2) : format(service, bundle, from.stack, to, decision, values.explain === true));
    return decision.decision === "allow" ? 0 : decision.decision === "deny" ? 1 : 4;
  } catch (err) {
    io.err(`remedy promote-env: ${describeAwsError(err, targetTable, to)}`);
    return 2;
  }
}

function format(service: string, bundle: ReleaseBundle, from: string, to: string, d: PromotionDecision, explain: boolean): string {
  const head = `${service} ${bundle.version} (${bundle.id}) from ${from} to ${to}: ${d.decision.toUpperCase()}${d.until ? ` until ${d.until}` : ""}`;
  const gates = d.gates.filter((g) => explain || g.decision !== "allow").map((g) => `  ${g.decision.padEnd(5)}  ${g.gate.padEnd(9)}  ${g.message}${explain ? `\n${" ".repeat(20)}inputs: ${JSON.stringify(g.inputs)}` : ""}`);
  const next =
    d.decision === "allow"
      ? [`ship it: set ${service}'s candidate in ${to}'s config to ${bundle.image} (version ${bundle.version}) and run pulumi up there; the decision is recorded in ${to}'s release table`]
      : [`recorded in ${to}'s release table; remedy promote-env ${service} --from ${from.split("/").pop()} --to ${to} --explain shows every gate's inputs`];
  return [head, ...gates, ...next].join("\n");
}
