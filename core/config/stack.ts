/**
 * The whole stack config (`remedy:*` in `Pulumi.<stack>.yaml`): its sections, cross-section rules and
 * `parseStackConfig`.
 */
import { z } from "zod";
import { type NotificationsSpec, normaliseNotifications, notificationsSchema } from "./notifications";
import * as defaults from "../defaults";
import { ConfigError, Issue, formatPath, toIssues } from "./errors";
import { DEFAULT_INGRESS_GROUP, type DeepReadonly, type Filled, dnsLabel, ingressGroupName, int, required } from "./fields";
import { IngressSpec, checkIngress, ingressSchema, normaliseIngress, rawGroups } from "./ingress";
import { normaliseService } from "./service";
import { checkService } from "./serviceRules";
import { ServiceSpec, serviceSchema } from "./serviceSchema";
import { parseCidr, uncovered } from "../cidr";
import { type PromotionPolicy, checkPromotion, normalisePromotion, promotionSchema } from "../promotion/policy";

export const kubernetesSchema = z.strictObject(
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
        // The public addresses the subnets reach the internet from (their NAT gateways'): checked
        // against a public-only EKS endpoint's and an internet-facing ALB's CIDR lists.
        egressCidrs: z
          .array(z.string().refine((c) => parseCidr(c) !== undefined && !c.includes(":"), { error: 'must be an IPv4 CIDR such as "203.0.113.10/32" (a NAT gateway\'s Elastic IP)' }))
          .min(1, { error: "name at least one address, or leave egressCidrs out" })
          .optional(),
      })
      .optional(),
  },
  { error: required("the kubernetes block { cluster, context?, driverAccess?, driverVpc? }") },
);

export const STACK_REF = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+){0,2}$/;
export const stackRef = (what: string) =>
  z.string({ error: required(what) }).regex(STACK_REF, { error: 'must be a stack name such as "acme/remedy/prod" (organization/project/stack)' });

