/**
 * Stack configuration schema: what a user writes under `remedy:*` in `Pulumi.<stack>.yaml`,
 * validated before any resource is registered. Every error names the key path, what was wrong,
 * the value found and how to fix it, e.g.
 * `services[2].candidate.weight: must be an integer 0..100, got 140`.
 */
import { COLUMN_REF } from "./migrations";
import { z } from "zod";
import * as defaults from "./defaults";
import { parseCidr, publicCidrs } from "./cidr";
import { isLabelValue, parseImageRef, versionFromImage } from "./image";
import { type NormalizedStrategy, type PreTrafficCheck, StrategyError, normalizeStrategy } from "./progressive";
import { SLOTS, Slot, otherSlot } from "./slots";

/** One configuration problem, with the key path in `services[2].candidate.weight` form. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** Thrown when configuration is invalid; `issues` lists every problem, not just the first. */
export class ConfigError extends Error {
  constructor(
    public readonly issues: readonly ConfigIssue[],
    source: string,
  ) {
    super(
      `invalid ${source} (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${i.path}: ${i.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

// ---------------------------------------------------------------------------------------------
// Field helpers: each gives the user a message that says what the key is for.

function required(what: string) {
  return (iss: { input?: unknown }) =>
    iss.input === undefined ? `required: ${what}` : `must be ${what}`;
}

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const dnsLabel = (what: string, max: number) =>
  z
    .string({ error: required(`${what} (lowercase DNS label)`) })
    .max(max, { error: `must be at most ${max} characters` })
    .regex(DNS_LABEL, {
      error: "must be a lowercase DNS label: a-z, 0-9 and '-', starting with a letter, not ending with '-'",
    });

/** An IPv4 or IPv6 CIDR (see `core/cidr.ts`). */
const cidr = () => z.string().refine((c) => parseCidr(c) !== undefined, { error: 'must be an IPv4 or IPv6 CIDR such as "10.0.0.0/8" or "fd00::/8"' });

const int = (what: string, min: number, max: number) =>
  z
    .number({ error: required(`${what}, an integer ${min}..${max}`) })
    .int({ error: `must be an integer ${min}..${max}` })
    .min(min, { error: `must be an integer ${min}..${max}` })
    .max(max, { error: `must be an integer ${min}..${max}` });

const QUANTITY = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const quantity = (what: string) =>
  z
    .string({ error: required(`${what}, a Kubernetes quantity such as "250m" or "512Mi"`) })
    .regex(QUANTITY, { error: `must be a Kubernetes quantity such as "250m" or "512Mi"` });

const arn = (service: string, what: string) =>
  z
    .string({ error: required(what) })
    .regex(new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:.+$`), {
      error: `must be an ARN of ${what} (arn:aws:${service}:<region>:<account>:...)`,
    });

// ---------------------------------------------------------------------------------------------
// Schema

const slotSchema = z.strictObject({
  image: z.string({ error: required('the container image, pinned to a tag or digest, e.g. "registry/app:1.4.2"') }),
  version: z
    .string({ error: required("a version label") })
    .refine(isLabelValue, {
      error: "must be a valid Kubernetes label value (max 63 chars of A-Z a-z 0-9 - _ ., alphanumeric at both ends)",
    })
    .optional(),
  replicas: int("the replica count of this slot", 0, 1000).optional(),
});

const resourcesSchema = z.strictObject({
  requests: z
    .strictObject({ cpu: quantity("CPU request").optional(), memory: quantity("memory request").optional() })
    .optional(),
  limits: z
    .strictObject({ cpu: quantity("CPU limit").optional(), memory: quantity("memory limit").optional() })
    .optional(),
});

const PATH_PATTERN = /^\/[A-Za-z0-9_\-.$/~"'@:+*?&=%]*$/;
const HOST_PATTERN = /^(\*\.)?([a-zA-Z0-9*?-]+\.)*[a-zA-Z0-9*?-]+$/;

const routingSchema = z.strictObject({
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

const alarmWindowShape = {
  periodSeconds: int("the alarm period in seconds, a multiple of 60 (ALB metrics are per minute)", 60, 86_400)
    .refine((n) => n % 60 === 0, { error: "must be a multiple of 60: ALB publishes target group metrics per minute" })
    .optional(),
  evaluationPeriods: int("the number of periods the alarm evaluates", 1, 100).optional(),
  datapointsToAlarm: int("the breaching periods (out of evaluationPeriods) that raise the alarm", 1, 100).optional(),
};

const alarmsSchema = z.strictObject({
  errorRate: z
    .strictObject({
      thresholdPercent: z
        .number({ error: required("the 5xx rate, in percent of requests, that rolls back (0 < x <= 100)") })
        .gt(0, { error: "must be above 0 and at most 100 (percent of requests)" })
        .max(100, { error: "must be above 0 and at most 100 (percent of requests)" })
        .optional(),
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
});

const keyRef = (what: string) =>
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
const envValueSchema = z.union(
  [
    z.string(),
    z.strictObject({ secretKeyRef: keyRef("Secret") }),
    z.strictObject({ configMapKeyRef: keyRef("ConfigMap") }),
  ],
  { error: 'must be a string (quote numbers and booleans), { secretKeyRef: { name, key } } or { configMapKeyRef: { name, key } }' },
);

const envSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be an environment variable name" }),
  envValueSchema,
  { error: required("a map of environment variable name to value or { secretKeyRef }") },
);

/**
 * Names that hold secrets by convention (incl. connection strings: DATABASE_URL, *_DSN, *_URI of
 * databases and brokers); a plaintext value for one is refused.
 */
const SECRET_ENV_NAME = /(^|_)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|SECRET_?KEY|ACCESS_?KEY|CREDENTIALS?|DSN|CONNECTION_?STRING)$|^(DATABASE|DB|POSTGRES|PG|MYSQL|MONGO(DB)?|REDIS|AMQP|RABBITMQ|KAFKA_SASL)_(URL|URI)$/i;

/** A URL carrying a password (`scheme://user:password@host`), whatever the variable is called. */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i;

/** Name of the group the top-level `ingress` settings describe (the stack's first ALB). */
export const DEFAULT_INGRESS_GROUP = "default";

/**
 * Longest ingress group name: its ALB is auto-named `remedy-<group>` plus 8 random characters,
 * and AWS allows 32 characters in a load balancer name.
 */
export const MAX_INGRESS_GROUP_CHARS = 32 - "remedy-".length - 8;

const ingressGroupName = z
  .string()
  .regex(new RegExp(`^[a-z][a-z0-9-]{0,${MAX_INGRESS_GROUP_CHARS - 1}}$`), {
    error: `must be 1..${MAX_INGRESS_GROUP_CHARS} of a-z 0-9 - starting with a letter (the group's ALB is named remedy-<group> plus 8 random characters, and AWS allows 32)`,
  });

const serviceSchema = z.strictObject({
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
              z.union([
                z.strictObject({ kind: z.literal("weight"), weight: int("the step's percentage of traffic", 1, 100), minutes: int("minutes at this step", 0, 10_080) }),
                z.strictObject({ kind: z.literal("pause"), reason: z.string().min(1) }),
              ]),
              { error: required("the list of steps") },
            )
            .min(1),
          bakeMinutes: int("minutes at 100% before promotion", 0, 10_080).optional(),
        }),
      ],
      { error: 'must be { kind: "manual" | "allAtOnce" | "canary" | "linear", ... }' },
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
  api: z
    .strictObject(
      {
        schemas: z.record(z.string(), z.string({ error: required("the path of that version's GraphQL SDL") }), {
          error: required("a map of service version -> GraphQL SDL path"),
        }),
        operations: z.array(z.string(), { error: required("a list of operation files or directories") }).optional(),
        deprecatedRemoval: z.enum(["breaking", "dangerous"], { error: 'must be "breaking" or "dangerous"' }).optional(),
        override: z
          .strictObject({
            version: z.string({ error: required("the candidate version the override is for") }),
            reason: z
              .string({ error: required("why the breaking change is acceptable (who was told, what versioning was considered)") })
              .min(10, { error: "must say why (at least 10 characters)" }),
          })
          .optional(),
      },
      { error: required("the api block { schemas, operations?, deprecatedRemoval?, override? }") },
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

/** The ALB settings a group may set (all optional: a remedy-created group inherits the stack's). */
const albSettings = {
  subnetIds: z
    .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { error: 'must be a subnet id such as "subnet-0a1b2c3d"' }), {
      error: required("a list of subnet ids"),
    })
    .optional(),
  certificateArn: arn("acm", "an ACM certificate").optional(),
  additionalCertificateArns: z.array(arn("acm", "an ACM certificate")).optional(),
  internal: z.boolean({ error: "must be true or false" }).optional(),
  allowedCidrs: z
    .array(cidr())
    .optional(),
  idleTimeoutSeconds: int("the ALB idle timeout in seconds", 1, 4000).optional(),
  deletionProtection: z.boolean({ error: "must be true or false" }).optional(),
  allowPlainHttp: z.boolean({ error: "must be true or false" }).optional(),
  listenerArn: arn("elasticloadbalancing", "an existing ALB listener")
    .regex(/:listener\/app\/[^/]+\/[^/]+\/[^/]+$/, {
      error: "must be an Application Load Balancer listener ARN (...:listener/app/<alb-name>/<alb-id>/<listener-id>)",
    })
    .optional(),
  securityGroupId: z
    .string()
    .regex(/^sg-[0-9a-f]{8,17}$/, { error: 'must be a security group id such as "sg-0a1b2c3d"' })
    .optional(),
};

const ingressSchema = z.strictObject({
  vpcId: z
    .string({ error: required('the VPC id of the EKS cluster, e.g. "vpc-0abc..."') })
    .regex(/^vpc-[0-9a-f]{8,17}$/, { error: 'must be a VPC id such as "vpc-0a1b2c3d4e5f67890"' }),
  ...albSettings,
  /**
   * More ALBs: services name one with `ingressGroup`. Each group is an ALB of its own (listeners,
   * security group, DNS name); a remedy-created group inherits every setting above it does not set.
   */
  groups: z
    .record(z.string(), z.strictObject(albSettings, { error: required("the group's ALB settings (an empty map {} inherits them all)") }), {
      error: required("a map of group name to ALB settings"),
    })
    .optional(),
});

const kubernetesSchema = z.strictObject(
  {
    cluster: z
      .string({ error: required('the EKS cluster this stack deploys to, e.g. "prod-eks" (remedy never uses the current kubeconfig context)') })
      .regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, { error: "must be an EKS cluster name (1..100 of A-Z a-z 0-9 _ -, starting alphanumeric)" }),
    context: z
      .string({ error: required("a kubeconfig context name") })
      .min(1)
      .optional(),
    driverAccess: z.boolean({ error: "must be true or false" }).optional(),
    driverVpc: z
      .strictObject({
        subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { error: 'must be a subnet id such as "subnet-0a1b2c3d"' })).min(1, { error: "name at least one subnet" }),
        securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, { error: 'must be a security group id such as "sg-0a1b2c3d"' })).min(1, { error: "name at least one security group" }),
      })
      .optional(),
  },
  { error: required("the kubernetes block { cluster, context?, driverAccess?, driverVpc? }") },
);

