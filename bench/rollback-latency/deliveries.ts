/**
 * Repeatable alarm deliveries for the rollback benches: each run acknowledges the last rollback,
 * starts a fresh release at 10% on green, fires the alarm anew after it (the handler believes
 * CloudWatch's record of when the alarm fired) and delivers the alarm action's event.
 */
import type { MetricAlarm } from "@aws-sdk/client-cloudwatch";
import { applyEvent } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { alarmActionEvent, cwTimestamp } from "../../test/helpers/alarmEvents";
import { type World, moveRuleByHand } from "../../test/helpers/rollbackWorld";

type Handler = (event: ReturnType<typeof alarmActionEvent>) => Promise<{ outcome: string; results: readonly { flipMs?: number }[] }>;

export function alarmDeliveries(world: World, alarmName: string) {
  let release = 0;
  const routing = world.services.payments.routing;
  /** Untimed: a fresh release at 10%, and the alarm fired after it. */
  const freshRelease = async (): Promise<MetricAlarm> => {
    let s = await world.store.get("payments");
    if (!s) throw new Error("no state");
    for (const event of [
      { type: "acknowledge" as const, at: new Date(Date.now() - 2000).toISOString(), by: "bench" },
      { type: "start-release" as const, candidate: { slot: Slot.Green, version: `v3.${++release}` }, weight: 10, at: new Date(Date.now() - 1000).toISOString(), by: "bench" },
    ]) {
      const t = applyEvent(s, event);
      if (t.kind === "applied") {
        await world.store.commit(s.revision, t.state, t.entry);
        s = t.state;
      }
    }
    await moveRuleByHand(world.clients.elb, routing, s.weights);
    await world.setAlarm(alarmName, "OK");
    await new Promise((r) => setTimeout(r, 2));
    return world.setAlarm(alarmName, "ALARM");
  };
  /** One delivery: the handler's start -> flipped time (its own clock), and start -> done from outside. */
  const deliver = async (handler: Handler): Promise<{ flip: number; total: number }> => {
    const fired = await freshRelease();
    const event = alarmActionEvent(fired);
    event.alarmData.state.timestamp = cwTimestamp(new Date());
    const t = performance.now();
    const r = await handler(event);
    const total = performance.now() - t;
    const flip = r.results[0]?.flipMs;
    if (r.outcome !== "rolled-back" || flip === undefined) throw new Error(`run did not roll back: ${JSON.stringify(r)}`);
    return { flip, total };
  };
  return { freshRelease, deliver };
}
