/**
 * The schema of one service under `remedy:services`, and the types of a validated service.
 *
 * Why this file is long: it is one schema, field by field with each field's error text, beside
 * the types it produces; split, a field's rule and its type would no longer sit together.
 */
import { COLUMN_REF } from "../sqlNames";
import { z } from "zod";
import * as defaults from "../defaults";
import { isLabelValue } from "../image";
import { type NormalizedStrategy, type PreTrafficCheck } from "../progressive";
import { SLOTS, Slot } from "../slots";
import { type DeepReadonly, type Filled, aboveAtMost, arn, cidr, dnsLabel, ingressGroupName, int, quantity, required } from "./fields";
import { kindError } from "./errors";
import { type LegacyLaneSpec, legacyLaneSchema, legacyOverrideSchema } from "./legacyLane";

export const slotSchema = z.strictObject({
  image: z.string({ error: required('the container image, pinned to a tag or digest, e.g. "registry/app:1.4.2"') }),
  version: z
    .string({ error: required("a version label") })
    .refine(isLabelValue, {
      error: "must be a valid Kubernetes label value (max 63 chars of A-Z a-z 0-9 - _ ., alphanumeric at both ends)",
    })
    .optional(),
  replicas: int("the replica count of this slot", 0, 1000).optional(),
});

export const resourcesSchema = z.strictObject({
  requests: z
    .strictObject({ cpu: quantity("CPU request").optional(), memory: quantity("memory request").optional() })
    .optional(),
  limits: z
    .strictObject({ cpu: quantity("CPU limit").optional(), memory: quantity("memory limit").optional() })
    .optional(),
});