const STACK_REF = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+){0,2}$/;
const stackRef = (what: string) =>
  z.string({ error: required(what) }).regex(STACK_REF, { error: 'must be a stack name such as "acme/remedy/prod" (organization/project/stack)' });

const migrationPhase = z.enum(["expand", "backfill", "contract"], { error: 'must be "expand", "backfill" or "contract"' });
const databaseSchema = z.strictObject({
  plans: z.string({ error: required("the directory of migration plans") }).optional(),
  applied: z.array(z.string().regex(/^[^:]+:(expand|backfill|contract)$/, { error: 'must be "<plan-id>:<phase>"' })).optional(),
  run: z.strictObject({ plan: z.string({ error: required("the plan id") }), phase: migrationPhase }).optional(),
  job: z
    .strictObject({
      image: z.string({ error: required("the image that runs `remedy migrate`, pinned to a tag or digest") }),
      command: z.array(z.string()).optional(),
      checkCommand: z.array(z.string()).optional(),
      namespace: dnsLabel("the namespace of the migration Job", 63),
      databaseUrlSecret: z.strictObject({ name: dnsLabel("the Secret holding DATABASE_URL", 253), key: z.string().min(1) }),
      allowRunAsRoot: z.boolean({ error: "must be true or false" }).optional(),
      checkDatabaseUrlSecret: z
        .strictObject({ name: dnsLabel("the Secret holding the read-only DATABASE_URL of the schema check", 253), key: z.string().min(1) }, {
          error: required("the Secret { name, key } with a read-only DATABASE_URL for the schema check every app pod runs (GRANT CONNECT, USAGE ON SCHEMA public, SELECT ON remedy_migrations)"),
        })
        .optional(),
    })
    .optional(),
});

const stackSchema = z.strictObject({
  kubernetes: kubernetesSchema,
  database: databaseSchema.optional(),
  hotfixStack: stackRef("the hotfix stack whose tested images prod may ship, e.g. \"acme/remedy/hotfix\"").optional(),
  ingress: z.strictObject(ingressSchema.shape, {
    error: required("the ingress block (vpcId plus subnetIds, or an existing listenerArn + securityGroupId)"),
  }),
  createNamespaces: z.boolean({ error: "must be true or false" }).optional(),
  quotas: z
    .strictObject({
      rulesPerLoadBalancer: int("the account's raised quota of rules per Application Load Balancer", 100, 1000).optional(),
      loadBalancersPerRegion: int("the account's raised quota of Application Load Balancers per region", 50, 1000).optional(),
      targetGroupsPerRegion: int("the account's raised quota of target groups per region", 3000, 100_000).optional(),
      securityGroupRules: int("the account's raised quota of inbound rules per security group", 60, 1000).optional(),
    })
    .optional(),
  rollback: z
    .strictObject({
      notificationEmails: z
        .array(z.string().regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, { error: 'must be an email address such as "oncall@example.com"' }), {
          error: required("a list of email addresses"),
        })
        .optional(),
      tableDeletionProtection: z.boolean({ error: "must be true or false" }).optional(),
      operatorRoleArns: z
        .array(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, { error: 'must be an IAM role ARN such as "arn:aws:iam::123456789012:role/oncall"' }))
        .optional(),
      permissionsBoundaryArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::(\d{12}|aws):policy\/[\w+=,.@/-]+$/, { error: 'must be an IAM policy ARN such as "arn:aws:iam::123456789012:policy/remedy-boundary"' })
        .optional(),
      logRetentionDays: int("the days the rollback Lambda's logs are kept", 1, 3653)
        .refine((d) => defaults.LOG_RETENTION_DAYS_ALLOWED.includes(d), {
          error: `must be a retention CloudWatch Logs accepts: ${defaults.LOG_RETENTION_DAYS_ALLOWED.join(", ")}`,
        })
        .optional(),
    })
    .optional(),
  services: z
    .array(serviceSchema, { error: required("a list of services") })
    .min(1, { error: "must list at least one service" }),
});

// ---------------------------------------------------------------------------------------------
// Parsed (normalised) types: every default applied, every version derived.

export interface SlotSpec {
  readonly image: string;
  /** Label-safe version: explicit `version`, else the image tag, else a digest prefix. */
  readonly version: string;
  readonly replicas: number;
}

export interface ResourceSpec {
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly cpu?: string; readonly memory: string };
}

export interface RoutingSpec {
  readonly hosts: readonly string[];
  readonly paths: readonly string[];
  readonly priority: number;
}

/** How long, and how many breaching periods, before an alarm fires. */
export interface AlarmWindowSpec {
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
}

/** The rollback alarms on each slot's target group, defaults applied. */
export interface AlarmsSpec {
  readonly errorRate: AlarmWindowSpec & { readonly thresholdPercent: number; readonly minRequests: number };
  readonly latencyP99: AlarmWindowSpec & { readonly thresholdSeconds: number };
  readonly unhealthyHosts: AlarmWindowSpec & { readonly threshold: number };
  readonly connectionErrors: AlarmWindowSpec & { readonly threshold: number };
}

/** An environment value: plain text, or a Secret/ConfigMap key the kubelet resolves. */
export type EnvValue =
  | string
  | { readonly secretKeyRef: { readonly name: string; readonly key: string } }
  | { readonly configMapKeyRef: { readonly name: string; readonly key: string } };

export interface ServiceSpec {
  readonly name: string;
  readonly namespace: string;
  /** The ingress group (ALB) the service's rule is on; default {@link DEFAULT_INGRESS_GROUP}. */
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
  /** Columns (`table.column`) each version reads or writes, for the migration gate. */
  readonly database?: {
    readonly uses: Readonly<Record<string, readonly string[]>>;
    /** Columns each version may write NULL to: a NOT NULL contract is refused while such a version may run. */
    readonly writesNull?: Readonly<Record<string, readonly string[]>>;
  };
}