export const migrationPhase = z.enum(["expand", "backfill", "contract"], { error: 'must be "expand", "backfill" or "contract"' });
export const databaseSchema = z.strictObject({
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

export const stackSchema = z.strictObject({
  kubernetes: kubernetesSchema,
  database: databaseSchema.optional(),
  notifications: notificationsSchema.optional(),
  hotfixStack: stackRef("the hotfix stack whose tested images prod may ship, e.g. \"acme/remedy/hotfix\"").optional(),
  promotion: promotionSchema.optional(),
  ingress: z.strictObject(ingressSchema.shape, {
    error: required("the ingress block (vpcId plus subnetIds, or an existing listenerArn + securityGroupId)"),
  }),
  createNamespaces: z.boolean({ error: "must be true or false" }).optional(),
  quotas: z
    .strictObject({
      rulesPerLoadBalancer: int("the account's raised quota of rules per Application Load Balancer", 100, 1000).optional(),
      targetsPerLoadBalancer: int("the account's raised quota of targets per Application Load Balancer", 1000, 100_000).optional(),
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
      deployerRoleArns: z
        .array(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, { error: 'must be an IAM role ARN such as "arn:aws:iam::123456789012:role/ci-deployer"' }))
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

/**
 * Stack-wide automatic rollback settings, defaults applied: on-call emails, the release table's
 * deletion protection, the operator roles that may publish to the topic (besides the stack's own
 * roles and alarms), an optional permissions boundary for every role it creates, log retention.
 */
export type RollbackSpec = Filled<NonNullable<RawStack["rollback"]>, "notificationEmails" | "tableDeletionProtection" | "operatorRoleArns" | "deployerRoleArns" | "logRetentionDays">;

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

/**
 * The cluster the stack deploys to, always named: remedy never uses the current kubeconfig
 * context. `driverAccess` (default true) gives the release driver an EKS access entry to scale a
 * promoted-away slot to 0; `driverVpc` runs the driver in the VPC (private EKS endpoint).
 */
export type KubernetesSpec = Filled<z.output<typeof kubernetesSchema>, "driverAccess">;

export interface StackConfig {
  /** Who hears about releases besides the on-call emails, and how much. */
  readonly notifications: NotificationsSpec;
  readonly kubernetes: KubernetesSpec;
  /** Expand/contract migrations: the phase this deployment runs, and the gate's inputs. */
  readonly database?: DatabaseSpec;
  /** Stack reference of the hotfix stack (prod only; required when a service is in hotfix mode). */
  readonly hotfixStack?: string;
  /** What this stack takes from others, and on what evidence (issue 38). */
  readonly promotion?: PromotionPolicy;
  /** The default group's ALB (the top-level `ingress` settings). */
  readonly ingress: IngressSpec;
  /**
   * Every ALB of the stack by group name, {@link DEFAULT_INGRESS_GROUP} (= `ingress`) included;
   * a service is on the one its `ingressGroup` names.
   */
  readonly ingressGroups: Readonly<Record<string, IngressSpec>>;
  readonly createNamespaces: boolean;
  /**
   * A namespace walled off by a NetworkPolicy (the hotfix stack's, issue 35, 20): its pods take
   * connections only from each other and the ALB's subnets, and open them only to each other,
   * the cluster's DNS and `egressCidrs`.
   */
  readonly isolation?: { readonly namespace: string; readonly egressCidrs: readonly string[] };
  /** AWS quotas the account has had raised (the adjustable ones); default AWS's defaults. */
  readonly quotas: QuotaOverrides;
  readonly rollback: RollbackSpec;
  readonly services: readonly ServiceSpec[];
}

/** Raised AWS quotas of the account, checked at preview instead of AWS's defaults. */
export type QuotaOverrides = DeepReadonly<NonNullable<RawStack["quotas"]>>;

export type RawStack = z.infer<typeof stackSchema>;
export function checkKubernetes(k: z.infer<typeof kubernetesSchema>, out: Issue[]): void {
  if (k.context !== undefined && k.context !== k.cluster && !k.context.endsWith(`:cluster/${k.cluster}`) && !k.context.endsWith(`/${k.cluster}`) && !k.context.startsWith(`${k.cluster}@`)) {
    out.push({
      path: ["kubernetes", "context"],
      message: `${JSON.stringify(k.context)} does not name cluster "${k.cluster}"; use the context \`aws eks update-kubeconfig --name ${k.cluster}\` creates (arn:aws:eks:<region>:<account>:cluster/${k.cluster}), or leave context out so remedy generates a kubeconfig for the cluster`,
    });
  }
}

export function checkStack(raw: RawStack, out: Issue[]): void {
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
  // The release driver runs HTTP pre-traffic checks itself, from outside any VPC unless
  // driverVpc says otherwise: it cannot reach an internal ALB, nor an internet-facing one that
  // admits only some CIDRs (it calls from AWS addresses no CIDR list can name, issue 34, 10). The
  // check would time out on every run and hold every release. In a VPC with declared egress
  // addresses (driverVpc.egressCidrs), an internet-facing ALB must admit them.
  const vpc = raw.kubernetes.driverVpc;
  const unreachable = new Map<string, (url: string) => string>();
  for (const [name, g] of groups) {
    if (g.listenerArn !== undefined) continue;
    const cidrs = g.allowedCidrs ?? defaults.DEFAULT_ALLOWED_CIDRS;
    if (vpc !== undefined) {
      const outside = g.internal === true || vpc.egressCidrs === undefined ? [] : uncovered(vpc.egressCidrs, cidrs);
      if (outside.length > 0) {
        unreachable.set(
          name,
          (url) =>
            `the ALB admits only ${cidrs.join(", ")} (ingress.allowedCidrs), not the release driver's egress ${outside.join(", ")} (kubernetes.driverVpc.egressCidrs), so every check of ${url} would time out and hold the release; ` +
            `add ${outside.join(", ")} to allowedCidrs, correct egressCidrs, or use preTraffic.lambda with a hook that can reach it`,
        );
      }
    } else if (g.internal === true) {
      unreachable.set(
        name,
        (url) =>
          `the ALB is internal (ingress.internal: true) but the release driver runs outside the VPC and cannot reach ${url}; set kubernetes.driverVpc { subnetIds, securityGroupIds } (subnets that reach the ALB and, through NAT or VPC endpoints, the AWS APIs), or use preTraffic.lambda with a hook that runs in the VPC`,
      );
    } else if (!cidrs.includes("0.0.0.0/0")) {
      unreachable.set(
        name,
        (url) =>
          `the ALB admits only ${cidrs.join(", ")} (ingress.allowedCidrs), and the release driver runs outside any VPC, calling ${url} from AWS addresses no CIDR list can name: every check would time out and hold the release; ` +
          `set kubernetes.driverVpc { subnetIds, securityGroupIds } (subnets whose NAT gateway's address you add to allowedCidrs), or use preTraffic.lambda with a hook that can reach it`,
      );
    }
  }
  raw.services.forEach((s, i) => {
    const why = unreachable.get(s.ingressGroup ?? DEFAULT_INGRESS_GROUP);
    if (s.preTraffic?.http !== undefined && why) out.push({ path: ["services", i, "preTraffic", "http"], message: why(s.preTraffic.http.url) });
  });
  // npx without --no-install fetches from the public registry whatever is published under the
  // name when the image has no local copy, and runs it with DATABASE_URL in its environment.
  for (const key of ["command", "checkCommand"] as const) {
    const cmd = raw.database?.job?.[key];
    const problem = cmd ? npxProblem(cmd) : undefined;
    if (problem) out.push({ path: ["database", "job", key], message: `${JSON.stringify(cmd)} ${problem}` });
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
  if (raw.promotion) checkPromotion(raw.promotion, ["promotion"], out);
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

export function normaliseStack(raw: RawStack): StackConfig {
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
    ...(raw.promotion === undefined ? {} : { promotion: normalisePromotion(raw.promotion) }),
    ingress,
    ingressGroups,
    createNamespaces: raw.createNamespaces ?? true,
    quotas: raw.quotas ?? {},
    rollback: {
      notificationEmails: raw.rollback?.notificationEmails ?? [],
      tableDeletionProtection: raw.rollback?.tableDeletionProtection ?? true,
      operatorRoleArns: raw.rollback?.operatorRoleArns ?? [],
      deployerRoleArns: raw.rollback?.deployerRoleArns ?? [],
      ...(raw.rollback?.permissionsBoundaryArn ? { permissionsBoundaryArn: raw.rollback.permissionsBoundaryArn } : {}),
      logRetentionDays: raw.rollback?.logRetentionDays ?? defaults.DEFAULT_LOG_RETENTION_DAYS,
    },
    notifications: normaliseNotifications(raw.notifications),
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
 * Why an npx command may run something the image did not install, or undefined (issue 35, 16).
 * Only `npx --no-install|--no <bin> ...` with the flag before the package passes: after it, the
 * flag goes to the package and npx installs; `--offline` and `-y` still run what the npx cache
 * holds or fetch it.
 */
export function npxProblem(cmd: readonly string[]): string | undefined {
  if (!/(^|\/)npx$/.test(cmd[0] ?? "")) return undefined;
  const first = cmd.findIndex((a, i) => i > 0 && !a.startsWith("-"));
  const flags = cmd.slice(1, first === -1 ? undefined : first);
  if (flags.some((f) => f === "--no-install" || f === "--no") && !flags.some((f) => f === "-y" || f === "--yes")) return undefined;
  return (
    `lets npx install or run a package from the registry or its cache at run time (with DATABASE_URL in its environment) when the image has none` +
    `${cmd.slice(first + 1).some((a) => a === "--no-install" || a === "--no") ? " (--no-install after the package name is the package's argument, not npx's)" : ""}; ` +
    `call the installed entry point (["node_modules/.bin/remedy", ...], ["remedy", ...] when it is on PATH, or ["node", "/app/cli/remedy.js", ...]), or put "--no-install" right after "npx"`
  );
}