export const PATH_PATTERN = /^\/[A-Za-z0-9_\-.$/~"'@:+*?&=%]*$/;
export const HOST_PATTERN = /^(\*\.)?([a-zA-Z0-9*?-]+\.)*[a-zA-Z0-9*?-]+$/;

export const routingSchema = z.strictObject({
  hosts: z
    .array(
      z.string().regex(HOST_PATTERN, { error: 'must be a host name such as "api.example.com" (wildcards * and ? allowed)' }),
      { error: required("a list of host names") },
    )
    .optional(),
  paths: z
    .array(z.string().regex(PATH_PATTERN, { error: 'must be a path pattern starting with "/", such as "/payments/*"' }), {
      error: required("a list of path patterns"),
    })
    .optional(),
  priority: int(
    "the listener rule priority (unique per listener; lower is evaluated first)",
    1,
    defaults.MAX_RULE_PRIORITY,
  ),
});

export const alarmWindowShape = {
  periodSeconds: int("the alarm period in seconds, a multiple of 60 (ALB metrics are per minute)", 60, 86_400)
    .refine((n) => n % 60 === 0, { error: "must be a multiple of 60: ALB publishes target group metrics per minute" })
    .optional(),
  evaluationPeriods: int("the number of periods the alarm evaluates", 1, 100).optional(),
  datapointsToAlarm: int("the breaching periods (out of evaluationPeriods) that raise the alarm", 1, 100).optional(),
};

/** CloudWatch's standard statistics, and percentile-style extended statistics (p99, p99.9, tm90, ...). */
export const STATISTIC = /^(SampleCount|Average|Sum|Minimum|Maximum|(p|tm|wm|tc|ts)(\d{1,2}(\.\d{1,10})?|100))$/;

/** Dimension value placeholders of a custom alarm; one definition makes one alarm per slot. */
export const ALARM_PLACEHOLDERS = ["service", "slot", "version", "targetGroup", "loadBalancer", "otherSlot", "otherTargetGroup"] as const;
const PLACEHOLDER = /\{([^{}]*)\}/g;

const dimensionValue = z
  .string({ error: required("a dimension value (placeholders: {slot}, {version}, {targetGroup}, ...)") })
  .min(1, { error: "must not be empty" })
  .max(1024, { error: "must be at most 1024 characters (CloudWatch's limit on a dimension value)" })
  .superRefine((v, ctx) => {
    for (const m of v.matchAll(PLACEHOLDER)) {
      if (!(ALARM_PLACEHOLDERS as readonly string[]).includes(m[1])) {
        ctx.addIssue({ code: "custom", message: `unknown placeholder {${m[1]}}; use one of ${ALARM_PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}` });
      }
    }
  });

export const customMetricSchema = z.strictObject(
  {
    namespace: z
      .string({ error: required('the metric namespace, e.g. "Payments" or "AWS/ApplicationELB"') })
      .regex(/^[^:][\x20-\x7e]{0,254}$/, { error: "must be 1..255 printable ASCII characters, not starting with ':'" }),
    name: z.string({ error: required("the metric name") }).min(1).max(255, { error: "must be at most 255 characters" }),
    dimensions: z
      .record(z.string().min(1).max(255, { error: "a dimension name must be at most 255 characters" }), dimensionValue, { error: required("a map of dimension name to value") })
      .refine((d) => Object.keys(d).length <= 30, { error: "at most 30 dimensions (CloudWatch's limit)" })
      .optional(),
    statistic: z
      .string({ error: required("a statistic: Sum, Average, Minimum, Maximum, SampleCount, or a percentile such as p99") })
      .regex(STATISTIC, { error: "must be Sum, Average, Minimum, Maximum, SampleCount, or a percentile such as p99 or p99.9 (tm/wm/tc/ts too)" }),
  },
  { error: required("{ namespace, name, dimensions, statistic }") },
);

export const customAlarmSchema = z.strictObject(
  {
    name: dnsLabel("the alarm's name, unique in the service; the alarm is <prefix>/<service>/<slot>/custom-<name>", 40),
    description: z.string().max(400, { error: "must be at most 400 characters" }).optional(),
    metric: customMetricSchema.optional(),
    expression: z
      .string({ error: required("a CloudWatch metric math expression over the ids in `metrics`") })
      .min(1)
      .max(1024, { error: "must be at most 1024 characters" })
      .optional(),
    metrics: z
      .record(
        z.string().regex(/^[a-z][A-Za-z0-9_]{0,254}$/, { error: "a metric id must start with a lowercase letter and hold only letters, digits and '_' (CloudWatch's Id rule)" }),
        customMetricSchema,
        { error: required("a map of metric id to { namespace, name, dimensions, statistic }") },
      )
      .optional(),
    threshold: z.number({ error: required("the threshold the metric or expression is compared with") }).finite(),
    comparison: z.enum([">=", ">", "<=", "<"], { error: 'must be one of ">=", ">", "<=", "<" (metric first, threshold second)' }).optional(),
    periodSeconds: int("the period in seconds: 10, 20 or 30 for high-resolution metrics, else a multiple of 60", 10, 86_400)
      .refine((n) => n === 10 || n === 20 || n === 30 || n % 60 === 0, { error: "must be 10, 20, 30 or a multiple of 60 (CloudWatch's alarm periods)" })
      .optional(),
    evaluationPeriods: int("the number of periods the alarm evaluates", 1, 100).optional(),
    datapointsToAlarm: int("the breaching periods (out of evaluationPeriods) that raise the alarm", 1, 100).optional(),
    treatMissingData: z.enum(["notBreaching", "breaching", "ignore", "missing"], { error: "must be notBreaching, breaching, ignore or missing" }).optional(),
    action: z.enum(["rollback", "page"], { error: 'must be "rollback" (roll the candidate back and page) or "page" (page only)' }).optional(),
  },
  { error: required("a custom alarm { name, metric | expression + metrics, threshold, ... }") },
);

export const alarmsSchema = z.strictObject({
  errorRate: z
    .strictObject({
      thresholdPercent: aboveAtMost("the 5xx rate, in percent of requests, that rolls back (0 < x <= 100)", 0, 100, "must be above 0 and at most 100 (percent of requests)").optional(),
      minRequests: int("the requests a period needs before its 5xx rate counts", 1, 1_000_000).optional(),
      ...alarmWindowShape,
    })
    .optional(),
  latencyP99: z
    .strictObject({
      thresholdSeconds: z
        .number({ error: required("the p99 target response time, in seconds, that rolls back") })
        .gt(0, { error: "must be above 0 (seconds)" })
        .max(600, { error: "must be at most 600 (seconds)" })
        .optional(),
      ...alarmWindowShape,
    })
    .optional(),
  unhealthyHosts: z
    .strictObject({
      threshold: int("the unhealthy target count that rolls back", 1, 1000).optional(),
      ...alarmWindowShape,
    })
    .optional(),
  connectionErrors: z
    .strictObject({
      threshold: int("the failed connections from the ALB to the slot's pods, per period, that roll back", 1, 1_000_000).optional(),
      ...alarmWindowShape,
    })
    .optional(),
  relative: z
    .strictObject({
      errorRatePoints: aboveAtMost(
        "the percentage points by which the candidate's 5xx rate may exceed the stable slot's before it rolls back (0 < x <= 100)",
        0,
        100,
        "must be above 0 and at most 100 (percentage points above the stable slot's 5xx rate)",
      ).optional(),
      latencyRatio: aboveAtMost(
        "how many times the stable slot's p99 the candidate's p99 may reach before it rolls back (1 < x <= 100)",
        1,
        100,
        "must be above 1 and at most 100 (times the stable slot's p99; 1.5 = 50% slower)",
      ).optional(),
      latencyFloorSeconds: z
        .number({ error: required("the p99, in seconds, below which the candidate is never judged slow") })
        .min(0, { error: "must be 0..600 (seconds)" })
        .max(600, { error: "must be 0..600 (seconds)" })
        .optional(),
    })
    .optional(),
  custom: z.array(customAlarmSchema, { error: required("a list of custom alarms") }).max(20, { error: "at most 20 custom alarms per service (each makes one alarm per slot)" }).optional(),
  // A custom metric can be forged by whoever may put it: alone, its alarm never reverts a promoted release unless true.
  customRevertsPromotion: z.boolean({ error: "must be true or false" }).optional(),
});

export const keyRef = (what: string) =>
  z.strictObject(
    {
      name: z
        .string({ error: required(`the ${what}'s name`) })
        .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { error: `must be a Kubernetes ${what} name (lowercase DNS subdomain)` })
        .max(253),
      key: z.string({ error: required(`the key inside the ${what}`) }).regex(/^[-._a-zA-Z0-9]+$/, { error: "must be a key of letters, digits, '-', '_' or '.'" }),
    },
    { error: required(`{ name, key } of a ${what}`) },
  );

