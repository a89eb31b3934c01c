/**
 * `remedy drill` (docs/cli.md): forces a service's error-rate alarm and reports what the rollback
 * function did with it, then restores. Through the override URL the function forces and restores
 * with its own role (issue 35, 4); without one, the same code runs with the caller's credentials.
 */
import { type CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { otherSlot } from "../../core/slots";
import { restoreDrill, startDrill } from "../../lambdas/commons/drill";
import type { OverrideRequest } from "../../lambdas/commons/overrides";
import type { DrillRecord, ReleaseStore } from "../../lambdas/commons/releaseStore";
import { printable } from "../../lambdas/commons/text";
import type { Traffic } from "../../lambdas/commons/traffic";
import type { OverrideReply } from "./overrideClient";
import { type Io, OpsError, type OpsHooks } from "./opsTypes";

/**
 * Forces the drilled alarm, times the flip, restores: through the override URL (`send`: the
 * function forces and restores with its own role, issue 35, 4), else with the caller's
 * credentials (`by`), through the same code (lambdas/commons/drill.ts).
 */
export async function drill(
  service: string,
  o: { store: ReleaseStore; traffic: Traffic; cw: CloudWatchClient; prefix: string; timeoutS: number; allowStable: boolean; json: boolean; io: Io; hooks: OpsHooks; send?: (r: OverrideRequest) => Promise<OverrideReply>; by?: string },
): Promise<number> {
  const deps = { store: o.store, traffic: o.traffic, cloudwatch: o.cw, alarmPrefix: o.prefix };
  const by = o.by ?? "?";
  const refused = (reason: string) => {
    o.io.err(printable(`remedy drill: refused: ${reason}`));
    return 1;
  };
  let started: DrillRecord;
  if (o.send) {
    const reply = await o.send({ action: "drill", service, ...(o.allowStable ? { allowStable: true } : {}) });
    if (reply.status === 409) return refused(String(reply.body.reason ?? "?"));
    if (reply.status !== 200) throw new OpsError(`the override URL answered ${reply.status}: ${String(reply.body.error ?? reply.body.reason ?? "?")}`);
    started = reply.body.drill as DrillRecord;
  } else {
    const r = await startDrill(deps, service, by, o.allowStable, Date.now());
    if (r.outcome === "refused") return refused(r.reason);
    started = r.drill;
  }
  const { alarm: name, slot, prior } = started;
  const state = await o.store.get(service);
  if (!state) throw new OpsError(`no release state for ${service}`);
  const t0 = Date.now();
  const alarm = (await o.cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms?.[0];
  if (!alarm) throw new OpsError(`alarm ${name} not found; is ${service} deployed with automatic rollback?`);
  await o.hooks.afterAlarm?.(alarm);
  // A candidate's drill passes when traffic flips off it. A stable drill (no candidate to flip
  // to) passes when the function saw the alarm and left traffic alone (issue 36, 4): the alarm ->
  // function path works, and it does not act on the slot that serves everything.
  const stableDrill = started.candidate === undefined;
  let flippedAfter: number | undefined;
  let observedAfter: number | undefined;
  while (Date.now() - t0 < o.timeoutS * 1000) {
    const w = await o.traffic.currentWeights(state.routing);
    if (!stableDrill && w[slot] === 0 && prior[slot] > 0) {
      flippedAfter = (Date.now() - t0) / 1000;
      break;
    }
    if (stableDrill && w[slot] !== prior[slot]) break;
    if (stableDrill && (await o.store.drill(service))?.observedAtMs !== undefined) {
      observedAfter = (Date.now() - t0) / 1000;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // Restore: alarm back to OK; if the function rolled the candidate back, it is released again as it was.
  let restored = false;
  if (o.send) {
    const reply = await o.send({ action: "drill-restore", service });
    if (reply.status !== 200) throw new OpsError(`drill ${service}: restore refused (${reply.status}): ${String(reply.body.reason ?? reply.body.error ?? "?")}; run remedy drill again to restore, or remedy status`);
    restored = reply.body.releasedAgain === true;
  } else {
    const r = await restoreDrill(deps, service, by, new Date().toISOString());
    if (r.outcome === "refused") throw new OpsError(`drill ${service}: ${r.reason}`);
    restored = r.releasedAgain;
  }
  const passed = stableDrill ? observedAfter !== undefined : flippedAfter !== undefined;
  const result = { service, alarm: name, slot, stable: stableDrill, flipped: flippedAfter !== undefined, detectionToFlipSeconds: flippedAfter ?? null, observedSeconds: observedAfter ?? null, timeoutSeconds: o.timeoutS, restored, priorWeights: prior, otherSlot: otherSlot(slot) };
  if (o.json) o.io.out(JSON.stringify(result, null, 2));
  else if (stableDrill && passed) o.io.out(`drill ${service}: ${name} -> ALARM; the rollback function saw it after ${(observedAfter ?? 0).toFixed(1)} s and left ${slot} (stable, ${prior[slot]}%) alone; alarm restored`);
  else if (passed) o.io.out(`drill ${service}: ${name} -> ALARM; traffic flipped off ${slot} after ${(flippedAfter ?? 0).toFixed(1)} s; restored ${restored ? `blue/green ${prior.blue}/${prior.green}` : "alarm only"}`);
  else if (stableDrill) o.io.err(`remedy drill: FAILED: ${name} went to ALARM but the rollback function did not report seeing it within ${o.timeoutS} s, or traffic moved; check the alarm's actions and the function (its logs, errors alarm and dead-letter queue)`);
  else o.io.err(`remedy drill: FAILED: ${name} went to ALARM but traffic did not flip within ${o.timeoutS} s; check the rollback Lambda (its logs, errors alarm and dead-letter queue)`);
  return passed ? 0 : 1;
}
