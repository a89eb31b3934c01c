/**
 * A stack with `remedy:promotion` takes a new version only as a bundle its sources proved (issue
 * 38, 3): at `pulumi preview` and `up`, before anything is deployed, each release this update
 * would start is made into the bundle it would be, and the promotion gates decide on it with the
 * sources' evidence, the target's approvals and its own re-checks; anything but allow fails,
 * naming each gate that holds it. The hotfix path is not held (it is governed on its own), nor a
 * version release state already knows (a release in progress, a rollback target), nor a service's
 * first record (it adopts what runs).
 */
import type { StackConfig } from "../core/config";
import { decidePromotion } from "../core/promotion/gates";
import type { ReleaseEvent } from "../core/releaseState";
import { LiveSlotConflictError, planRelease } from "../core/converge";
import type { MigrationPlan } from "../database/plan";
import { releaseBundle } from "./bundles";
import { desiredRelease } from "./releasePlans";
import { sourcesEvidence } from "./promotionEvidence";
import { targetRechecks } from "./promotionRechecks";
import type { ReleaseBackend } from "./releases";
import type { AwsSettings } from "./awsClients";

export class PromotionGateError extends Error {
  constructor(problems: readonly string[]) {
    super(`promotion gate refused ${problems.length} release(s):\n${problems.map((p) => `  - ${p}`).join("\n")}\nremedy promote-env <service> --from <source> --to <this stack> --explain shows every gate's inputs.`);
    this.name = "PromotionGateError";
  }
}

/** @throws PromotionGateError naming each release the gates do not allow now */
export async function checkPromotions(
  config: StackConfig,
  releases: ReleaseBackend,
  o: { readonly stack: string; readonly nowMs: number; readonly baseDir: string; readonly plans: readonly MigrationPlan[]; readonly cloudwatch?: Parameters<typeof sourcesEvidence>[4]; readonly aws?: AwsSettings },
): Promise<void> {
  const policy = config.promotion;
  if (!policy) return;
  const problems: string[] = [];
  const from = policy.sources.map((s) => s.stack).join(", ");
  const now = new Date(o.nowMs).toISOString();
  for (const [i, spec] of config.services.entries()) {
    if (spec.hotfix) continue;
    // A service's first record adopts what already runs; the gate holds each release after it,
    // but not one release state already knows (in progress, or the previous version kept warm).
    const state = await releases.get(spec.name);
    if (!state) continue;
    // The release this update would start, as the program plans it (an idle slot keeping its
    // version starts nothing); a plan refused for another reason is that gate's to say.
    let start: Extract<ReleaseEvent, { type: "start-release" }> | undefined;
    try {
      start = planRelease(desiredRelease(spec), state, now, `pulumi:${o.stack}`).events.find((e): e is Extract<ReleaseEvent, { type: "start-release" }> => e.type === "start-release");
    } catch (err) {
      if (err instanceof LiveSlotConflictError) continue;
      throw err;
    }
    const cand = start?.candidate;
    if (!start || !cand || [state.stable, state.candidate, state.previous].some((v) => v?.version === cand.version)) continue;
    const bundle = releaseBundle(spec, start, { source: o.stack, releaser: "", now: start.at, plans: o.plans, applied: config.database?.applied ?? [], baseDir: o.baseDir, ...(spec.api?.override?.version === cand.version ? { apiOverride: spec.api.override.reason } : {}) });
    const what = `services[${i}] (${spec.name} ${cand.version})`;
    if (typeof bundle === "string") {
      problems.push(`${what}: this stack takes only bundles proved in ${from}, and ${bundle}`);
      continue;
    }
    const { evidence, blocks } = await sourcesEvidence(policy, spec.name, bundle.id, o.nowMs, o.cloudwatch, o.aws);
    const approvals = (await releases.approvals?.(spec.name, bundle.id)) ?? [];
    const rechecks = await targetRechecks(bundle, spec, { applied: config.database?.applied ?? [], baseDir: o.baseDir, target: o.stack });
    const d = decidePromotion({ target: o.stack, bundle, policy, evidence, approvals, blocks, rechecks, kind: "promotion", nowMs: o.nowMs });
    if (d.decision === "allow") continue;
    const held = d.gates.filter((g) => g.decision !== "allow").map((g) => `${g.gate} (${g.decision}${g.until ? ` until ${g.until}` : ""}): ${g.message}`);
    problems.push(`${what}, bundle ${bundle.id}: ${d.decision === "deny" ? "refused" : `not yet${d.until ? `, until ${d.until}` : ""}`}; ${held.join("; ")}`);
  }
  if (problems.length > 0) throw new PromotionGateError(problems);
}