/** One environment value: plain text, or a reference the kubelet resolves (never stored in config). */
export const envValueSchema = z.union(
  [
    z.string(),
    z.strictObject({ secretKeyRef: keyRef("Secret") }),
    z.strictObject({ configMapKeyRef: keyRef("ConfigMap") }),
  ],
  { error: 'must be a string (quote numbers and booleans), { secretKeyRef: { name, key } } or { configMapKeyRef: { name, key } }' },
);

export const envSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be an environment variable name" }),
  envValueSchema,
  { error: required("a map of environment variable name to value or { secretKeyRef }") },
);

/**
 * Names that hold secrets by convention (incl. connection strings: DATABASE_URL, *_DSN, *_URI of
 * databases and brokers); a plaintext value for one is refused.
 */
export const SECRET_ENV_NAME = /(^|_)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|SECRET_?KEY|ACCESS_?KEY|CREDENTIALS?|DSN|CONNECTION_?STRING)$|^(DATABASE|DB|POSTGRES|PG|MYSQL|MONGO(DB)?|REDIS|AMQP|RABBITMQ|KAFKA_SASL)_(URL|URI)$/i;

/** A URL carrying a password (`scheme://user:password@host`), whatever the variable is called. */
export const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i;

export const serviceSchema = z.strictObject({
  name: dnsLabel("the service name", 50),
  namespace: dnsLabel("the Kubernetes namespace", 63).optional(),
  ingressGroup: ingressGroupName.optional(),
  port: int("the container port the service listens on", 1, 65535),
  healthPath: z
    .string({ error: required('the HTTP health check path, e.g. "/healthz"') })
    .regex(/^\/\S*$/, { error: 'must be an HTTP path starting with "/"' }),
  livenessPath: z
    .string()
    .regex(/^\/\S*$/, { error: 'must be an HTTP path starting with "/"' })
    .optional(),
  replicas: int("the replica count per slot", 0, 1000).optional(),
  resources: resourcesSchema.optional(),
  env: envSchema.optional(),
  routing: z.strictObject(routingSchema.shape, { error: required("the routing block { hosts?, paths?, priority }") }),
  image: z
    .string({ error: required('the version to run, as an image pinned to a tag or digest ("registry/app:1.5.0"), or a repository when version names the tag') })
    .optional(),
  version: z
    .string({ error: required("a version label") })
    .refine(isLabelValue, {
      error: "must be a valid Kubernetes label value (max 63 chars of A-Z a-z 0-9 - _ ., alphanumeric at both ends)",
    })
    .optional(),
  confirmRecordedImage: z.string({ error: required("the image release state records, as the refusal names it") }).min(1).optional(),
  stable: z.enum(SLOTS as [Slot, Slot], { error: required('the stable slot, "blue" or "green"') }).optional(),
  slots: z
    .strictObject(
      { blue: slotSchema.optional(), green: slotSchema.optional() },
      { error: required("the slots block { blue?: { image }, green?: { image } }") },
    )
    .optional(),
  candidate: z
    .strictObject({ weight: int("the percentage of traffic sent to the candidate slot", 0, 100) })
    .optional(),
  stickinessSeconds: int("target group stickiness duration in seconds (0 disables)", 0, 604800).optional(),
  allowRunAsRoot: z.boolean({ error: "must be true or false" }).optional(),
  strategy: z
    .discriminatedUnion(
      "kind",
      [
        z.strictObject({ kind: z.literal("manual") }),
        z.strictObject({ kind: z.literal("allAtOnce"), bakeMinutes: int("minutes at 100% before promotion", 0, 10_080).optional() }),
        z.strictObject({
          kind: z.literal("canary"),
          weight: int("the canary's percentage of traffic", 1, 99),
          minutes: int("minutes at the canary weight", 0, 10_080),
          bakeMinutes: int("minutes at 100% before promotion", 0, 10_080).optional(),
          pauseBeforeFull: z.boolean({ error: "must be true or false" }).optional(),
        }),
        z.strictObject({
          kind: z.literal("linear"),
          stepPercent: int("the percentage added each step", 1, 50),
          minutes: int("minutes per step", 1, 10_080),
          bakeMinutes: int("minutes at 100% before promotion", 0, 10_080).optional(),
        }),
        z.strictObject({
          kind: z.literal("steps"),
          steps: z
            .array(
              z.discriminatedUnion(
                "kind",
                [
                  z.strictObject({ kind: z.literal("weight"), weight: int("the step's percentage of traffic", 1, 100), minutes: int("minutes at this step", 0, 10_080) }),
                  z.strictObject({ kind: z.literal("pause"), reason: z.string({ error: required("why it pauses (shown until remedy promote)") }).min(1, { error: "must say why it pauses" }) }),
                ],
                { error: kindError({ weight: ["weight", "minutes"], pause: ["pause", "reason"] }, "{ kind: weight, weight: 1..100, minutes } or { kind: pause, reason }") },
              ),
              { error: required("the list of steps, e.g. [{ kind: weight, weight: 10, minutes: 5 }, { kind: pause, reason: check the dashboards }]") },
            )
            .min(1, { error: "name at least one step" }),
          bakeMinutes: int("minutes at 100% before promotion", 0, 10_080).optional(),
        }),
      ],
      {
        error: kindError(
          { manual: [], allAtOnce: ["bakeMinutes"], canary: ["weight", "minutes", "pauseBeforeFull"], linear: ["stepPercent", "minutes"], steps: ["steps"] },
          "{ kind: manual } | { kind: allAtOnce, bakeMinutes? } | { kind: canary, weight, minutes, bakeMinutes?, pauseBeforeFull? } | { kind: linear, stepPercent, minutes, bakeMinutes? } | { kind: steps, steps: [...], bakeMinutes? }",
        ),
      },
    )
    .optional(),
  testRoute: z
    .strictObject(
      {
        priority: int("the priority of the header-matched test rule (lower than routing.priority, so it is evaluated first)", 1, defaults.MAX_RULE_PRIORITY),
        header: z.string().regex(/^[A-Za-z0-9-]{1,40}$/, { error: "must be an HTTP header name (letters, digits, '-'; at most 40)" }).optional(),
        value: z
          .string()
          .regex(/^[A-Za-z0-9._-]{16,128}$/, {
            error: `must be a secret of ${defaults.MIN_TEST_ROUTE_SECRET_LENGTH} to 128 letters, digits and . _ - (e.g. openssl rand -hex 16), set with pulumi config set --secret --path`,
          })
          .optional(),
        sourceCidrs: z
          .array(cidr())
          .min(1, { error: "name at least one CIDR, or leave sourceCidrs out and set a secret value" })
          .optional(),
      },
      { error: required("the testRoute block { priority, value (a secret) and/or sourceCidrs, header? }") },
    )
    .optional(),
  preTraffic: z
    .strictObject(
      {
        http: z
          .strictObject(
            {
              url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL the release driver can reach, e.g. "https://api.example.com/orders/healthz"' }),
              expectStatus: int("the HTTP status the check expects (default any 2xx)", 100, 599).optional(),
            },
            { error: required("the http check { url, expectStatus? }") },
          )
          .optional(),
        lambda: z
          .strictObject({ functionArn: arn("lambda", "the hook function (it answers { status: Succeeded | Failed })") }, { error: required("the hook { functionArn }") })
          .optional(),
        timeoutSeconds: int("seconds one run of the check may take", 1, 30).optional(),
        attempts: int("failed runs after which the release is held", 1, 10).optional(),
      },
      { error: required("the preTraffic block { http: { url } } or { lambda: { functionArn } }") },
    )
    .optional(),
  deregistrationDelaySeconds: int("target group deregistration delay in seconds", 0, 3600).optional(),
  alarms: alarmsSchema.optional(),
  acknowledgeRollback: z
    .string({ error: required("the rolled-back candidate version to release again, as the rollback warning names it") })
    .min(1)
    .optional(),
  rollbackWindowMinutes: int("minutes a promoted-away version stays warm as the rollback target", 0, 43_200).optional(),
  database: z
    .strictObject(
      {
        uses: z.record(z.string(), z.array(z.string().regex(COLUMN_REF, { error: 'must be "table.column"' })), {
          error: required('a map of service version -> the "table.column"s it reads or writes'),
        }),
        writesNull: z
          .record(z.string(), z.array(z.string().regex(COLUMN_REF, { error: 'must be "table.column"' })), {
            error: required('a map of service version -> the "table.column"s it may write NULL to'),
          })
          .optional(),
      },
      { error: required("the database block { uses, writesNull? }") },
    )
    .optional(),
  legacy: z.array(legacyLaneSchema, { error: required("a list of legacy lanes (usually one)") }).optional(),
  legacyOverride: legacyOverrideSchema.optional(),
  api: z
    .strictObject(
      {
        schemas: z.record(z.string(), z.string({ error: required("the path of that version's GraphQL SDL") }), {
          error: required("a map of service version -> GraphQL SDL path"),
        }),
        operations: z.array(z.string(), { error: required("a list of operation files or directories") }).optional(),
        deprecatedRemoval: z.enum(["breaking", "dangerous"], { error: 'must be "breaking" or "dangerous"' }).optional(),
        fieldRetirements: z.string({ error: required("the path of a JSON file of deprecated fields' deletion dates") }).optional(),
        override: z
          .strictObject({
            version: z.string({ error: required("the candidate version the override is for") }),
            reason: z
              .string({ error: required("why the breaking change is acceptable (who was told, what versioning was considered)") })
              .min(10, { error: "must say why (at least 10 characters)" }),
          })
          .optional(),
      },
      { error: required("the api block { schemas, operations?, deprecatedRemoval?, fieldRetirements?, override? }") },
    )
    .optional(),
  hotfix: z
    .strictObject(
      {
        reason: z
          .string({ error: required("why this release skips the progressive steps (an incident id and a sentence)") })
          .min(10, { error: "must say why (at least 10 characters: an incident id and a sentence)" }),
        expires: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 time such as "2026-11-25T18:00:00Z"' }),
      },
      { error: required("the hotfix block { reason, expires }") },
    )
    .optional(),
});