export interface ApiSpec {
  /** SDL path per service version. */
  readonly schemas: Readonly<Record<string, string>>;
  readonly operations: readonly string[];
  readonly deprecatedRemoval: "breaking" | "dangerous";
  /** Ships a breaking candidate anyway; only for the named version. */
  readonly override?: { readonly version: string; readonly reason: string };
}

export interface HotfixReleaseSpec {
  readonly reason: string;
  /** ISO-8601; after it the hotfix mode is refused. */
  readonly expires: string;
}

export type IngressSpec =
  | {
      readonly mode: "create";
      readonly vpcId: string;
      readonly subnetIds: readonly string[];
      readonly certificateArn?: string;
      /** More certificates on the HTTPS listener (SNI), besides `certificateArn`. */
      readonly additionalCertificateArns: readonly string[];
      readonly internal: boolean;
      readonly allowedCidrs: readonly string[];
      readonly idleTimeoutSeconds: number;
      readonly deletionProtection: boolean;
      /** Plain HTTP with no certificate, explicitly allowed. */
      readonly allowPlainHttp: boolean;
    }
  | {
      readonly mode: "existing";
      readonly vpcId: string;
      readonly listenerArn: string;
      readonly securityGroupId: string;
    };

/** Stack-wide automatic rollback settings. */
export interface RollbackSpec {
  readonly notificationEmails: readonly string[];
  readonly tableDeletionProtection: boolean;
  /**
   * Roles operators run `remedy rollback/promote/abort` with: the only identities besides the
   * stack's own roles and its CloudWatch alarms that may publish to the notification topic.
   */
  readonly operatorRoleArns: readonly string[];
  /** Permissions boundary for every role the stack creates (the rollback Lambda's, the release driver's). */
  readonly permissionsBoundaryArn?: string;
  readonly logRetentionDays: number;
}

export interface DatabaseSpec {
  readonly plans: string;
  readonly applied: readonly string[];
  readonly run?: { readonly plan: string; readonly phase: "expand" | "backfill" | "contract" };
  readonly job?: {
    readonly image: string;
    readonly command: readonly string[];
    /** The schema gate each new version's pods run first (init container); `--uses <columns>` is appended. */
    readonly checkCommand: readonly string[];
    readonly namespace: string;
    readonly databaseUrlSecret: { readonly name: string; readonly key: string };
    /**
     * The read-only credential of the schema check in every app pod (CONNECT, USAGE on the
     * schema, SELECT on the ledger): the DDL-capable `databaseUrlSecret` stays in the Job.
     */
    readonly checkDatabaseUrlSecret: { readonly name: string; readonly key: string };
    /** Let the Job run as root. Default false. */
    readonly allowRunAsRoot?: boolean;
  };
}

/** The cluster the stack deploys to, always named: remedy never uses the current kubeconfig context. */
export interface KubernetesSpec {
  /** EKS cluster name. */
  readonly cluster: string;
  /** A kubeconfig context to use instead of a kubeconfig generated for `cluster`; must name it. */
  readonly context?: string;
  /**
   * Whether the release driver gets an EKS access entry (and RBAC on the progressive services'
   * Deployments) to scale a promoted-away slot to 0 when its rollback window ends. Default true;
   * false where the cluster does not allow access entries: `pulumi up` then scales it down.
   */
  readonly driverAccess: boolean;
  /**
   * Subnets and security groups the release driver Lambda runs in: needed to reach a private (or
   * CIDR-restricted) EKS endpoint and internal pre-traffic URLs. Default: outside any VPC.
   */
  readonly driverVpc?: { readonly subnetIds: readonly string[]; readonly securityGroupIds: readonly string[] };
}

export interface StackConfig {
  readonly kubernetes: KubernetesSpec;
  /** Expand/contract migrations: the phase this deployment runs, and the gate's inputs. */
  readonly database?: DatabaseSpec;
  /** Stack reference of the hotfix stack (prod only; required when a service is in hotfix mode). */
  readonly hotfixStack?: string;
  /** The default group's ALB (the top-level `ingress` settings). */
  readonly ingress: IngressSpec;
  /**
   * Every ALB of the stack by group name, {@link DEFAULT_INGRESS_GROUP} (= `ingress`) included;
   * a service is on the one its `ingressGroup` names.
   */
  readonly ingressGroups: Readonly<Record<string, IngressSpec>>;
  readonly createNamespaces: boolean;
  /** AWS quotas the account has had raised (the adjustable ones); default AWS's defaults. */
  readonly quotas: QuotaOverrides;
  readonly rollback: RollbackSpec;
  readonly services: readonly ServiceSpec[];
}

/** Raised AWS quotas of the account, checked at preview instead of AWS's defaults. */
export interface QuotaOverrides {
  readonly rulesPerLoadBalancer?: number;
  readonly loadBalancersPerRegion?: number;
  readonly targetGroupsPerRegion?: number;
  readonly securityGroupRules?: number;
}

type RawService = z.infer<typeof serviceSchema>;
type RawStack = z.infer<typeof stackSchema>;

// ---------------------------------------------------------------------------------------------
// Cross-field rules: run once the shape is valid.

/** Ingress settings that configure a remedy-created ALB, so they exclude adopting a `listenerArn`. */
export const ALB_ONLY_INGRESS_KEYS = [
  "subnetIds",
  "certificateArn",
  "internal",
  "allowedCidrs",
  "idleTimeoutSeconds",
  "deletionProtection",
  "allowPlainHttp",
] as const;

type Path = (string | number)[];

/**
 * The version a slot runs: its explicit `version`, else one derived from the pinned image.
 * On failure, names the key to fix (`image` or `version`) and says why.
 */
function slotVersion(spec: { image: string; version?: string }): { version: string } | { key: "image" | "version"; error: string } {
  const ref = parseImageRef(spec.image);
  if (typeof ref === "string") return { key: "image", error: `${ref}, got ${JSON.stringify(spec.image)}` };
  const v = versionFromImage(ref);
  if (typeof v !== "string") return { key: "image", error: `${v.error}, got ${JSON.stringify(spec.image)}` };
  if (spec.version !== undefined) return { version: spec.version };
  if (!isLabelValue(v)) {
    return {
      key: "version",
      error: `required: the image tag "${v}" is not a valid Kubernetes label value; set an explicit version (max 63 chars of A-Z a-z 0-9 - _ .)`,
    };
  }
  return { version: v };
}

/**
 * The version a service asks for in image mode (`image`, optional `version`): a pinned image, or
 * a repository whose tag `version` names (so a release is a one-line `version` bump).
 */
export function desiredImage(s: { image: string; version?: string }): { image: string; version: string } | { key: "image" | "version"; error: string } {
  const ref = parseImageRef(s.image);
  if (typeof ref === "string") return { key: "image", error: `${ref}, got ${JSON.stringify(s.image)}` };
  const image = ref.tag === undefined && ref.digest === undefined && s.version !== undefined ? `${s.image}:${s.version}` : s.image;
  const resolved = slotVersion({ image, version: s.version });
  if ("error" in resolved) {
    return ref.tag === undefined && ref.digest === undefined && s.version === undefined
      ? { key: "image", error: `has no tag or digest; pin a version tag or a digest, or set version to the tag to run (image: repository, version: tag), got ${JSON.stringify(s.image)}` }
      : resolved;
  }
  return { image, version: resolved.version };
}

/** Image mode (`image` instead of `stable` + `slots`): which keys it excludes, and why. */
function checkImageMode(s: RawService, at: Path, out: Issue[]): void {
  const image = s.image as string;
  const d = desiredImage({ image, version: s.version });
  if ("error" in d) out.push({ path: [...at, d.key], message: d.error });
  const why = "remedy picks the idle slot from release state when image is set";
  if (s.stable !== undefined) out.push({ path: [...at, "stable"], message: `cannot be combined with image: ${why}; remove stable (or remove image and name the slots yourself)` });
  if (s.slots !== undefined) out.push({ path: [...at, "slots"], message: `cannot be combined with image: ${why}; remove slots and set replicas on the service (or remove image)` });
  if (s.candidate !== undefined) out.push({ path: [...at, "candidate"], message: "cannot be combined with image: the release driver moves the new version's weight step by step; remove candidate" });
  if (s.strategy?.kind === "manual") {
    out.push({ path: [...at, "strategy", "kind"], message: "manual cannot be combined with image: a manual release sets weights per slot; use a progressive strategy (canary, linear, allAtOnce, steps) or stable + slots" });
  }
  if (s.hotfix !== undefined) {
    out.push({ path: [...at, "hotfix"], message: "needs stable + slots (the hotfix goes into the slot `remedy status` shows is not stable); image mode releases through the strategy" });
  }
}

