/**
 * A service validated and normalised: every default applied, every version derived.
 */
import { createHash } from "node:crypto";
import * as defaults from "../defaults";
import { type NormalizedStrategy, type PreTrafficCheck, StrategyError, normalizeStrategy } from "../progressive";
import { SLOTS, Slot, otherSlot } from "../slots";
import { ConfigError, Issue, formatPath, toIssues } from "./errors";
import { DEFAULT_INGRESS_GROUP } from "./fields";
import { normaliseLegacyLanes } from "./legacyLane";
import { checkService, desiredImage, slotVersion } from "./serviceRules";
import { AlarmWindowSpec, AlarmsSpec, type CustomAlarmSpec, RawService, ServiceSpec, SlotSpec, serviceSchema } from "./serviceSchema";

export type RawAlarmWindow = { periodSeconds?: number; evaluationPeriods?: number; datapointsToAlarm?: number };

export function alarmWindow(a: RawAlarmWindow | undefined): AlarmWindowSpec {
  const evaluationPeriods = a?.evaluationPeriods ?? defaults.DEFAULT_ALARM_EVALUATION_PERIODS;
  return {
    periodSeconds: a?.periodSeconds ?? defaults.DEFAULT_ALARM_PERIOD_SECONDS,
    evaluationPeriods,
    datapointsToAlarm: a?.datapointsToAlarm ?? Math.min(defaults.DEFAULT_ALARM_DATAPOINTS_TO_ALARM, evaluationPeriods),
  };
}

export function normaliseAlarms(a: RawService["alarms"]): AlarmsSpec {
  return {
    errorRate: {
      ...alarmWindow(a?.errorRate),
      thresholdPercent: a?.errorRate?.thresholdPercent ?? defaults.DEFAULT_ERROR_RATE_THRESHOLD_PERCENT,
      minRequests: a?.errorRate?.minRequests ?? defaults.DEFAULT_ERROR_RATE_MIN_REQUESTS,
    },
    latencyP99: {
      ...alarmWindow(a?.latencyP99),
      thresholdSeconds: a?.latencyP99?.thresholdSeconds ?? defaults.DEFAULT_LATENCY_P99_THRESHOLD_SECONDS,
    },
    unhealthyHosts: {
      ...alarmWindow(a?.unhealthyHosts),
      threshold: a?.unhealthyHosts?.threshold ?? defaults.DEFAULT_UNHEALTHY_HOSTS_THRESHOLD,
    },
    connectionErrors: {
      ...alarmWindow(a?.connectionErrors),
      threshold: a?.connectionErrors?.threshold ?? defaults.DEFAULT_CONNECTION_ERRORS_THRESHOLD,
    },
    ...(a?.relative
      ? {
          relative: {
            ...(a.relative.errorRatePoints !== undefined ? { errorRatePoints: a.relative.errorRatePoints } : {}),
            ...(a.relative.latencyRatio !== undefined ? { latencyRatio: a.relative.latencyRatio } : {}),
            latencyFloorSeconds: a.relative.latencyFloorSeconds ?? defaults.DEFAULT_RELATIVE_LATENCY_FLOOR_SECONDS,
          },
        }
      : {}),
    ...(a?.custom?.length
      ? {
          custom: a.custom.map(
            (c): CustomAlarmSpec => ({
              name: c.name,
              ...(c.description !== undefined ? { description: c.description } : {}),
              ...(c.metric ? { metric: { ...c.metric, dimensions: c.metric.dimensions ?? {} } } : {}),
              ...(c.expression !== undefined ? { expression: c.expression } : {}),
              ...(c.metrics ? { metrics: Object.fromEntries(Object.entries(c.metrics).map(([id, m]) => [id, { ...m, dimensions: m.dimensions ?? {} }])) } : {}),
              threshold: c.threshold,
              comparison: c.comparison ?? ">=",
              ...alarmWindow(c),
              treatMissingData: c.treatMissingData ?? "notBreaching",
              action: c.action ?? "rollback",
            }),
          ),
        }
      : {}),
    ...(a?.customRevertsPromotion === true ? { customRevertsPromotion: true } : {}),
  };
}

