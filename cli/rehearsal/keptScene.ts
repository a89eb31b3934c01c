/**
 * What `remedy rehearse --keep` leaves to operate (issue 36, 3): after the rehearsal, one more
 * `pulumi up` starts three releases the driver moves to where an operator can act on each:
 *
 * - payments v2.3.6 (image mode, canary with no wait) is promoted and inside its 60-minute
 *   rollback window: `remedy rollback payments` sends traffic back to v2.3.3;
 * - orders v5.9.0 (a canary that pauses before full) waits at 10% for `remedy promote orders`;
 * - catalog 2026.12.1 (its first release into green) runs at 10% for four hours: `remedy drill`,
 *   `rollback` and `abort` act on it.
 *
 * Then the keeper runs the two things AWS would run on its own and moto does not: the release
 * driver's schedule (a tick every second, on the wall clock) and CloudWatch's alarm actions (an
 * alarm entering ALARM whose actions name the rollback function invokes it with the alarm's
 * event), so `remedy wait`, `promote`, `drill` and `rollback` behave as on a real stack.
 */
import { type CloudWatchClient, DescribeAlarmsCommand, type MetricAlarm } from "@aws-sdk/client-cloudwatch";
import type { ReleaseState } from "../../core/releaseState";
import type { createReleaseDriver } from "../../lambdas/commons/releaseDriver";
import type { ReleaseStore } from "../../lambdas/commons/releaseStore";

/** The images the scene releases. */
export const SCENE = {
  payments: "v2.3.6",
  orders: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v5.9.0",
  catalog: { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/catalog@sha256:9a7c5e3b1d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c", version: "2026.12.1" },
} as const;

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The scene's config: `config` (the rehearsal's, payments already in image mode) with the three releases. */
export function sceneConfig(config: { services: Raw[] }, paymentsVersion: string = SCENE.payments): { services: Raw[] } {
  const by = (name: string) => {
    const s = config.services.find((x) => x.name === name);
    if (!s) throw new Error(`the rehearsal config has no service ${name}`);
    return s;
  };
  by("payments").version = paymentsVersion;
  by("payments").strategy = { kind: "canary", weight: 10, minutes: 0, bakeMinutes: 0 };
  const orders = by("orders");
  orders.slots.blue = { image: SCENE.orders };
  orders.strategy = { kind: "canary", weight: 10, minutes: 0, bakeMinutes: 0, pauseBeforeFull: true };
  const catalog = by("catalog");
  catalog.slots.green = { image: SCENE.catalog.image, version: SCENE.catalog.version };
  catalog.strategy = { kind: "canary", weight: 10, minutes: 240, bakeMinutes: 10 };
  return config;
}

/** Where each service must stand before the rehearsal is handed over; a message when it does not. */
export function sceneProblem(states: ReadonlyMap<string, ReleaseState | undefined>): string | undefined {
  const p = states.get("payments");
  const o = states.get("orders");
  const c = states.get("catalog");
  if (p?.phase !== "promoted" || p.stable.version !== SCENE.payments || !p.rollbackWindowEndsAt) return `payments: ${p?.phase ?? "no state"} ${p?.stable.version ?? ""}, expected ${SCENE.payments} promoted with a rollback window`;
  if (o?.phase !== "releasing" || o.progress?.strategy.steps[o.progress.stepIndex]?.kind !== "pause") return `orders: ${o?.phase ?? "no state"}, expected paused before full`;
  if (c?.phase !== "releasing" || c.weights.green !== 10) return `catalog: ${c?.phase ?? "no state"} at ${c?.weights.green ?? "?"}%, expected releasing at 10%`;
  return undefined;
}

/** Steps `live` (a few driver ticks) until the scene stands; what is still wrong after eight, else undefined. */
export async function untilSceneStands(live: Live & { states(): Promise<Map<string, ReleaseState | undefined>> }): Promise<string | undefined> {
  let problem: string | undefined = "not stepped";
  for (let i = 0; i < 8 && problem; i++) {
    await live.step();
    problem = sceneProblem(await live.states());
  }
  return problem;
}

export interface Live {
  /** One round of what AWS runs on its own: alarm actions, then the driver's tick. */
  step(): Promise<void>;
}

/**
 * CloudWatch's alarm actions and the driver's schedule, for the kept rehearsal. Alarms already in
 * ALARM when it starts are not acted on again (an action fires on the transition only).
 */
export async function liveStandIns(o: {
  cw: CloudWatchClient;
  prefix: string;
  functionArn: string;
  invoke: (alarm: string) => Promise<unknown>;
  driver: ReturnType<typeof createReleaseDriver>;
  store: ReleaseStore;
  services: readonly string[];
}): Promise<Live & { states(): Promise<Map<string, ReleaseState | undefined>> }> {
  const transitions = new Map<string, number>();
  const inAlarm = async (): Promise<MetricAlarm[]> => {
    const out: MetricAlarm[] = [];
    let token: string | undefined;
    do {
      const r = await o.cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: `${o.prefix}/`, StateValue: "ALARM", NextToken: token }));
      out.push(...(r.MetricAlarms ?? []));
      token = r.NextToken;
    } while (token);
    return out;
  };
  for (const a of await inAlarm()) transitions.set(a.AlarmName ?? "", a.StateUpdatedTimestamp?.getTime() ?? 0);
  return {
    async step() {
      for (const a of await inAlarm()) {
        const name = a.AlarmName ?? "";
        const at = a.StateUpdatedTimestamp?.getTime() ?? 0;
        if (transitions.get(name) === at) continue;
        transitions.set(name, at);
        if ((a.AlarmActions ?? []).includes(o.functionArn)) await o.invoke(name);
      }
      await o.driver.tick();
    },
    async states() {
      return new Map(await Promise.all(o.services.map(async (s) => [s, await o.store.get(s)] as const)));
    },
  };
}
