/**
 * How one release ended, or where it stands (`remedy wait`, `remedy status --exit-status`):
 * judged for a given release id, so an older release's rolled-back phase is never taken for the
 * release a `pulumi up` just started (issue 36, 1). Pure: the CLI reads state and history.
 */
import { ABORT_REASON_PREFIX, type HistoryEntry, Phase, type ReleaseState, rollbackWindowEnd } from "./releaseState";

/** What `remedy wait` waits for: the promotion, or also the end of its rollback window. */
export type WaitUntil = "promoted" | "window-closed";

export type ReleaseOutcome =
  /** Still moving: `detail` says where. */
  | { readonly kind: "waiting"; readonly detail: string }
  /** Reached what was waited for. */
  | { readonly kind: "done"; readonly detail: string }
  /** Traffic went back to stable: an alarm, the health watch, or an operator's rollback or abort. */
  | { readonly kind: "rolled-back"; readonly detail: string }
  /** Cannot move without a person: a pause step, a failed pre-traffic check, manual weights, or a newer release. */
  | { readonly kind: "held"; readonly detail: string };

/** Exit codes of `remedy wait` and `remedy status --exit-status` (docs/cli.md). */
export const WAIT_EXIT = { done: 0, refused: 1, usage: 2, rolledBack: 3, held: 4, timedOut: 5 } as const;

/**
 * The outcome of release `releaseId` of `state`'s service at `nowMs`. `history` (the service's,
 * oldest first) is needed only once a newer release replaced it; without it that case is "held".
 */
export function releaseOutcome(state: ReleaseState, releaseId: string, until: WaitUntil, nowMs: number, history?: readonly HistoryEntry[]): ReleaseOutcome {
  const rb = state.lastRollback;
  // Rolled back, unless a drill's restore resumed that same release since.
  if (rb && rb.releaseId === releaseId && !rb.resumedAt) {
    const aborted = rb.reason.startsWith(ABORT_REASON_PREFIX);
    return { kind: "rolled-back", detail: `${aborted ? "aborted" : "rolled back"} at ${rb.at} by ${rb.by}: ${aborted ? rb.reason.slice(ABORT_REASON_PREFIX.length) : rb.reason} (${rb.fromVersion} -> ${rb.toVersion})` };
  }
  if (state.releaseId !== releaseId) {
    // A newer release took its place: how did this one end?
    const mine = (history ?? []).filter((h) => h.releaseId === releaseId);
    const promoted = mine.find((h) => h.action === "promote");
    if (promoted) return { kind: "done", detail: `promoted at ${promoted.at}; release ${state.releaseId ?? "?"} followed it` };
    return { kind: "held", detail: `replaced by release ${state.releaseId ?? "none"} before it was promoted (phase ${state.phase})` };
  }
  if (state.phase === Phase.Promoted) {
    const ends = rollbackWindowEnd(state);
    const at = state.promotedAt ?? "?";
    if (until === "promoted" || ends === null || nowMs >= Date.parse(ends)) return { kind: "done", detail: until === "promoted" ? `promoted at ${at}` : `promoted at ${at}; rollback window closed${ends ? ` at ${ends}` : ""}` };
    return { kind: "waiting", detail: `promoted at ${at}; rollback window open until ${ends}` };
  }
  if (state.phase !== Phase.Releasing || !state.candidate) return { kind: "held", detail: `phase ${state.phase}: nothing is releasing` };
  const p = state.progress;
  const share = `${state.candidate.version} (${state.candidate.slot}) at ${state.weights[state.candidate.slot]}%`;
  if (!p) return { kind: "held", detail: `${share} on manual weights: a person promotes it (stable: ${state.candidate.slot} in config)` };
  const pt = p.preTraffic;
  if (p.stepIndex < 0 && pt && !pt.passedAt && pt.attempts >= pt.maxAttempts) {
    return { kind: "held", detail: `pre-traffic check failed ${pt.attempts}/${pt.maxAttempts} (${pt.lastResult ?? "?"}); remedy promote ${state.service} runs it again` };
  }
  const step = p.stepIndex >= 0 ? p.strategy.steps[p.stepIndex] : undefined;
  if (step?.kind === "pause" && !p.promote) return { kind: "held", detail: `${share}, paused: ${step.reason}; remedy promote ${state.service} moves it on` };
  if (p.stepIndex < 0) return { kind: "waiting", detail: pt && !pt.passedAt ? `${share}: pre-traffic check next (${pt.attempts}/${pt.maxAttempts} failed so far)` : `${share}: starting` };
  if (p.stepIndex >= p.strategy.steps.length) return { kind: "waiting", detail: `${share}: baking` };
  return { kind: "waiting", detail: `${share}: step ${p.stepIndex + 1}/${p.strategy.steps.length}` };
}