function checkService(s: RawService, at: Path, out: Issue[]): void {
  checkCommon(s, at, out);
  if (s.image !== undefined) return checkImageMode(s, at, out);
  if (s.stable === undefined || s.slots === undefined) {
    if (s.stable === undefined) out.push({ path: [...at, "stable"], message: 'required: the stable slot, "blue" or "green" (or set image to let remedy pick the idle slot)' });
    if (s.slots === undefined) out.push({ path: [...at, "slots"], message: "required: the slots block { blue?: { image }, green?: { image } } (or set image to let remedy pick the idle slot)" });
    return;
  }
  if (s.confirmRecordedImage !== undefined) {
    out.push({ path: [...at, "confirmRecordedImage"], message: "only applies with image (image mode), where the live slot's image comes from release state; with slots, config names every image" });
  }
  if (s.version !== undefined) {
    out.push({ path: [...at, "version"], message: "only applies with image (image mode); with slots, set slots.<slot>.version" });
  }
  checkSlotMode(s as RawService & { stable: Slot; slots: NonNullable<RawService["slots"]> }, at, out);
}

function checkSlotMode(s: RawService & { stable: Slot; slots: NonNullable<RawService["slots"]> }, at: Path, out: Issue[]): void {
  for (const slot of SLOTS) {
    const spec = s.slots[slot];
    if (spec === undefined) continue;
    const resolved = slotVersion(spec);
    if ("error" in resolved) out.push({ path: [...at, "slots", slot, resolved.key], message: resolved.error });
  }
  if (s.slots[s.stable] === undefined) {
    out.push({
      path: [...at, "slots", s.stable],
      message: `required: the stable slot is "${s.stable}", so slots.${s.stable}.image must be set (or set stable to the slot that has an image)`,
    });
  }
  const candidate = otherSlot(s.stable);
  const weight = s.candidate?.weight ?? 0;
  if (weight > 0 && s.slots[candidate] === undefined) {
    out.push({
      path: [...at, "candidate", "weight"],
      message: `is ${weight} but the candidate slot "${candidate}" has no image; set slots.${candidate}.image or weight 0`,
    });
  }
  // A slot that receives traffic must have pods: a slot scaled to 0 behind a weight is an empty
  // target group, and the ALB answers 503 to its share of requests.
  const replicasOf = (slot: Slot) => s.slots[slot]?.replicas ?? s.replicas ?? defaults.DEFAULT_REPLICAS;
  const effectiveWeight = s.hotfix !== undefined ? 100 : weight;
  if (s.slots[s.stable] !== undefined && effectiveWeight < 100 && replicasOf(s.stable) === 0) {
    out.push({
      path: [...at, ...(s.slots[s.stable]?.replicas === 0 ? ["slots", s.stable, "replicas"] : ["replicas"])],
      message: `is 0 but the stable slot "${s.stable}" receives ${100 - effectiveWeight}% of traffic; an empty target group answers 503 — give it at least 1 replica`,
    });
  }
  if (s.slots[candidate] !== undefined && effectiveWeight > 0 && replicasOf(candidate) === 0) {
    out.push({
      path: [...at, ...(s.slots[candidate]?.replicas === 0 ? ["slots", candidate, "replicas"] : ["replicas"])],
      message: `is 0 but the candidate slot "${candidate}" receives ${effectiveWeight}% of traffic; an empty target group answers 503 — give it at least 1 replica or weight 0`,
    });
  }
  if (s.hotfix !== undefined) {
    if (s.slots[candidate] === undefined) {
      out.push({
        path: [...at, "hotfix"],
        message: `needs the hotfix image in slots.${candidate}.image (the slot that is not stable); hotfix mode releases it to 100%`,
      });
    }
    if (s.candidate?.weight !== undefined && s.candidate.weight !== 100) {
      out.push({
        path: [...at, "candidate", "weight"],
        message: `is ${s.candidate.weight} but a hotfix goes straight to full traffic; remove candidate.weight or set 100`,
      });
    }
  }
}

/** Rules every service follows, in image mode or slot mode. */
function checkCommon(s: RawService, at: Path, out: Issue[]): void {
  for (const [name, value] of Object.entries(s.env ?? {})) {
    if (typeof value === "string" && (SECRET_ENV_NAME.test(name) || URL_WITH_PASSWORD.test(value))) {
      out.push({
        path: [...at, "env", name],
        message: `${URL_WITH_PASSWORD.test(value) ? "is a URL with a password" : "looks like a secret"} but is plaintext in stack config and in the Deployment; store it in a Kubernetes Secret and use { secretKeyRef: { name, key } }`,
      });
    }
  }
  const hosts = s.routing.hosts ?? [];
  const paths = s.routing.paths ?? [];
  if (s.strategy !== undefined && s.strategy.kind !== "manual" && s.candidate?.weight !== undefined && s.hotfix === undefined) {
    out.push({
      path: [...at, "candidate", "weight"],
      message: `cannot be combined with strategy ${s.strategy.kind}: the release driver sets the candidate's weight step by step; remove candidate.weight (or use strategy: { kind: manual })`,
    });
  }
  if (s.strategy?.kind === "steps") {
    try {
      normalizeStrategy({ kind: "steps", steps: s.strategy.steps, bakeMinutes: 0 });
    } catch (err) {
      if (!(err instanceof StrategyError)) throw err;
      out.push({ path: [...at, "strategy"], message: err.message });
    }
  }
  if (s.preTraffic !== undefined) {
    const kinds = [s.preTraffic.http, s.preTraffic.lambda].filter((k) => k !== undefined).length;
    if (kinds !== 1) {
      out.push({ path: [...at, "preTraffic"], message: `needs exactly one of http or lambda, got ${kinds === 0 ? "neither" : "both"}` });
    }
    const progressive = s.hotfix === undefined && s.strategy?.kind !== "manual" && (s.strategy !== undefined || s.image !== undefined);
    if (!progressive) {
      out.push({ path: [...at, "preTraffic"], message: "only applies to a progressive release (strategy canary, linear, allAtOnce or steps, or image mode): the release driver runs it before the first step" });
    }
    if (s.preTraffic.http !== undefined && s.testRoute === undefined) {
      out.push({ path: [...at, "testRoute"], message: "required by preTraffic.http: the check reaches the candidate (at 0%) through the header-matched test rule; add testRoute { priority }" });
    }
  }
  if (s.testRoute !== undefined) {
    if (s.testRoute.priority >= s.routing.priority) {
      out.push({
        path: [...at, "testRoute", "priority"],
        message: `${s.testRoute.priority} must be lower than routing.priority ${s.routing.priority}: the listener evaluates lower priorities first, and the main rule would answer the test requests`,
      });
    }
    // The test rule reaches a candidate at 0%, from anywhere the ALB is reachable: it needs a
    // secret header value or a source-IP condition, never a guessable "1".
    if (s.testRoute.value === undefined && s.testRoute.sourceCidrs === undefined) {
      out.push({
        path: [...at, "testRoute", "value"],
        message: `required (or testRoute.sourceCidrs): without a secret value anyone who sends the header reaches the candidate at 0%; set one with pulumi config set --secret --path 'remedy:services[${String(at[1])}].testRoute.value' "$(openssl rand -hex 16)", or limit the test rule to your network with sourceCidrs`,
      });
    }
    const cidrs = s.testRoute.sourceCidrs?.length ?? 0;
    if (hosts.length + paths.length + 1 + cidrs > defaults.MAX_RULE_CONDITION_VALUES) {
      out.push({
        path: [...at, "testRoute"],
        message: `the test rule needs the ${hosts.length + paths.length} host/path values plus its header${cidrs > 0 ? ` and ${cidrs} source CIDRs` : ""}, over the ALB's ${defaults.MAX_RULE_CONDITION_VALUES}; use fewer hosts, paths or CIDRs`,
      });
    }
  }
  if (hosts.length + paths.length === 0) {
    out.push({ path: [...at, "routing"], message: "needs at least one of hosts or paths, or the rule would match nothing" });
  }
  if (hosts.length + paths.length > defaults.MAX_RULE_CONDITION_VALUES) {
    out.push({
      path: [...at, "routing"],
      message: `has ${hosts.length + paths.length} host/path values; an ALB rule allows at most ${defaults.MAX_RULE_CONDITION_VALUES} — use wildcards or split the service`,
    });
  }
  for (const kind of ["errorRate", "latencyP99", "unhealthyHosts", "connectionErrors"] as const) {
    const a = s.alarms?.[kind];
    const evaluation = a?.evaluationPeriods ?? defaults.DEFAULT_ALARM_EVALUATION_PERIODS;
    const datapoints = a?.datapointsToAlarm ?? Math.min(defaults.DEFAULT_ALARM_DATAPOINTS_TO_ALARM, evaluation);
    if (datapoints > evaluation) {
      out.push({
        path: [...at, "alarms", kind, "datapointsToAlarm"],
        message: `${datapoints} exceeds evaluationPeriods ${evaluation}; an alarm cannot need more breaching periods than it evaluates`,
      });
    }
    const period = a?.periodSeconds ?? defaults.DEFAULT_ALARM_PERIOD_SECONDS;
    if (period * evaluation > 86_400) {
      out.push({
        path: [...at, "alarms", kind, "evaluationPeriods"],
        message: `${evaluation} periods of ${period} s exceed one day, the longest window CloudWatch evaluates`,
      });
    }
  }
  // Compare against the request that will be applied, defaults included: a limit below the
  // default request is rejected by Kubernetes just the same.
  const defaultRequests = { cpu: defaults.DEFAULT_CPU_REQUEST, memory: defaults.DEFAULT_MEMORY_REQUEST };
  for (const kind of ["cpu", "memory"] as const) {
    const request = s.resources?.requests?.[kind] ?? defaultRequests[kind];
    const limit = s.resources?.limits?.[kind];
    if (limit !== undefined && compareQuantity(limit, request) < 0) {
      out.push({
        path: [...at, "resources", "limits", kind],
        message: `${limit} is below the request ${request}; Kubernetes rejects limits below requests`,
      });
    }
  }
}

