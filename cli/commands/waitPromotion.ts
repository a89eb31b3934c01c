/**
 * `remedy wait <service>... --until promotable --from staging --to prod [--timeout 86400]
 * [--interval 60] [--config Pulumi.prod.yaml] [--bundle <id>] [--json]` (issue 38, 8): a
 * pipeline's gate between environments. It asks the promotion gates (the same evaluation as
 * `remedy promote-env`) until each service's bundle may be promoted, is refused, or the time is
 * up; it sleeps until the time a waiting gate names (a soak's end, the next allowed window),
 * re-reading at `--interval` meanwhile (an approval has no time), and records each change of
 * decision in the target's release table, not every poll. Pulumi's documented approval workaround
 * fails instead of waiting (pulumi/docs#19557); this waits, bounded by `--timeout`.
 * Exit codes: 0 every bundle may be promoted, 1 one refused, 5 timed out, 2 usage or AWS.
 */
import { type Evaluation, type PromoteEnvHooks, type PromotionCall, evaluatePromotion, promotionCall, recordDecision } from "./promoteEnv";
import { WAIT_EXIT } from "../../core/releaseOutcome";
import { printable } from "../../lambdas/commons/text";
import { describeAwsError } from "../awsErrors";
import { UsageError, usage } from "../args";

export interface PromotionWaitHooks extends PromoteEnvHooks {
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

interface Row {
  readonly call: PromotionCall;
  last?: Evaluation;
  /** The change last printed and recorded: the decision, its time and each gate's. */
  said?: string;
  endedAt?: number;
}

const held = (e: Evaluation) =>
  e.decision.gates
    .filter((g) => g.decision !== "allow")
    .map((g) => `${g.gate}: ${g.message}`)
    .join("; ");

/** Waits for promotions; `values` are wait's parsed options. */
export async function waitForPromotions(services: readonly string[], values: Record<string, unknown>, o: { readonly timeoutS: number; readonly intervalS: number; readonly json: boolean }, io: { out: (s: string) => void; err: (s: string) => void }, hooks: PromotionWaitHooks = {}): Promise<number> {
  const now = hooks.now ?? Date.now;
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const fail = (message: string, code: number) => {
    io.err(o.json ? JSON.stringify({ error: message }) : `remedy wait: ${message}`);
    return code;
  };
  let rows: Row[];
  try {
    if (values.outputs !== undefined || values.release !== undefined) usage("wait", "--until promotable waits for a bundle's promotion, not a release: drop --outputs and --release");
    rows = services.map((service) => ({ call: promotionCall("wait", service, values) }));
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message, WAIT_EXIT.usage);
    throw err;
  }
  const started = now();
  const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);
  for (;;) {
    for (const row of rows.filter((r) => r.last?.decision.decision !== "allow" && r.last?.decision.decision !== "deny")) {
      const t = now();
      let e: Evaluation | string;
      try {
        e = await evaluatePromotion(row.call, t, hooks);
      } catch (err) {
        return fail(describeAwsError(err, row.call.targetTable, row.call.to), WAIT_EXIT.usage);
      }
      if (typeof e === "string") return fail(e, WAIT_EXIT.usage);
      row.last = e;
      const d = e.decision;
      // A change is a gate's decision or time, not its message (a soak's minutes grow every read).
      const said = JSON.stringify([d.decision, d.until, d.gates.map((g) => [g.gate, g.decision, g.until])]);
      if (d.decision !== "wait") row.endedAt = t;
      if (said === row.said) continue;
      row.said = said;
      try {
        await recordDecision(row.call, e, t);
      } catch (err) {
        return fail(describeAwsError(err, row.call.targetTable, row.call.to), WAIT_EXIT.usage);
      }
      for (const u of e.unrecorded) io.err(`remedy wait: the re-check could not be recorded in ${u}; it still decides here`);
      if (o.json) io.out(JSON.stringify({ at: new Date(t).toISOString(), event: d.decision === "wait" ? "progress" : "outcome", service: row.call.service, bundle: e.bundle.id, decision: d.decision, ...(d.until ? { until: d.until } : {}), held: d.gates.filter((g) => g.decision !== "allow").map((g) => ({ gate: g.gate, decision: g.decision, message: g.message })) }));
      else io.out(printable(`${clock(t)} ${row.call.service} ${e.bundle.version} (${e.bundle.id}) to ${row.call.to}: ${d.decision.toUpperCase()}${d.until ? ` until ${d.until}` : ""}${held(e) ? `: ${held(e)}` : ""}`));
    }
    const open = rows.filter((r) => r.last?.decision.decision === "wait");
    if (open.length === 0) break;
    const deadline = started + o.timeoutS * 1000;
    if (now() >= deadline) break;
    // Until the earliest time a waiting gate names, at most --interval (an approval may come at any time), at most the deadline.
    const untils = open.flatMap((r) => (r.last?.decision.gates ?? []).flatMap((g) => (g.decision === "wait" && g.until ? [Date.parse(g.until)] : [])));
    const next = Math.min(now() + o.intervalS * 1000, deadline, ...untils);
    await sleep(Math.max(0, next - now()));
  }
  const outcome = (r: Row) => (r.last?.decision.decision === "allow" ? "promotable" : r.last?.decision.decision === "deny" ? "refused" : "TIMED OUT");
  const code = rows.some((r) => outcome(r) === "refused") ? WAIT_EXIT.refused : rows.some((r) => outcome(r) === "TIMED OUT") ? WAIT_EXIT.timedOut : WAIT_EXIT.done;
  if (o.json) io.out(JSON.stringify({ summary: rows.map((r) => ({ service: r.call.service, bundle: r.last?.bundle.id, outcome: outcome(r), seconds: Math.round(((r.endedAt ?? now()) - started) / 1000) })), exitCode: code }));
  else {
    io.out(`\nremedy wait: ${rows.length} promotion${rows.length === 1 ? "" : "s"} to ${rows[0].call.to}, ${Math.round((now() - started) / 1000)} s`);
    const width = Math.max(...rows.map((r) => r.call.service.length));
    for (const r of rows) {
      const next = outcome(r) === "promotable" ? `remedy promote-env ${r.call.service} --from ${r.call.from.stack.split("/").pop()} --to ${r.call.to} --write` : `remedy promote-env ${r.call.service} --from ${r.call.from.stack.split("/").pop()} --to ${r.call.to} --explain`;
      io.out(printable(`  ${r.call.service.padEnd(width)}  ${outcome(r).padEnd(10)}  ${r.last ? `${r.last.bundle.id}  ` : ""}${next}`));
    }
  }
  return code;
}
