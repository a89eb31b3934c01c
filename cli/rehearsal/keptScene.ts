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
import { type CloudWatchClient, type MetricAlarm, paginateDescribeAlarms } from "@aws-sdk/client-cloudwatch";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { ReleaseState } from "../../core/releaseState";
import { deprecationMiddleware } from "../../samples/deprecation-headers/deprecationHeaders";
import type { createReleaseDriver } from "../../lambdas/commons/releaseDriver";
import type { ReleaseStore } from "../../lambdas/commons/releaseStore";

/** The images the scene releases. */
export const SCENE = {
  payments: "v2.3.6",
  orders: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v5.9.0",
  catalog: { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/catalog@sha256:9a7c5e3b1d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c", version: "2026.12.1" },
  /** payments' old v2.2.9 kept for callers of its /v1 API (issue 37). */
  lane: { version: "v2.2.9", image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:2b4d6f8a0c1e3a5c7e9b1d3f5a7c9e0b2d4f6a8c0e1a3c5e7a9b1d3f5e7c9a0b" },
} as const;

const DAY_MS = 86_400_000;
const dayFromNow = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);

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
  // A legacy lane: v2.2.9 for its /v1 callers, deprecated ten days ago, sunset in 80 days.
  by("payments").legacy = [
    {
      version: SCENE.lane.version,
      image: SCENE.lane.image,
      route: { pathPrefix: "/v1", stripPrefix: true },
      priority: 90,
      deprecatedAt: dayFromNow(-10),
      sunsetAt: dayFromNow(80),
      link: "https://docs.example.com/payments/v1-sunset",
      owner: "team-payments",
      reason: "partner checkouts on the v1 API cannot move before their next release",
      clients: ["acme-pos 3.2"],
    },
  ];
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
    for await (const page of paginateDescribeAlarms({ client: o.cw }, { AlarmNamePrefix: `${o.prefix}/`, StateValue: "ALARM" })) out.push(...(page.MetricAlarms ?? []));
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

/**
 * What a caller of the lane reads on every response (issue 37, 4): the lane's Deployment as
 * recorded (its pods' environment), served by the sample middleware (samples/deprecation-headers)
 * on a loopback HTTP server, asked once. The ALB's rule and prefix rewrite are not emulated.
 */
export async function laneHeaders(deployments: readonly { readonly name: string; readonly inputs: unknown }[]): Promise<Record<string, string>> {
  const d = deployments.find((x) => x.name === "payments-legacy");
  const env = Object.fromEntries(((d?.inputs as { spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } } })?.spec?.template?.spec?.containers?.[0]?.env ?? []).map((e) => [e.name, e.value ?? ""]));
  const mw = deprecationMiddleware(env);
  const server = http.createServer((req, res) => mw(req, res, () => res.end(`payments ${env.REMEDY_VERSION ?? "?"}`)));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as AddressInfo).port;
    const headers = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => http.get(`http://127.0.0.1:${port}/payments/1`, (res) => (res.resume(), resolve(res.headers))).on("error", reject));
    return Object.fromEntries(["deprecation", "sunset", "link"].flatMap((h) => (typeof headers[h] === "string" ? [[h, headers[h] as string]] : [])));
  } finally {
    await new Promise((r) => server.close(r));
  }
}