function checkKubernetes(k: z.infer<typeof kubernetesSchema>, out: Issue[]): void {
  if (k.context !== undefined && k.context !== k.cluster && !k.context.endsWith(`:cluster/${k.cluster}`) && !k.context.endsWith(`/${k.cluster}`) && !k.context.startsWith(`${k.cluster}@`)) {
    out.push({
      path: ["kubernetes", "context"],
      message: `${JSON.stringify(k.context)} does not name cluster "${k.cluster}"; use the context \`aws eks update-kubeconfig --name ${k.cluster}\` creates (arn:aws:eks:<region>:<account>:cluster/${k.cluster}), or leave context out so remedy generates a kubeconfig for the cluster`,
    });
  }
}

type RawIngress = RawStack["ingress"];
type RawAlbSettings = Omit<RawIngress, "vpcId" | "groups">;

/** A group's effective settings: its own, else (for a remedy-created ALB) the stack's. */
function groupSettings(top: RawIngress, group: RawAlbSettings): RawAlbSettings {
  if (group.listenerArn !== undefined) return group;
  const inherited: Record<string, unknown> = {};
  for (const k of ALB_ONLY_INGRESS_KEYS) if (top[k] !== undefined) inherited[k] = top[k];
  return { ...inherited, ...Object.fromEntries(Object.entries(group).filter(([, v]) => v !== undefined)) } as RawAlbSettings;
}

/** Every group's effective raw settings, the default group first. */
function rawGroups(ing: RawIngress): [string, RawAlbSettings, Path][] {
  return [
    [DEFAULT_INGRESS_GROUP, ing, ["ingress"]],
    ...Object.entries(ing.groups ?? {}).map(([name, g]): [string, RawAlbSettings, Path] => [name, groupSettings(ing, g), ["ingress", "groups", name]]),
  ];
}

function checkIngress(ing: RawAlbSettings, at: Path, out: Issue[]): void {
  const where = at.join(".");
  if (ing.listenerArn !== undefined) {
    if (ing.securityGroupId === undefined) {
      out.push({
        path: [...at, "securityGroupId"],
        message: `required with ${where}.listenerArn: the ALB's security group, so target group bindings can admit its traffic`,
      });
    }
    for (const k of ALB_ONLY_INGRESS_KEYS) {
      if (ing[k] !== undefined) {
        out.push({
          path: [...at, k],
          message: `cannot be combined with ${where}.listenerArn (it configures a remedy-created ALB); remove one of them`,
        });
      }
    }
    return;
  }
  if (ing.securityGroupId !== undefined) {
    out.push({
      path: [...at, "securityGroupId"],
      message: `only applies with ${where}.listenerArn; remedy creates the security group of its own ALB`,
    });
  }
  // Any block reaching public address space counts (0.0.0.0/1 + 128.0.0.0/1, ::/0, an office /32):
  // requests from there cross the internet in clear text.
  const open = publicCidrs(ing.allowedCidrs ?? defaults.DEFAULT_ALLOWED_CIDRS);
  if (ing.certificateArn === undefined && open.length > 0 && ing.allowPlainHttp !== true) {
    out.push({
      path: [...at, "certificateArn"],
      message:
        `required: without it the ALB serves plain HTTP to public address space (${open.join(", ")}); set an ACM certificate for HTTPS, narrow ${where}.allowedCidrs to private ranges (and set ${where}.internal: true), or set ${where}.allowPlainHttp: true to accept plain HTTP`,
    });
  }
  if (ing.certificateArn === undefined && (ing.additionalCertificateArns ?? []).length > 0) {
    out.push({ path: [...at, "additionalCertificateArns"], message: `needs ${where}.certificateArn: extra certificates go on the HTTPS listener, which only exists with a default certificate` });
  }
  if (ing.subnetIds === undefined || ing.subnetIds.length < 2) {
    out.push({
      path: [...at, "subnetIds"],
      message: `required: at least two subnet ids in different availability zones for the ALB, got ${JSON.stringify(ing.subnetIds ?? [])} (or set ${where}.listenerArn to use an existing ALB)`,
    });
  }
}

function checkStack(raw: RawStack, out: Issue[]): void {
  const ing = raw.ingress;
  for (const name of Object.keys(ing.groups ?? {})) {
    const bad = ingressGroupName.safeParse(name);
    if (!bad.success || name === DEFAULT_INGRESS_GROUP) {
      out.push({ path: ["ingress", "groups", name], message: name === DEFAULT_INGRESS_GROUP ? `is the top-level ingress settings' group; give this group another name` : (bad.error?.issues[0]?.message ?? "bad group name") });
    }
  }
  const groups = rawGroups(ing);
  for (const [, settings, at] of groups) checkIngress(settings, at, out);
  raw.services.forEach((s, i) => {
    if (s.ingressGroup !== undefined && s.ingressGroup !== DEFAULT_INGRESS_GROUP && !(s.ingressGroup in (ing.groups ?? {}))) {
      const known = [DEFAULT_INGRESS_GROUP, ...Object.keys(ing.groups ?? {})];
      out.push({ path: ["services", i, "ingressGroup"], message: `no ingress group ${JSON.stringify(s.ingressGroup)}: define it under ingress.groups, or use one of ${known.join(", ")}` });
    }
  });

  checkKubernetes(raw.kubernetes, out);
  // The release driver runs HTTP pre-traffic checks itself: outside a VPC it cannot reach an
  // internal ALB (the check would fail on every run and hold every release).
  const internalGroups = new Set(groups.filter(([, g]) => g.listenerArn === undefined && g.internal === true).map(([name]) => name));
  if (internalGroups.size > 0 && raw.kubernetes.driverVpc === undefined) {
    raw.services.forEach((s, i) => {
      if (s.preTraffic?.http !== undefined && internalGroups.has(s.ingressGroup ?? DEFAULT_INGRESS_GROUP)) {
        out.push({
          path: ["services", i, "preTraffic", "http"],
          message: `the ALB is internal (ingress.internal: true) but the release driver runs outside the VPC and cannot reach ${s.preTraffic.http.url}; set kubernetes.driverVpc { subnetIds, securityGroupIds } (subnets that reach the ALB and, through NAT or VPC endpoints, the AWS APIs), or use preTraffic.lambda with a hook that runs in the VPC`,
        });
      }
    });
  }
  // npx without --no-install fetches from the public registry whatever is published under the
  // name when the image has no local copy, and runs it with DATABASE_URL in its environment.
  for (const key of ["command", "checkCommand"] as const) {
    const cmd = raw.database?.job?.[key];
    if (cmd && /(^|\/)npx$/.test(cmd[0] ?? "") && !cmd.some((a) => a === "--no-install" || a === "--no" || a === "--offline")) {
      out.push({
        path: ["database", "job", key],
        message: `${JSON.stringify(cmd)} lets npx install a package from the registry at run time (with DATABASE_URL in its environment) when the image has none; add "--no-install" after "npx", or call the installed entry point (e.g. ["remedy", ...] or ["node", "/app/cli/remedy.js", ...])`,
      });
    }
  }
  const job = raw.database?.job;
  if (job && job.checkDatabaseUrlSecret === undefined) {
    out.push({
      path: ["database", "job", "checkDatabaseUrlSecret"],
      message:
        "required: the Secret { name, key } holding a read-only DATABASE_URL for the schema check every app pod runs, so the migration's DDL-capable credential never reaches app pods. " +
        "Create a role with GRANT CONNECT ON DATABASE <db>, GRANT USAGE ON SCHEMA public, GRANT SELECT ON remedy_migrations, and a Secret with its URL in each service namespace",
    });
  } else if (job?.checkDatabaseUrlSecret && job.checkDatabaseUrlSecret.name === job.databaseUrlSecret.name && job.checkDatabaseUrlSecret.key === job.databaseUrlSecret.key) {
    out.push({
      path: ["database", "job", "checkDatabaseUrlSecret"],
      message: `is the migration's own credential (${job.databaseUrlSecret.name}/${job.databaseUrlSecret.key}); give the schema check a separate read-only one (CONNECT, USAGE ON SCHEMA public, SELECT ON remedy_migrations)`,
    });
  }
  if (raw.database?.run && !raw.database.job) {
    out.push({ path: ["database", "job"], message: "required with database.run: the image, namespace and DATABASE_URL secret of the migration Job" });
  }
  raw.services.forEach((s, i) => {
    if (s.hotfix !== undefined && raw.hotfixStack === undefined) {
      out.push({
        path: ["hotfixStack"],
        message: `required because services[${i}] (${s.name}) is in hotfix mode: the hotfix stack whose tested images prod may ship, e.g. "acme/remedy/hotfix"`,
      });
    }
  });
  const names = new Map<string, number>();
  const priorities = new Map<number, number>();
  const routes = new Map<string, number>();
  raw.services.forEach((s, i) => {
    checkService(s, ["services", i], out);
    const seen = names.get(s.name);
    if (seen !== undefined) {
      out.push({ path: ["services", i, "name"], message: `"${s.name}" is already used by services[${seen}]; service names must be unique` });
    } else names.set(s.name, i);
    for (const [key, priority] of [["routing", s.routing.priority], ["testRoute", s.testRoute?.priority]] as const) {
      if (priority === undefined) continue;
      const p = priorities.get(priority);
      if (p !== undefined) {
        out.push({
          path: ["services", i, key, "priority"],
          message: `${priority} is already used by services[${p}] (${raw.services[p].name}); rule priorities must be unique per listener — pick an unused value 1..${defaults.MAX_RULE_PRIORITY}`,
        });
      } else priorities.set(priority, i);
    }
    const route = JSON.stringify([[...(s.routing.hosts ?? [])].sort(), [...(s.routing.paths ?? [])].sort()]);
    const r = routes.get(route);
    if (r !== undefined) {
      out.push({
        path: ["services", i, "routing"],
        message: `matches exactly the same hosts and paths as services[${r}] (${raw.services[r].name}), so one of them would never receive traffic`,
      });
    } else routes.set(route, i);
  });
}