export function normaliseStrategy(raw: NonNullable<RawService["strategy"]>): NormalizedStrategy {
  const bakeMinutes = "bakeMinutes" in raw && raw.bakeMinutes !== undefined ? raw.bakeMinutes : defaults.DEFAULT_BAKE_MINUTES;
  try {
    switch (raw.kind) {
      case "allAtOnce":
        return normalizeStrategy({ kind: "allAtOnce", bakeMinutes });
      case "canary":
        return normalizeStrategy({ kind: "canary", weight: raw.weight, minutes: raw.minutes, bakeMinutes, pauseBeforeFull: raw.pauseBeforeFull ?? false });
      case "linear":
        return normalizeStrategy({ kind: "linear", stepPercent: raw.stepPercent, minutes: raw.minutes, bakeMinutes });
      case "steps":
        return normalizeStrategy({ kind: "steps", steps: raw.steps, bakeMinutes });
      case "manual":
        throw new Error("internal: manual has no steps");
    }
  } catch (err) {
    if (err instanceof StrategyError) throw new Error(`internal: unchecked strategy: ${err.message}`);
    throw err;
  }
}

/** How a release record names the test route's secret value without holding it. */
export function testRouteValueSha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export function normalisePreTraffic(p: NonNullable<RawService["preTraffic"]>, route: RawService["testRoute"]): NonNullable<ServiceSpec["preTraffic"]> {
  const timeoutSeconds = p.timeoutSeconds ?? defaults.DEFAULT_PRE_TRAFFIC_TIMEOUT_SECONDS;
  const check: PreTrafficCheck = p.http
    ? {
        kind: "http",
        url: p.http.url,
        header: route?.header ?? defaults.DEFAULT_TEST_ROUTE_HEADER,
        valueSha256: testRouteValueSha256(route?.value ?? defaults.DEFAULT_TEST_ROUTE_VALUE),
        expectStatus: p.http.expectStatus === undefined ? [200, 299] : [p.http.expectStatus, p.http.expectStatus],
        timeoutSeconds,
      }
    : { kind: "lambda", functionArn: (p.lambda as { functionArn: string }).functionArn, timeoutSeconds };
  return { check, maxAttempts: p.attempts ?? defaults.DEFAULT_PRE_TRAFFIC_ATTEMPTS };
}