/** A slot with its version derived (explicit `version`, else the image tag, else a digest prefix) and its replicas. */
export type SlotSpec = Filled<z.output<typeof slotSchema>>;

/** Requests (CPU and memory) and a memory limit are always set; a CPU limit only when configured. */
export type ResourceSpec = DeepReadonly<{
  requests: Filled<NonNullable<z.output<typeof resourcesSchema>["requests"]>>;
  limits: Filled<NonNullable<z.output<typeof resourcesSchema>["limits"]>, "memory">;
}>;

export type RoutingSpec = Filled<z.output<typeof routingSchema>>;

type RawAlarms = NonNullable<z.output<typeof alarmsSchema>>;

/** How long, and how many breaching periods, before an alarm fires. */
export type AlarmWindowSpec = Filled<{ [K in keyof typeof alarmWindowShape]: z.output<(typeof alarmWindowShape)[K]> }>;

type BuiltInAlarmKey = "errorRate" | "latencyP99" | "unhealthyHosts" | "connectionErrors";

/** One metric of a custom alarm; dimension values may hold placeholders. */
export interface CustomMetricSpec {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly statistic: string;
}

/** A custom alarm with defaults applied. */
export interface CustomAlarmSpec {
  readonly name: string;
  readonly description?: string;
  /** Exactly one of `metric` and (`expression` with `metrics`). */
  readonly metric?: CustomMetricSpec;
  readonly expression?: string;
  readonly metrics?: Readonly<Record<string, CustomMetricSpec>>;
  readonly threshold: number;
  readonly comparison: ">=" | ">" | "<=" | "<";
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: "notBreaching" | "breaching" | "ignore" | "missing";
  readonly action: "rollback" | "page";
}

