/**
 * `remedy drill`, server-side (issue 35, 4): the rollback function forces the candidate's
 * error-rate alarm to ALARM for the caller Lambda verified, the real path flips traffic (CloudWatch
 * invokes the function as for any alarm), and a restore puts the alarm back to OK and re-releases
 * the candidate at the weights it had. So an operator needs only the override URL and reads, never
 * `cloudwatch:SetAlarmState` (which would let them silence or fake any alarm) or table writes.
 * What the restore puts back is recorded in the table when the drill starts, never taken from the
 * request. The CLI's direct path (no override URL) runs the same code with the caller's credentials.
 */
import { type CloudWatchClient, SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import { alarmName } from "../../core/alarms";
import { Phase, applyEvent } from "../../core/releaseState";
import type { DrillRecord, ReleaseStore } from "./releaseStore";
import type { Traffic } from "./traffic";

/** A drill left unrestored (the CLI died) stops blocking the next one after this long. */
const DRILL_WINDOW_MS = 15 * 60_000;

export interface DrillDeps {
  readonly store: ReleaseStore;
  readonly traffic: Traffic;
  readonly cloudwatch: CloudWatchClient;
  readonly alarmPrefix: string;
}

export type DrillStart = { readonly outcome: "started"; readonly drill: DrillRecord } | { readonly outcome: "refused"; readonly reason: string };

/** Records the drill, then forces the alarm (of the live candidate, or with `allowStable` the stable slot's). */
export async function startDrill(deps: DrillDeps, service: string, by: string, allowStable: boolean, nowMs: number): Promise<DrillStart> {
  const state = await deps.store.get(service);
  if (!state) return { outcome: "refused", reason: `no release state for ${service}` };
  const live = state.phase === Phase.Releasing && state.candidate !== null && state.weights[state.candidate.slot] > 0;
  if (!live && !allowStable) {
    return { outcome: "refused", reason: `${service} has no candidate receiving traffic (phase ${state.phase}); --allow-stable drills the stable slot's alarm, which must not flip anything` };
  }
  const slot = live && state.candidate ? state.candidate.slot : state.stable.slot;
  const drill: DrillRecord = {
    alarm: alarmName(deps.alarmPrefix, service, slot, "error-rate"),
    slot,
    prior: await deps.traffic.currentWeights(state.routing),
    ...(live && state.candidate ? { candidate: { slot: state.candidate.slot, version: state.candidate.version, ...(state.candidate.image ? { image: state.candidate.image } : {}) } } : {}),
    by,
    startedAtMs: nowMs,
  };
  if (!(await deps.store.startDrill(service, drill, DRILL_WINDOW_MS))) return { outcome: "refused", reason: `a drill of ${service} is running (restore it first, or wait ${DRILL_WINDOW_MS / 60_000} min)` };
  await deps.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: drill.alarm, StateValue: "ALARM", StateReason: `remedy drill by ${by}: forced ALARM to rehearse the automatic rollback` }));
  return { outcome: "started", drill };
}

export type DrillRestore =
  | { readonly outcome: "restored"; readonly drill: DrillRecord; readonly releasedAgain: boolean; readonly weights?: { readonly blue: number; readonly green: number } }
  | { readonly outcome: "refused"; readonly reason: string };

/**
 * Ends the running drill: the alarm back to OK; if the function rolled the drilled candidate back
 * since the drill started, the candidate released again at its weight before, through checked routing.
 */
export async function restoreDrill(deps: DrillDeps, service: string, by: string, at: string): Promise<DrillRestore> {
  const drill = await deps.store.drill(service);
  if (!drill) return { outcome: "refused", reason: `no drill of ${service} is running` };
  await deps.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: drill.alarm, StateValue: "OK", StateReason: `remedy drill by ${drill.by}: restored by ${by}` }));
  const after = await deps.store.get(service);
  // Rolled back since the drill started (a second of clock skew between functions allowed), and
  // of the version drilled: anything else (a real rollback before, another release) is left alone.
  const rb = after?.lastRollback;
  const rolledBackByDrill = after?.phase === Phase.RolledBack && drill.candidate !== undefined && rb != null && Date.parse(rb.at) >= drill.startedAtMs - 1000 && rb.fromVersion === drill.candidate.version;
  let releasedAgain = false;
  let weights: { blue: number; green: number } | undefined;
  if (rolledBackByDrill && after && drill.candidate) {
    // The same release goes on (its id, steps and timing), not a new one (issue 36, 3).
    let s = after;
    const t = applyEvent(s, { type: "resume-after-drill", releaseId: rb.releaseId, weight: drill.prior[drill.candidate.slot], at, by: `${by} (drill restore)` });
    if (t.kind === "refused") return { outcome: "refused", reason: t.reason };
    if (t.kind === "applied") {
      await deps.store.commit(s.revision, t.state, t.entry);
      s = t.state;
    }
    const check = await deps.traffic.checkRouting(service, s.routing);
    if (!check.ok) return { outcome: "refused", reason: `the release was re-recorded but its rule was not put back: ${check.problem}` };
    await deps.traffic.setWeights(check.checked, drill.prior);
    releasedAgain = true;
    weights = drill.prior;
  }
  await deps.store.endDrill(service, drill.startedAtMs);
  return { outcome: "restored", drill, releasedAgain, ...(weights ? { weights } : {}) };
}