export function normaliseService(s: RawService): ServiceSpec {
  const replicas = s.replicas ?? defaults.DEFAULT_REPLICAS;
  const slots: Partial<Record<Slot, SlotSpec>> = {};
  let stable: Slot;
  let desired: ServiceSpec["desired"];
  if (s.image !== undefined) {
    // Image mode: provisional slots (as on a first deployment) until resolveDesiredReleases
    // reads release state and puts the version into the idle slot.
    const d = desiredImage({ image: s.image, version: s.version });
    if ("error" in d) throw new Error(`internal: normalising an unchecked image: ${d.error}`);
    desired = { ...d, resolved: false, ...(s.confirmRecordedImage ? { confirmRecordedImage: s.confirmRecordedImage } : {}) };
    stable = Slot.Blue;
    slots[stable] = { ...d, replicas };
  } else {
    if (s.stable === undefined || s.slots === undefined) throw new Error("internal: normalising a service without stable/slots");
    stable = s.stable;
    for (const slot of SLOTS) {
      const spec = s.slots[slot];
      if (spec === undefined) continue;
      const resolved = slotVersion(spec);
      if ("error" in resolved) throw new Error(`internal: normalising an unchecked slot: ${resolved.error}`);
      slots[slot] = { image: spec.image, version: resolved.version, replicas: spec.replicas ?? replicas };
    }
  }
  const strategy =
    s.hotfix !== undefined || s.strategy?.kind === "manual"
      ? undefined
      : s.strategy !== undefined
        ? normaliseStrategy(s.strategy)
        : desired !== undefined
          ? normaliseStrategy(defaults.DEFAULT_IMAGE_MODE_STRATEGY)
          : undefined;
  const memoryRequest = s.resources?.requests?.memory ?? defaults.DEFAULT_MEMORY_REQUEST;
  return {
    name: s.name,
    namespace: s.namespace ?? s.name,
    ingressGroup: s.ingressGroup ?? DEFAULT_INGRESS_GROUP,
    port: s.port,
    healthPath: s.healthPath,
    livenessPath: s.livenessPath ?? s.healthPath,
    replicas,
    resources: {
      requests: { cpu: s.resources?.requests?.cpu ?? defaults.DEFAULT_CPU_REQUEST, memory: memoryRequest },
      limits: { cpu: s.resources?.limits?.cpu, memory: s.resources?.limits?.memory ?? memoryRequest },
    },
    env: s.env ?? {},
    routing: { hosts: s.routing.hosts ?? [], paths: s.routing.paths ?? [], priority: s.routing.priority },
    stable,
    slots,
    ...(desired ? { desired } : {}),
    candidateWeight: slots[otherSlot(stable)] === undefined ? 0 : s.hotfix !== undefined ? 100 : (s.candidate?.weight ?? 0),
    stickinessSeconds: s.stickinessSeconds ?? 0,
    allowRunAsRoot: s.allowRunAsRoot ?? false,
    ...(strategy ? { strategy } : {}),
    ...(strategy && s.preTraffic ? { preTraffic: normalisePreTraffic(s.preTraffic, s.testRoute) } : {}),
    ...(s.testRoute === undefined
      ? {}
      : {
          testRoute: {
            priority: s.testRoute.priority,
            header: s.testRoute.header ?? defaults.DEFAULT_TEST_ROUTE_HEADER,
            value: s.testRoute.value ?? defaults.DEFAULT_TEST_ROUTE_VALUE,
            ...(s.testRoute.sourceCidrs ? { sourceCidrs: s.testRoute.sourceCidrs } : {}),
          },
        }),
    deregistrationDelaySeconds: s.deregistrationDelaySeconds ?? defaults.DEFAULT_DEREGISTRATION_DELAY_SECONDS,
    alarms: normaliseAlarms(s.alarms),
    legacy: normaliseLegacyLanes(s.legacy, replicas),
    ...(s.acknowledgeRollback === undefined ? {} : { acknowledgeRollback: s.acknowledgeRollback }),
    rollbackWindowMinutes: s.rollbackWindowMinutes ?? defaults.DEFAULT_ROLLBACK_WINDOW_MINUTES,
    ...(s.hotfix === undefined ? {} : { hotfix: { reason: s.hotfix.reason, expires: new Date(s.hotfix.expires).toISOString() } }),
    ...(s.database === undefined ? {} : { database: { uses: s.database.uses, ...(s.database.writesNull ? { writesNull: s.database.writesNull } : {}) } }),
    ...(s.api === undefined
      ? {}
      : {
          api: {
            schemas: s.api.schemas,
            operations: s.api.operations ?? [],
            deprecatedRemoval: s.api.deprecatedRemoval ?? "breaking",
            ...(s.api.fieldRetirements ? { fieldRetirements: s.api.fieldRetirements } : {}),
            ...(s.api.override ? { override: s.api.override } : {}),
          },
        }),
  };
}

/**
 * Validates and normalises one service, as the `BlueGreenService` component receives it.
 * @param root prefix for error paths, e.g. `args`.
 * @throws ConfigError naming each bad field under `root`.
 */
export function parseServiceSpec(raw: unknown, root = "service"): ServiceSpec {
  const result = serviceSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(toIssues(serviceSchema, result.error.issues, root), root);
  }
  const issues: Issue[] = [];
  checkService(result.data, [], issues);
  if (issues.length > 0) {
    throw new ConfigError(
      issues.map((i) => ({ path: formatPath(i.path, root), message: i.message })),
      root,
    );
  }
  return normaliseService(result.data);
}