// ---------------------------------------------------------------------------------------------
// Formatting

interface Issue {
  readonly path: PropertyKey[];
  readonly message: string;
}

/** `["services", 2, "candidate", "weight"]` -> `services[2].candidate.weight`. */
export function formatPath(path: readonly PropertyKey[], root = ""): string {
  let out = root;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: unknown = schema;
  const unwrap = (): void => {
    while (s instanceof z.ZodOptional) s = s.unwrap();
  };
  for (const part of path) {
    unwrap();
    if (s instanceof z.ZodArray && typeof part === "number") s = s.element;
    else if (s instanceof z.ZodObject && typeof part === "string") s = s.shape[part];
    else return [];
  }
  unwrap();
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function toIssues(schema: z.ZodType, zodIssues: readonly z.core.$ZodIssue[], root: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const iss of zodIssues) {
    if (iss.code === "unrecognized_keys") {
      const known = knownKeys(schema, iss.path);
      for (const key of iss.keys) {
        const best = known
          .map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) }))
          .sort((a, b) => a.d - b.d)[0];
        const hint = best !== undefined && best.d <= 3 ? `did you mean "${best.k}"?` : `known keys: ${known.join(", ")}`;
        out.push({ path: formatPath([...iss.path, key], root), message: `unknown key; ${hint}` });
      }
      continue;
    }
    if (iss.code === "invalid_union") {
      // Report the branch the input was meant for (the one that got past the value's own type
      // and keys), with paths under the union's; else the union's own message.
      const prefixed = iss.errors.map((branch) => branch.map((e) => ({ ...e, path: [...iss.path, ...e.path] })));
      const meant = prefixed.filter((branch) => branch.length > 0 && branch.every((e) => e.path.length > iss.path.length));
      if (meant.length === 1) out.push(...toIssues(schema, meant[0], root));
      else out.push({ path: formatPath(iss.path, root), message: `${iss.message}, got ${describe(iss.input)}` });
      continue;
    }
    const hasInput = "input" in iss && iss.input !== undefined;
    const got = hasInput && !iss.message.startsWith("required") ? `, got ${describe(iss.input)}` : "";
    out.push({ path: formatPath(iss.path, root), message: `${iss.message}${got}` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Normalisation

type RawAlarmWindow = { periodSeconds?: number; evaluationPeriods?: number; datapointsToAlarm?: number };

function alarmWindow(a: RawAlarmWindow | undefined): AlarmWindowSpec {
  const evaluationPeriods = a?.evaluationPeriods ?? defaults.DEFAULT_ALARM_EVALUATION_PERIODS;
  return {
    periodSeconds: a?.periodSeconds ?? defaults.DEFAULT_ALARM_PERIOD_SECONDS,
    evaluationPeriods,
    datapointsToAlarm: a?.datapointsToAlarm ?? Math.min(defaults.DEFAULT_ALARM_DATAPOINTS_TO_ALARM, evaluationPeriods),
  };
}

function normaliseAlarms(a: RawService["alarms"]): AlarmsSpec {
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
  };
}

function normaliseStrategy(raw: NonNullable<RawService["strategy"]>): NormalizedStrategy {
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

function normalisePreTraffic(p: NonNullable<RawService["preTraffic"]>, route: RawService["testRoute"]): NonNullable<ServiceSpec["preTraffic"]> {
  const timeoutSeconds = p.timeoutSeconds ?? defaults.DEFAULT_PRE_TRAFFIC_TIMEOUT_SECONDS;
  const check: PreTrafficCheck = p.http
    ? {
        kind: "http",
        url: p.http.url,
        header: route?.header ?? defaults.DEFAULT_TEST_ROUTE_HEADER,
        value: route?.value ?? defaults.DEFAULT_TEST_ROUTE_VALUE,
        expectStatus: p.http.expectStatus === undefined ? [200, 299] : [p.http.expectStatus, p.http.expectStatus],
        timeoutSeconds,
      }
    : { kind: "lambda", functionArn: (p.lambda as { functionArn: string }).functionArn, timeoutSeconds };
  return { check, maxAttempts: p.attempts ?? defaults.DEFAULT_PRE_TRAFFIC_ATTEMPTS };
}

function normaliseService(s: RawService): ServiceSpec {
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
            ...(s.api.override ? { override: s.api.override } : {}),
          },
        }),
  };
}

function normaliseIngress(vpcId: string, ing: RawAlbSettings): IngressSpec {
  return ing.listenerArn !== undefined
      ? { mode: "existing", vpcId, listenerArn: ing.listenerArn, securityGroupId: ing.securityGroupId as string }
      : {
          mode: "create",
          vpcId,
          subnetIds: ing.subnetIds ?? [],
          certificateArn: ing.certificateArn,
          additionalCertificateArns: ing.additionalCertificateArns ?? [],
          internal: ing.internal ?? false,
          allowedCidrs: ing.allowedCidrs ?? defaults.DEFAULT_ALLOWED_CIDRS,
          idleTimeoutSeconds: ing.idleTimeoutSeconds ?? defaults.DEFAULT_IDLE_TIMEOUT_SECONDS,
          deletionProtection: ing.deletionProtection ?? false,
          allowPlainHttp: ing.allowPlainHttp ?? false,
        };
}