/** Candidate-against-stable judgement, when configured. */
export type RelativeAlarmsSpec = DeepReadonly<Filled<NonNullable<RawAlarms["relative"]>, "latencyFloorSeconds">>;

/** The rollback alarms on each slot's target group, defaults applied. */
export type AlarmsSpec = { readonly [K in BuiltInAlarmKey]-?: Filled<NonNullable<RawAlarms[K]>> } & {
  readonly relative?: RelativeAlarmsSpec;
  readonly custom?: readonly CustomAlarmSpec[];
  /** Whether a custom alarm alone may revert a promoted release (default false: it pages). */
  readonly customRevertsPromotion?: boolean;
};

/** An environment value: plain text, or a Secret/ConfigMap key the kubelet resolves. */
export type EnvValue = DeepReadonly<z.output<typeof envValueSchema>>;

export interface ServiceSpec {
  readonly name: string;
  readonly namespace: string;
  /** The ingress group (ALB) the service's rule is on; default `DEFAULT_INGRESS_GROUP` ("default"). */
  readonly ingressGroup: string;
  readonly port: number;
  readonly healthPath: string;
  readonly livenessPath: string;
  readonly replicas: number;
  readonly resources: ResourceSpec;
  readonly env: Readonly<Record<string, EnvValue>>;
  readonly routing: RoutingSpec;
  readonly stable: Slot;
  /** A slot is absent when it has never been given an image. The stable slot is always present. */
  readonly slots: Readonly<Partial<Record<Slot, SlotSpec>>>;
  /**
   * Image mode (`image` [+ `version`] instead of `stable` + `slots`): the version the service
   * should run. `stable` and `slots` are provisional until {@link resolveDesiredReleases} has
   * read release state (`resolved: true`): the program refuses to build an unresolved one.
   */
  readonly desired?: {
    readonly image: string;
    readonly version: string;
    readonly resolved: boolean;
    /** Once resolved: whether the version is the live stable one or the candidate to release. */
    readonly role?: "stable" | "candidate";
    /**
     * An image release state records that this stack's last deployment did not run, which the
     * operator vouches for (`services[].confirmRecordedImage`).
     */
    readonly confirmRecordedImage?: string;
  };
  /** Percent of traffic to the non-stable slot, 0 when it has no image. */
  readonly candidateWeight: number;
  readonly stickinessSeconds: number;
  /** Let the slots' containers run as root (an image without a non-root USER). Default false: runAsNonRoot. */
  readonly allowRunAsRoot: boolean;
  /**
   * A rule that sends requests carrying `header: value` to the candidate slot only, whatever its
   * weight: test a candidate at 0% before it gets production traffic.
   */
  /**
   * The header-matched rule to the candidate. `value` is a secret (from Pulumi secret config),
   * or, with `sourceCidrs` (a source-IP condition), may be the default.
   */
  readonly testRoute?: { readonly priority: number; readonly header: string; readonly value: string; readonly sourceCidrs?: readonly string[] };
  /** Checked by the release driver before a progressive release's first step; a failure holds it. */
  readonly preTraffic?: { readonly check: PreTrafficCheck; readonly maxAttempts: number };
  /**
   * Progressive delivery: the release driver moves the candidate through these steps on its own
   * and promotes it. Absent for `strategy: manual` (the default): `candidate.weight` decides.
   */
  readonly strategy?: NormalizedStrategy;
  readonly deregistrationDelaySeconds: number;
  readonly alarms: AlarmsSpec;
  /** The rolled-back candidate version the operator acknowledges; lifts the hold on it. */
  readonly acknowledgeRollback?: string;
  readonly rollbackWindowMinutes: number;
  /** Hotfix release mode: straight to 100%, alarms armed, reason and expiry recorded. */
  readonly hotfix?: HotfixReleaseSpec;
  /** GraphQL compatibility gate between the stable and the candidate version. */
  readonly api?: ApiSpec;
  /** Old versions kept running beside the live one, each as a governed legacy lane (issue 37, 2). */
  readonly legacy: readonly LegacyLaneSpec[];
  /** Columns (`table.column`) each version reads or writes, for the migration gate. */
  readonly database?: DeepReadonly<NonNullable<RawService["database"]>>;
}

/** SDL path per service version, client operations, and an override that ships a breaking candidate (only the named version). */
export type ApiSpec = Filled<NonNullable<RawService["api"]>, "operations" | "deprecatedRemoval">;

/** Why, and until when (ISO-8601; after it the hotfix mode is refused). */
export type HotfixReleaseSpec = Filled<NonNullable<RawService["hotfix"]>>;

export type RawService = z.infer<typeof serviceSchema>;
/** The raw (input) shape of a service, as written in config or passed to the component. */
export type ServiceInput = z.input<typeof serviceSchema>;