function normaliseStack(raw: RawStack): StackConfig {
  const ingressGroups = Object.fromEntries(rawGroups(raw.ingress).map(([name, g]) => [name, normaliseIngress(raw.ingress.vpcId, g)]));
  const ingress = ingressGroups[DEFAULT_INGRESS_GROUP];
  return {
    kubernetes: {
      cluster: raw.kubernetes.cluster,
      ...(raw.kubernetes.context === undefined ? {} : { context: raw.kubernetes.context }),
      driverAccess: raw.kubernetes.driverAccess ?? defaults.DEFAULT_DRIVER_CLUSTER_ACCESS,
      ...(raw.kubernetes.driverVpc ? { driverVpc: raw.kubernetes.driverVpc } : {}),
    },
    ...(raw.database === undefined
      ? {}
      : {
          database: {
            plans: raw.database.plans ?? "migrations",
            applied: raw.database.applied ?? [],
            ...(raw.database.run ? { run: raw.database.run } : {}),
            ...(raw.database.job
              ? {
                  job: {
                    ...raw.database.job,
                    command: raw.database.job.command ?? [...defaults.DEFAULT_MIGRATE_COMMAND],
                    checkCommand: raw.database.job.checkCommand ?? [...defaults.DEFAULT_SCHEMA_CHECK_COMMAND],
                    // Required (checked above): never falls back to the migration's credential.
                    checkDatabaseUrlSecret: raw.database.job.checkDatabaseUrlSecret as { name: string; key: string },
                  },
                }
              : {}),
          },
        }),
    ...(raw.hotfixStack === undefined ? {} : { hotfixStack: raw.hotfixStack }),
    ingress,
    ingressGroups,
    createNamespaces: raw.createNamespaces ?? true,
    quotas: raw.quotas ?? {},
    rollback: {
      notificationEmails: raw.rollback?.notificationEmails ?? [],
      tableDeletionProtection: raw.rollback?.tableDeletionProtection ?? true,
      operatorRoleArns: raw.rollback?.operatorRoleArns ?? [],
      ...(raw.rollback?.permissionsBoundaryArn ? { permissionsBoundaryArn: raw.rollback.permissionsBoundaryArn } : {}),
      logRetentionDays: raw.rollback?.logRetentionDays ?? defaults.DEFAULT_LOG_RETENTION_DAYS,
    },
    services: raw.services.map(normaliseService),
  };
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Validates and normalises a whole stack's configuration.
 * @param raw the `remedy` config namespace as an object: `{ ingress, services, createNamespaces? }`.
 * @throws ConfigError listing every problem, before anything is deployed.
 */
export function parseStackConfig(raw: unknown): StackConfig {
  const result = stackSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(toIssues(stackSchema, result.error.issues, ""), "remedy stack configuration");
  }
  const issues: Issue[] = [];
  checkStack(result.data, issues);
  if (issues.length > 0) {
    throw new ConfigError(
      issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
      "remedy stack configuration",
    );
  }
  return normaliseStack(result.data);
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

/** The raw (input) shape of a service, as written in config or passed to the component. */
export type ServiceInput = z.input<typeof serviceSchema>;

/**
 * A normalised spec back in input form, every default written out, so that
 * `parseServiceSpec(serviceInputOf(spec))` equals `spec`. Lets the stack hand a validated service
 * to the `BlueGreenService` component, which validates its args again on its own.
 */
export function serviceInputOf(spec: ServiceSpec): ServiceInput {
  const slots: { blue?: z.input<typeof slotSchema>; green?: z.input<typeof slotSchema> } = {};
  for (const slot of SLOTS) {
    const s = spec.slots[slot];
    if (s !== undefined) slots[slot] = { image: s.image, version: s.version, replicas: s.replicas };
  }
  return {
    name: spec.name,
    namespace: spec.namespace,
    ...(spec.ingressGroup !== DEFAULT_INGRESS_GROUP ? { ingressGroup: spec.ingressGroup } : {}),
    port: spec.port,
    healthPath: spec.healthPath,
    livenessPath: spec.livenessPath,
    replicas: spec.replicas,
    resources: {
      requests: { ...spec.resources.requests },
      limits: spec.resources.limits.cpu === undefined ? { memory: spec.resources.limits.memory } : { ...spec.resources.limits },
    },
    env: Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, typeof v === "string" ? v : JSON.parse(JSON.stringify(v))])),
    routing: { hosts: [...spec.routing.hosts], paths: [...spec.routing.paths], priority: spec.routing.priority },
    stable: spec.stable,
    slots,
    ...(spec.strategy === undefined ? { candidate: { weight: spec.candidateWeight } } : {}),
    stickinessSeconds: spec.stickinessSeconds,
    ...(spec.allowRunAsRoot ? { allowRunAsRoot: true } : {}),
    ...(spec.testRoute === undefined
      ? {}
      : {
          testRoute: {
            priority: spec.testRoute.priority,
            header: spec.testRoute.header,
            // The default value stands only beside sourceCidrs; a configured one is a secret.
            ...(spec.testRoute.sourceCidrs && spec.testRoute.value === defaults.DEFAULT_TEST_ROUTE_VALUE ? {} : { value: spec.testRoute.value }),
            ...(spec.testRoute.sourceCidrs ? { sourceCidrs: [...spec.testRoute.sourceCidrs] } : {}),
          },
        }),
    ...(spec.preTraffic === undefined ? {} : { preTraffic: preTrafficInputOf(spec.preTraffic) }),
    ...(spec.strategy === undefined ? {} : { strategy: { kind: "steps" as const, steps: spec.strategy.steps.map((st) => ({ ...st })), bakeMinutes: spec.strategy.bakeMinutes } }),
    deregistrationDelaySeconds: spec.deregistrationDelaySeconds,
    alarms: {
      errorRate: { ...spec.alarms.errorRate },
      latencyP99: { ...spec.alarms.latencyP99 },
      unhealthyHosts: { ...spec.alarms.unhealthyHosts },
      connectionErrors: { ...spec.alarms.connectionErrors },
    },
    ...(spec.acknowledgeRollback === undefined ? {} : { acknowledgeRollback: spec.acknowledgeRollback }),
    rollbackWindowMinutes: spec.rollbackWindowMinutes,
    ...(spec.hotfix === undefined ? {} : { hotfix: { ...spec.hotfix } }),
    ...(spec.database === undefined
      ? {}
      : {
          database: {
            uses: Object.fromEntries(Object.entries(spec.database.uses).map(([v, cols]) => [v, [...cols]])),
            ...(spec.database.writesNull ? { writesNull: Object.fromEntries(Object.entries(spec.database.writesNull).map(([v, cols]) => [v, [...cols]])) } : {}),
          },
        }),
    ...(spec.api === undefined
      ? {}
      : { api: { schemas: { ...spec.api.schemas }, operations: [...spec.api.operations], deprecatedRemoval: spec.api.deprecatedRemoval, ...(spec.api.override ? { override: { ...spec.api.override } } : {}) } }),
  };
}

function preTrafficInputOf(p: NonNullable<ServiceSpec["preTraffic"]>): NonNullable<ServiceInput["preTraffic"]> {
  const c = p.check;
  const common = { timeoutSeconds: c.timeoutSeconds, attempts: p.maxAttempts };
  if (c.kind === "lambda") return { lambda: { functionArn: c.functionArn }, ...common };
  const [min, max] = c.expectStatus;
  return { http: { url: c.url, ...(min === max ? { expectStatus: min } : {}) }, ...common };
}

// ---------------------------------------------------------------------------------------------

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
const DECIMAL: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };

/** Compares two Kubernetes quantities (suffixes Ki..Pi, m, k..P); NaN-safe: unknown suffixes compare equal. */
export function compareQuantity(a: string, b: string): number {
  const value = (q: string): number => {
    const m = /^([0-9.]+)([A-Za-z]*)$/.exec(q);
    if (!m) return NaN;
    const mult = BINARY[m[2]] ?? DECIMAL[m[2]];
    return mult === undefined ? NaN : Number(m[1]) * mult;
  };
  const d = value(a) - value(b);
  return Number.isNaN(d) ? 0 : Math.sign(d);
}

// ---------------------------------------------------------------------------------------------
// Hotfix stack: an isolated copy of prod's live versions, with hotfix images where given.

const hotfixStackSchema = z.strictObject({
  kubernetes: kubernetesSchema,
  ingress: z.strictObject(ingressSchema.shape, {
    error: required("the hotfix environment's own ingress (vpcId + subnetIds for its own ALB)"),
  }),
  createNamespaces: z.boolean({ error: "must be true or false" }).optional(),
  quotas: stackSchema.shape.quotas,
  rollback: stackSchema.shape.rollback,
  hotfix: z.strictObject(
    {
      prodStack: stackRef('the prod stack to seed from, e.g. "acme/remedy/prod"'),
      host: z
        .string({ error: required('the host name the hotfix environment answers on, e.g. "hotfix.example.com"') })
        .regex(HOST_PATTERN, { error: 'must be a host name such as "hotfix.example.com"' }),
      namespace: dnsLabel("the Kubernetes namespace of the hotfix environment", 63).optional(),
      replicas: int("the replica count per slot in the hotfix environment", 1, 100).optional(),
      hosts: z
        .record(
          z.string(),
          z.string({ error: required("the host name of that service in the hotfix environment") }).regex(HOST_PATTERN, { error: 'must be a host name such as "payments.hotfix.example.com"' }),
          { error: required("a map of service name to its hotfix host name") },
        )
        .optional(),
      env: z
        .record(z.string(), envSchema, { error: required("a map of service name to its environment in the hotfix environment") })
        .optional(),
      images: z
        .record(z.string(), z.string({ error: required("the hotfix image, pinned to a tag or digest") }), {
          error: required("a map of service name to hotfix image"),
        })
        .optional(),
    },
    { error: required("the hotfix block { prodStack, host, images? }") },
  ),
});

export interface HotfixStackConfig {
  readonly raw: z.infer<typeof hotfixStackSchema>;
  readonly prodStack: string;
  readonly host: string;
  readonly namespace: string;
  readonly replicas: number;
  readonly images: Readonly<Record<string, string>>;
  /** Host per service, overriding the derived one. */
  readonly hosts: Readonly<Record<string, string>>;
  /** Environment per service: prod's is never exported to the hotfix stack. */
  readonly env: Readonly<Record<string, Readonly<Record<string, EnvValue>>>>;
}

/**
 * Validates a hotfix stack's `remedy:*` config (no `services`: they come from prod).
 * @throws ConfigError listing every problem.
 */
export function parseHotfixStackConfig(raw: unknown): HotfixStackConfig {
  if (typeof raw === "object" && raw !== null && "services" in raw) {
    throw new ConfigError(
      [{ path: "services", message: "not allowed in a hotfix stack: services come from prod through hotfix.prodStack; give hotfix images in hotfix.images" }],
      "remedy hotfix stack configuration",
    );
  }
  const result = hotfixStackSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(toIssues(hotfixStackSchema, result.error.issues, ""), "remedy hotfix stack configuration");
  }
  const h = result.data.hotfix;
  return {
    raw: result.data,
    prodStack: h.prodStack,
    host: h.host,
    namespace: h.namespace ?? defaults.DEFAULT_HOTFIX_NAMESPACE,
    replicas: h.replicas ?? defaults.DEFAULT_HOTFIX_REPLICAS,
    images: h.images ?? {},
    hosts: h.hosts ?? {},
    env: h.env ?? {},
  };
}

/** What prod exports for its hotfix stack: every service with only its live (stable) slot. */
export interface HotfixSeed {
  readonly services: readonly ServiceInput[];
}

/** Prod's live versions, as the `hotfixSeed` stack output. */
export function hotfixSeed(config: StackConfig): HotfixSeed {
  return {
    services: config.services.map((spec) => {
      const input = serviceInputOf(spec);
      const live = spec.slots[spec.stable] as SlotSpec;
      const rest = { ...input };
      delete rest.hotfix;
      delete rest.acknowledgeRollback;
      // Never exported: env may carry secrets, and the hotfix namespace has its own Secrets.
      // The hotfix stack takes each service's environment from its own config (hotfix.env).
      delete rest.env;
      // The hotfix environment has no API gate: its candidate is the hotfix under test.
      delete rest.api;
      // A hotfix goes straight to 100% there: prod's progressive strategy (and its pre-traffic
      // check, which needs one) does not apply.
      delete rest.strategy;
      delete rest.preTraffic;
      // Its header value is a secret: never in a (plain) stack output. The hotfix environment has
      // no test route (its candidate takes all of its traffic).
      delete rest.testRoute;
      return { ...rest, slots: { [spec.stable]: { image: live.image, version: live.version } }, candidate: { weight: 0 } };
    }),
  };
}

/**
 * The hotfix stack's full configuration: prod's live versions in their own namespace, behind
 * the hotfix host on the hotfix ALB, with each hotfix image as a candidate at 100%.
 * @throws ConfigError naming the key (hotfix.images.<name>, or the derived service) and the fix.
 */
export function hotfixStackConfig(seed: HotfixSeed, h: HotfixStackConfig): StackConfig {
  const known = seed.services.map((s) => s.name);
  const unknown = (["images", "hosts", "env"] as const).flatMap((key) =>
    Object.keys(h[key])
      .filter((n) => !known.includes(n))
      .map((n) => ({ path: `hotfix.${key}.${n}`, message: `prod has no service "${n}" (prod services: ${known.join(", ")})` })),
  );
  if (unknown.length > 0) throw new ConfigError(unknown, "remedy hotfix stack configuration");
  const hosts = hotfixHosts(seed, h);
  const services = seed.services.map((s) => {
    const stable = s.stable as Slot;
    const candidate = otherSlot(stable);
    const live = s.slots?.[stable];
    const image = h.images[s.name];
    const env = h.env[s.name];
    // Only the hotfix stack's own env: a seed exported by an older prod may still carry prod's.
    const seeded = { ...s };
    delete seeded.env;
    // The hotfix environment's own ALBs: a prod group it does not define becomes its default one.
    const groups = h.raw.ingress.groups ?? {};
    if (seeded.ingressGroup !== undefined && !(seeded.ingressGroup in groups)) delete seeded.ingressGroup;
    return {
      ...seeded,
      namespace: h.namespace,
      replicas: h.replicas,
      routing: { hosts: [hosts[s.name]], paths: s.routing.paths, priority: s.routing.priority },
      ...(env ? { env } : {}),
      slots: { [stable]: { image: live?.image, version: live?.version }, ...(image ? { [candidate]: { image } } : {}) },
      candidate: { weight: image ? 100 : 0 },
    };
  });
  return parseStackConfig({ kubernetes: h.raw.kubernetes, ingress: h.raw.ingress, createNamespaces: h.raw.createNamespaces, quotas: h.raw.quotas, rollback: h.raw.rollback, services });
}

/**
 * The host each service answers on in the hotfix environment: `hotfix.hosts.<service>` if
 * given; else the hotfix host, as long as the service's paths still tell it apart from every
 * other service there; else `<service>.<hotfix host>` (prod services routed by host alone, or
 * sharing paths across hosts, would otherwise all land on one host with the same rule).
 */
export function hotfixHosts(seed: HotfixSeed, h: Pick<HotfixStackConfig, "host" | "hosts">): Record<string, string> {
  const pathsKey = (s: ServiceInput) => JSON.stringify([...(s.routing.paths ?? [])].sort());
  const sharing = new Map<string, number>();
  for (const s of seed.services) if (h.hosts[s.name] === undefined) sharing.set(pathsKey(s), (sharing.get(pathsKey(s)) ?? 0) + 1);
  const out: Record<string, string> = {};
  for (const s of seed.services) {
    const explicit = h.hosts[s.name];
    out[s.name] = explicit ?? ((s.routing.paths ?? []).length > 0 && sharing.get(pathsKey(s)) === 1 ? h.host : `${s.name}.${h.host}`);
  }
  return out;
}

/** Longest a hotfix mode may stay on prod before it must be renewed or turned into a normal release. */
export const MAX_HOTFIX_DAYS = 14;

/**
 * Prod services in hotfix mode must ship an image the hotfix stack deployed (its `testedImages`
 * output), with an expiry in the future and at most {@link MAX_HOTFIX_DAYS} ahead.
 * @throws ConfigError listing every refused service, before anything is deployed.
 */
export function checkHotfixReleases(config: StackConfig, tested: Readonly<Record<string, string>> | undefined, now: string): void {
  const issues: ConfigIssue[] = [];
  config.services.forEach((s, i) => {
    if (!s.hotfix) return;
    const image = s.slots[otherSlot(s.stable)]?.image;
    const at = `services[${i}]`;
    const expires = Date.parse(s.hotfix.expires);
    if (expires <= Date.parse(now)) {
      issues.push({ path: `${at}.hotfix.expires`, message: `hotfix mode expired at ${s.hotfix.expires}; remove the hotfix block (ship as a normal release) or set a new expiry` });
    } else if (expires - Date.parse(now) > MAX_HOTFIX_DAYS * 86_400_000) {
      issues.push({ path: `${at}.hotfix.expires`, message: `${s.hotfix.expires} is more than ${MAX_HOTFIX_DAYS} days away; a hotfix mode must be short-lived` });
    }
    const deployed = tested?.[s.name];
    if (image !== deployed) {
      issues.push({
        path: `${at}.slots.${otherSlot(s.stable)}.image`,
        message: deployed
          ? `${image ?? "(none)"} was never deployed to the hotfix stack ${config.hotfixStack ?? "?"} (it tested ${deployed}); test this image there first`
          : `the hotfix stack ${config.hotfixStack ?? "?"} has no tested image for ${s.name}; deploy ${image ?? "the hotfix"} there and test it first`,
      });
    }
  });
  if (issues.length > 0) throw new ConfigError(issues, "hotfix release");
}
