import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BlueGreenService, RETIRED_AT_ANNOTATION, slotTargetGroupName } from "../components/delivery/blueGreenService";
import { bindingNameFor, laneKey } from "../core/naming";
import { ruleTagsFor, ruleTagsInPlace, tablePolicyInPlace } from "./liveGuards";
import { type IngressAttachment, SharedIngress } from "../components/delivery/sharedIngress";
import { isolateNamespace } from "../components/kubernetes/namespaceIsolation";
import type { DeployedCode } from "../components/rollback/lambdaParts";
import { QuotaError, quotaProblems } from "./quotas";
import { AutoRollback } from "../components/rollback/autoRollback";
import { MigrationJob } from "../components/database/migrationJob";
import { clusterProvider } from "../components/kubernetes/clusterProvider";
import type { AwsSettings } from "./awsClients";
import { ReleaseDriver } from "../components/rollback/releaseDriver";
import { RollbackFunction } from "../components/rollback/rollbackFunction";
import { StackNotifications } from "../components/notifications/stackNotifications";
import { StackDashboard } from "../components/observability/stackDashboard";
import { deployerArn, restrictTableWrites } from "../components/rollback/tablePolicy";
import type { MigrationPlan, VersionUsage } from "../database/plan";
import { recordBundle } from "./bundles";
import { type ReleasePlan, planRelease } from "../core/converge";
import { type ReleaseSummary, desiredRelease, laneRoutings, laneRuleState, releaseSummary, slotReplicas } from "./releasePlans";
export type { ReleaseSummary } from "./releasePlans";
import { FUNCTION_URL, type ReleaseState } from "../core/releaseState";
import type { ReleaseBackend } from "./releases";
import { DEFAULT_INGRESS_GROUP, type IngressSpec, type StackConfig, chatbotRegion } from "../core/config";
import { recordedAlarmKinds } from "../core/alarms";
import { POD_READINESS_GATE_LABEL } from "../core/defaults";
import { driverAccessProblems } from "../core/driverAccess";
import { driverRole, testRouteValues } from "../core/driverConfig";
import { eksTokenAuth } from "../core/kubeconfig";
import { SLOTS, type Slot } from "../core/slots";
import type { SlotWeights } from "../core/weights";

/** What each service exports: enough for operators, the CLI and a hotfix stack to find it. */
export interface ServiceOutputs {
  readonly namespace: pulumi.Output<string>;
  readonly activeSlot: pulumi.Output<Slot>;
  readonly candidateSlot: pulumi.Output<Slot>;
  readonly weights: pulumi.Output<SlotWeights>;
  readonly versions: pulumi.Output<Partial<Record<Slot, string>>>;
  readonly images: Partial<Record<Slot, string>>;
  readonly targetGroupArns: pulumi.Output<Record<Slot, string>>;
  readonly targetGroupNames: pulumi.Output<Record<Slot, string>>;
  readonly ruleArn: pulumi.Output<string>;
  /** The ingress group (ALB) the service is on, and that ALB's DNS name. */
  readonly ingressGroup: string;
  readonly dnsName: pulumi.Output<string | undefined>;
  readonly alarmNames: pulumi.Output<string[]>;
  /** Release state after this update: phase, stable/candidate versions, revision. */
  readonly release: pulumi.Output<ReleaseSummary>;
  /** Legacy lanes (issue 37): what `remedy versions` and `remedy retire` read. */
  readonly legacy: readonly { version: string; image: string; rollbackTo?: string; targetGroupArn: pulumi.Output<string>; ruleArn: pulumi.Output<string>; deprecatedAt: string; sunsetAt: string; link: string; owner: string; clients: readonly string[]; callersRule?: pulumi.Output<string> }[];
}

export interface StackResources {
  /** The default ingress group's ALB. */
  readonly ingress: SharedIngress;
  /** Every ingress group's ALB by group name, the default included. */
  readonly ingresses: ReadonlyMap<string, SharedIngress>;
  readonly namespaces: ReadonlyMap<string, k8s.core.v1.Namespace>;
  readonly services: ReadonlyMap<string, BlueGreenService>;
  readonly rollback: RollbackFunction;
  /** The explicit provider of every Kubernetes object (the cluster named in `remedy:kubernetes`). */
  readonly kubernetes: k8s.Provider;
  readonly alarms: ReadonlyMap<string, AutoRollback>;
  readonly alarmNamePrefix: string;
  readonly plans: ReadonlyMap<string, pulumi.Output<ReleasePlan>>;
  readonly releases: ReadonlyMap<string, pulumi.Output<ReleaseSummary>>;
  readonly migration?: MigrationJob;
  /** The release driver: steps progressive services, watches manual-weight ones' target health. */
  readonly driver?: ReleaseDriver;
  /** Chat channels and webhooks (`remedy:notifications`), when any is configured. */
  readonly notifications?: StackNotifications;
  /** The stack's CloudWatch dashboards. */
  readonly dashboard: StackDashboard;
}

export interface IngressOutputs {
  readonly listenerArn: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;
  readonly dnsName: pulumi.Output<string | undefined>;
}

export interface StackOutputs {
  /** The default ingress group's ALB. */
  readonly ingress: IngressOutputs;
  /** Every ingress group's ALB (the default included) and the services on it. */
  readonly ingressGroups: Record<string, IngressOutputs & { readonly services: readonly string[] }>;
  readonly services: Record<string, ServiceOutputs>;
  readonly rollback: {
    readonly functionArn: pulumi.Output<string>;
    readonly releaseTable: pulumi.Output<string>;
    readonly notificationTopicArn: pulumi.Output<string>;
    /** The function URL (auth type AWS_IAM) operators send rollback, abort and promote to. */
    readonly overridesUrl: pulumi.Output<string>;
    readonly alarmNamePrefix: string;
  };
  /** What each of the stack's functions runs, for `remedy status --outputs` (issue 35, 18). */
  readonly lambdaCode: Record<string, pulumi.Output<DeployedCode>>;
  /** The stack's CloudWatch dashboards, as console links (one per page of services). */
  readonly dashboardUrls: pulumi.Output<string[]>;
}

/** Name of the shared ingress component (and of its ALB, auto-named from it). */
export const INGRESS_NAME = "remedy";

/** Name of the stack's RollbackFunction component. */
export const ROLLBACK_NAME = "rollback";

export interface BuildOptions {
  /** Prefix of every rollback alarm name: `<project>-<stack>`, unique per account and region. */
  readonly alarmNamePrefix: string;
  /** Where release state is read from before planning and recorded after deploying. */
  readonly releases: ReleaseBackend;
  /** Who records releases in history, e.g. `pulumi:prod`. */
  readonly by: string;
  /** Wall clock (ISO) for planning; default now. */
  readonly now?: string;
  /** API compatibility overrides applied by the gate, by service (recorded with the release). */
  readonly apiOverrides?: ReadonlyMap<string, string>;
  /** The rollback window the migration gate checked; passed to a contract Job to re-check. */
  readonly rollbackWindow?: readonly VersionUsage[];
  /** The migration plans (database.plans), for the bundles of the releases this update starts. */
  readonly plans?: readonly MigrationPlan[];
  /** The AWS provider's settings; the EKS token is fetched with the same region, profile and role. */
  readonly aws?: AwsSettings;
  /** `remedy:services` holds a Pulumi secret: env values are kept secret in state. Default false. */
  readonly secretServices?: boolean;
  /**
   * The cluster's lookup (`aws.eks.getCluster`), when the caller made it: used for the provider's
   * kubeconfig and the release driver, and checked before anything is built (see
   * {@link checkDriverAccess}). Default: looked up here, unchecked.
   */
  readonly cluster?: aws.eks.GetClusterResult;
}

/** Whether this stack's program needs the cluster's lookup (a generated kubeconfig, or driver access). */
export function needsClusterLookup(config: StackConfig): boolean {
  return config.kubernetes.context === undefined || (config.kubernetes.driverAccess && config.services.some((s) => s.strategy !== undefined));
}

/**
 * Refuses, before any resource exists, release-driver access the cluster cannot give: an access
 * entry on a CONFIG_MAP cluster fails mid-`up`, and an endpoint the driver cannot reach makes
 * scale-downs silently never happen.
 * @throws DriverAccessError naming each problem and its fixes.
 */
export function checkDriverAccess(config: StackConfig, cluster: aws.eks.GetClusterResult): void {
  if (!config.kubernetes.driverAccess || !config.services.some((s) => s.strategy !== undefined)) return;
  const problems = driverAccessProblems(
    config.kubernetes.cluster,
    {
      authenticationMode: cluster.accessConfigs?.[0]?.authenticationMode,
      endpointPublicAccess: cluster.vpcConfig?.endpointPublicAccess,
      endpointPrivateAccess: cluster.vpcConfig?.endpointPrivateAccess,
      publicAccessCidrs: cluster.vpcConfig?.publicAccessCidrs,
    },
    { inVpc: config.kubernetes.driverVpc !== undefined, ...(config.kubernetes.driverVpc?.egressCidrs ? { egressCidrs: config.kubernetes.driverVpc.egressCidrs } : {}) },
  );
  if (problems.length > 0) throw new DriverAccessError(problems);
}

/** Name of the stack's explicit Kubernetes provider. */
export const CLUSTER_PROVIDER_NAME = "cluster";

/**
 * Builds a whole stack from validated config: one shared ingress, the namespaces (labelled so the
 * AWS Load Balancer Controller injects pod readiness gates), and one blue/green service per entry.
 */
export function buildStack(config: StackConfig, options: BuildOptions): StackResources {
  if (options.cluster) checkDriverAccess(config, options.cluster);
  // Credentials `aws eks get-token` cannot follow are refused before anything is registered.
  if (options.aws && config.kubernetes.context === undefined) eksTokenAuth(options.aws, config.kubernetes.cluster);
  // AWS's quotas, checked before anything is registered: preview fails naming each one.
  const quota = quotaProblems(config, { alarmNamePrefix: options.alarmNamePrefix });
  if (quota.length > 0) throw new QuotaError(quota);
  // Chat channels only where the Chatbot API exists: refused before anything is registered.
  const chatRegion = chatbotRegion(config.notifications, options.aws?.region);
  // One ALB per ingress group; a service stays on the group it names, whatever else changes.
  const ingresses = new Map<string, SharedIngress>();
  for (const [group, spec] of Object.entries(config.ingressGroups)) ingresses.set(group, sharedIngress(ingressName(group), spec));
  const ingress = ingresses.get(DEFAULT_INGRESS_GROUP) as SharedIngress;

  // One lookup of the EKS cluster, shared by the provider's kubeconfig and the release driver.
  let eks: pulumi.Output<aws.eks.GetClusterResult> | undefined;
  const lookup = options.cluster;
  const cluster = () => (eks ??= lookup ? pulumi.output(lookup) : aws.eks.getClusterOutput({ name: config.kubernetes.cluster }));
  // Every Kubernetes object goes to the cluster named in config, never the current context.
  const kubernetes = clusterProvider(CLUSTER_PROVIDER_NAME, {
    kubernetes: config.kubernetes,
    ...(config.kubernetes.context === undefined ? { lookup: cluster() } : {}),
    region: options.aws?.region,
    ...(options.aws ? { credentials: options.aws } : {}),
  });
  const onCluster = { providers: [kubernetes] };
  const namespaces = new Map<string, k8s.core.v1.Namespace>();
  if (config.createNamespaces) {
    for (const ns of new Set(config.services.map((s) => s.namespace))) {
      namespaces.set(
        ns,
        new k8s.core.v1.Namespace(ns, {
          metadata: {
            name: ns,
            labels: { [POD_READINESS_GATE_LABEL]: "enabled", "app.kubernetes.io/managed-by": "remedy" },
          },
        }, { provider: kubernetes }),
      );
    }
  }

  // The hotfix stack's namespace takes and opens connections only as its NetworkPolicy allows.
  isolateNamespace(config, namespaces, kubernetes);

  const now = options.now ?? new Date().toISOString();
  // A migration phase runs as a Job: expand/backfill before the releases that need them.
  const db = config.database;
  const jobArgs = db?.run && db.job
    ? {
        plan: db.run.plan,
        phase: db.run.phase,
        image: db.job.image,
        command: db.job.command,
        namespace: db.job.namespace,
        databaseUrlSecret: db.job.databaseUrlSecret,
        ...(db.job.allowRunAsRoot ? { allowRunAsRoot: true } : {}),
        rollbackWindow: options.rollbackWindow,
      }
    : undefined;
  const earlyJob = jobArgs && jobArgs.phase !== "contract" ? new MigrationJob("migrate", jobArgs, onCluster) : undefined;
  const services = new Map<string, BlueGreenService>();
  const plans = new Map<string, pulumi.Output<ReleasePlan>>();
  const bindingNames = new Map<string, Record<Slot, pulumi.Output<string>>>();
  const attachments = new Map([...ingresses].map(([group, ing]) => [group, ing.attachment()]));
  const attachmentOf = (spec: StackConfig["services"][number]) => attachments.get(spec.ingressGroup) as IngressAttachment;
  for (const spec of config.services) {
    const attachment = attachmentOf(spec);
    if (spec.desired && !spec.desired.resolved) {
      throw new Error(`internal: service ${spec.name} is in image mode but its slot was not resolved from release state (resolveDesiredReleases)`);
    }
    const state: pulumi.Output<ReleaseState | undefined> = pulumi.output(options.releases.get(spec.name));
    const plan = state.apply((s) => {
      const p = planRelease(desiredRelease(spec, options.apiOverrides?.get(spec.name)), s, now, options.by);
      for (const w of p.warnings) void pulumi.log.warn(w);
      return p;
    });
    plans.set(spec.name, plan);
    // Each binding keeps its name while its target group is the one release state recorded.
    const bindings = Object.fromEntries(
      SLOTS.map((slot) => [
        slot,
        pulumi.all([state, attachment.vpcId]).apply(([s, vpc]) =>
          bindingNameFor(spec.name, slot, slotTargetGroupName(spec, slot, vpc), s ? { targetGroupArn: s.routing.targetGroupArns[slot], binding: s.routing.bindings?.[slot] } : undefined),
        ),
      ]),
    ) as Record<Slot, pulumi.Output<string>>;
    bindingNames.set(spec.name, bindings);
    services.set(
      spec.name,
      new BlueGreenService(spec.name, {
        spec,
        ingress: attachment,
        namespace: namespaces.get(spec.namespace)?.metadata.name ?? spec.namespace,
        weights: plan.apply((p) => p.weights),
        // Each slot's size from what release state says it does, whichever slot config calls the candidate.
        replicas: Object.fromEntries(SLOTS.filter((slot) => spec.slots[slot]).map((slot) => [slot, plan.apply((p) => slotReplicas(p, slot, spec.slots))])),
        deploymentAnnotations: Object.fromEntries(SLOTS.map((slot) => [slot, plan.apply((p) => retiredAnnotations(p, slot))])),
        bindingNames: bindings,
        laneStates: Object.fromEntries(spec.legacy.map((lane, i) => [laneKey(i), state.apply((s) => laneRuleState(s, laneKey(i), lane, now))])),
        // What lets this stack's rollback Lambda (and its driver, stepping or watching) modify the rule.
        ruleTags: ruleTagsFor(spec, options.alarmNamePrefix),
        ...(options.secretServices ? { secretEnv: true } : {}),
        deployAfter: earlyJob ? [earlyJob] : [],
        // The read-only credential: the DDL-capable one stays in the migration Job.
        ...(db?.job ? { schemaGate: { image: db.job.image, command: db.job.checkCommand, databaseUrlSecret: db.job.checkDatabaseUrlSecret } } : {}),
      }, onCluster),
    );
  }

  // Who may publish to the stack's topic besides the rollback Lambda and operators: the release
  // driver (lifecycle notifications) and the identity running pulumi up (it tells releases it
  // starts). Both exist only once the topic does, so the topic policy takes them deferred.
  const [laterPublishers, setLaterPublishers] = pulumi.deferredOutput<string[]>();
  // The deployers administer the topic and its key (issue 35, 13); the one running this update is
  // known only once resolved, so deferred too.
  const [laterDeployer, setLaterDeployer] = pulumi.deferredOutput<string>();
  const rollback = new RollbackFunction(ROLLBACK_NAME, {
    alarmNamePrefix: options.alarmNamePrefix,
    rules: [...services.values()].map((s) => s.rule),
    loadBalancerArn: ingress.listenerArn,
    groupLoadBalancerArns: Object.fromEntries([...ingresses].filter(([group]) => group !== DEFAULT_INGRESS_GROUP).map(([group, ing]) => [group, ing.listenerArn])),
    notificationEmails: config.rollback.notificationEmails,
    stackName: pulumi.getStack(),
    publisherRoleArns: laterPublishers.apply((later) => [...config.rollback.operatorRoleArns, ...config.rollback.deployerRoleArns, ...later]),
    administratorArns: laterDeployer.apply((d) => [d, ...config.rollback.deployerRoleArns]),
    ...(config.rollback.permissionsBoundaryArn ? { permissionsBoundaryArn: config.rollback.permissionsBoundaryArn } : {}),
    tableDeletionProtection: config.rollback.tableDeletionProtection,
    logRetentionDays: config.rollback.logRetentionDays,
  });
  const progressive = config.services.filter((s) => driverRole(s) === "drive");
  const watchOnly = config.services.filter((s) => driverRole(s) === "watch");
  const routeValues = testRouteValues(progressive);
  const withLanes = config.services.filter((s) => s.legacy.length > 0);
  const driver =
    progressive.length + watchOnly.length + withLanes.length > 0
      ? new ReleaseDriver("release-driver", {
          alarmNamePrefix: options.alarmNamePrefix,
          tableName: rollback.tableName,
          tableArn: rollback.table.arn,
          services: progressive.map((s) => s.name),
          watchServices: watchOnly.map((s) => s.name),
          ...(withLanes.length > 0 ? { laneServices: withLanes.map((s) => s.name) } : {}),
          rules: [...progressive, ...watchOnly].map((s) => (services.get(s.name) as BlueGreenService).rule),
          hookFunctionArns: [...new Set(progressive.flatMap((s) => (s.preTraffic?.check.kind === "lambda" ? [s.preTraffic.check.functionArn] : [])))],
          ...(routeValues ? { testRouteValues: pulumi.secret(routeValues) } : {}),
          ...(config.kubernetes.driverAccess && progressive.length > 0 ? { kubernetes: driverClusterAccess(config, progressive, kubernetes, [...namespaces.values()], cluster()) } : {}),
          ...(config.kubernetes.driverVpc ? { vpc: config.kubernetes.driverVpc } : {}),
          alarmTopicArn: rollback.topicArn,
          notify: { topicArn: rollback.topicArn, topicKeyArn: rollback.topicKey.arn, stack: pulumi.getStack(), steps: config.notifications.steps },
          ...(config.rollback.permissionsBoundaryArn ? { permissionsBoundaryArn: config.rollback.permissionsBoundaryArn } : {}),
          logRetentionDays: config.rollback.logRetentionDays,
        })
      : undefined;
  const deployer = deployerArn(rollback);
  setLaterDeployer(deployer);
  setLaterPublishers(pulumi.all([deployer, driver ? driver.role.arn : pulumi.output("")]).apply(([d, r]) => [d, ...(r ? [r] : [])]));
  const n = config.notifications;
  const notifications =
    n.slack.length + n.teams.length + n.webhooks.length > 0 ? new StackNotifications("notifications", {
          prefix: options.alarmNamePrefix,
          topicArn: rollback.topicArn,
          topicKeyArn: rollback.topicKey.arn,
          notifications: n,
          ...(chatRegion ? { chatbotRegion: chatRegion } : {}),
          ...(config.rollback.permissionsBoundaryArn ? { permissionsBoundaryArn: config.rollback.permissionsBoundaryArn } : {}),
          logRetentionDays: config.rollback.logRetentionDays,
        }) : undefined;
  // Release state steers production: only the roles that must write it may. Every deployer (rollback.deployerRoleArns: CI,
  // break-glass) stays a writer whoever ran the last update (alternating ones never lock each other out); approvers approve.
  const tablePolicy = restrictTableWrites("release-table", {
    tableArn: rollback.table.arn,
    writers: [rollback.role.arn, ...(driver ? [driver.role.arn] : []), deployer, ...config.rollback.deployerRoleArns, ...config.rollback.operatorRoleArns],
    deployers: [deployer, ...config.rollback.deployerRoleArns],
    approvers: config.promotion?.approvals?.approvers ?? [],
  });
  // Pulumi diffs its state, not the live policy and tags: each run compares and puts them back
  // (issue 35, 2 and 14; stacks/liveGuards.ts), and the records wait for that.
  const policyInPlace = tablePolicyInPlace(tablePolicy, options.releases);
  const tagsInPlace = new Map(config.services.map((spec) => [spec.name, ruleTagsInPlace(spec.name, (services.get(spec.name) as BlueGreenService).ruleArn, ruleTagsFor(spec, options.alarmNamePrefix), options.releases)] as const));
  const alarms = new Map<string, AutoRollback>();
  for (const spec of config.services) {
    const svc = services.get(spec.name) as BlueGreenService;
    alarms.set(spec.name, new AutoRollback(`${spec.name}-rollback`, {
      service: spec.name,
      slots: SLOTS.filter((slot) => spec.slots[slot] !== undefined),
      alarms: spec.alarms,
      versions: Object.fromEntries(SLOTS.flatMap((slot) => (spec.slots[slot] ? [[slot, spec.slots[slot].version]] : []))),
      alarmNamePrefix: options.alarmNamePrefix,
      listenerArn: attachmentOf(spec).listenerArn,
      targetGroupArns: svc.targetGroupArns,
      ruleArn: svc.ruleArn,
      functionArn: rollback.functionArn,
      topicArn: rollback.topicArn,
      lanes: svc.legacyLanes.map((l) => ({ key: l.key, targetGroupArn: l.targetGroup.arn, rollsBack: l.previous !== undefined })),
    }));
  }

  // What people look at: traffic, errors, latency and weight per service, with its alarms.
  const dashboard = new StackDashboard("dashboard", {
    prefix: options.alarmNamePrefix,
    stack: pulumi.getStack(),
    services: config.services.map((spec) => ({
      name: spec.name,
      listenerArn: attachmentOf(spec).listenerArn,
      slots: SLOTS.filter((slot) => spec.slots[slot] !== undefined),
      targetGroupArns: (services.get(spec.name) as BlueGreenService).targetGroupArns,
      alarmArns: (alarms.get(spec.name) as AutoRollback).alarmArns,
    })),
  });

  // After each service is deployed (and the table exists), record the release. Skipped in
  // preview, which must not change anything.
  const releases = new Map<string, pulumi.Output<ReleaseSummary>>();
  for (const spec of config.services) {
    const svc = services.get(spec.name) as BlueGreenService;
    const plan = plans.get(spec.name) as pulumi.Output<ReleasePlan>;
    releases.set(
      spec.name,
      pulumi
        // After the table's policy is in place: a new deployer's first writes would be denied by the old one.
        .all([tagsInPlace.get(spec.name) as pulumi.Output<string>, svc.targetGroupArns, plan, rollback.tableName, bindingNames.get(spec.name) as Record<Slot, pulumi.Output<string>>, rollback.topicArn, policyInPlace, pulumi.all([rollback.overridesUrl, laneRoutings(spec, svc.legacyLanes), deployer])])
        .apply(async ([ruleArn, targetGroupArns, p, , bindings, notifyTopicArn, , [overridesUrl, lanes, releaser]]): Promise<ReleaseSummary> => {
          const summary = (s: ReleaseState | undefined) => releaseSummary(spec, s, p.held);
          if (pulumi.runtime.isDryRun()) return summary(await options.releases.get(spec.name));
          const b = await recordBundle(spec, p.events, { releaser, now, ...(options.apiOverrides?.get(spec.name) ? { apiOverride: options.apiOverrides.get(spec.name) as string } : {}), plans: options.plans ?? [], applied: config.database?.applied ?? [], baseDir: process.cwd() }, options.releases);
          const r = await options.releases.record(
            spec.name,
            // The bindings' names (a slot without a workload: the name its binding will get), so
            // the next up keeps them while the target groups stay; relative and custom alarm kinds.
            { ruleArn, targetGroupArns, stickinessSeconds: spec.stickinessSeconds, bindings, notifyTopicArn, ...recordedAlarmKinds(spec.alarms), ingressGroup: spec.ingressGroup, ...(FUNCTION_URL.test(overridesUrl) ? { overridesUrl } : {}) },
            // The lanes as deployed (a first record adopts before anything else).
            [...b.events, { type: "record-lanes" as const, lanes, at: now, by: options.by }],
            p.weights,
            SLOTS.flatMap((slot) => {
              const s = spec.slots[slot];
              return s ? [{ slot, version: s.version, image: s.image }] : [];
            }),
          );
          for (const w of r.warnings) void pulumi.log.warn(w);
          return summary(r.state);
        }),
    );
  }
  // A contract Job runs after the releases that stopped using the old shape.
  const migration =
    earlyJob ?? (jobArgs?.phase === "contract" ? new MigrationJob("migrate", jobArgs, { ...onCluster, dependsOn: [...services.values()] }) : undefined);
  return { ingress, ingresses, namespaces, services, rollback, kubernetes, driver, notifications, dashboard, alarms, alarmNamePrefix: options.alarmNamePrefix, plans, releases, migration };
}

/** The SharedIngress component name of an ingress group: the default group keeps the stack's first name. */
export function ingressName(group: string): string {
  return group === DEFAULT_INGRESS_GROUP ? INGRESS_NAME : `${INGRESS_NAME}-${group}`;
}

function sharedIngress(name: string, spec: IngressSpec): SharedIngress {
  return spec.mode === "existing"
    ? new SharedIngress(name, { vpcId: spec.vpcId, listenerArn: spec.listenerArn, securityGroupId: spec.securityGroupId })
    : new SharedIngress(name, {
        vpcId: spec.vpcId,
        subnetIds: [...spec.subnetIds],
        certificateArn: spec.certificateArn,
        ...(spec.additionalCertificateArns.length > 0 ? { additionalCertificateArns: [...spec.additionalCertificateArns] } : {}),
        internal: spec.internal,
        allowedCidrs: spec.allowedCidrs,
        idleTimeoutSeconds: spec.idleTimeoutSeconds,
        deletionProtection: spec.deletionProtection,
        allowPlainHttp: spec.allowPlainHttp,
      });
}

/** What the release driver needs to scale the progressive services' promoted-away slots to 0. */
function driverClusterAccess(
  config: StackConfig,
  progressive: readonly StackConfig["services"][number][],
  provider: k8s.Provider,
  namespaces: readonly k8s.core.v1.Namespace[],
  cluster: pulumi.Output<aws.eks.GetClusterResult>,
) {
  return {
    provider,
    cluster: config.kubernetes.cluster,
    endpoint: cluster.endpoint,
    certificateAuthorityData: cluster.certificateAuthorities.apply((cas) => cas?.[0]?.data ?? ""),
    namespaces: Object.fromEntries(progressive.map((s) => [s.name, s.namespace])),
    dependsOn: namespaces,
  };
}

/** The release driver's cluster access cannot work as configured; lists each problem and its fixes. */
export class DriverAccessError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the release driver cannot reach the cluster as configured:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "DriverAccessError";
  }
}

/**
 * Annotations of a slot's Deployment from release state: a slot the release driver scaled to 0
 * that this update brings back (traffic returns to it, or a new version goes in) is marked with
 * when it was retired. Its Deployment then differs from Pulumi's last inputs even where those
 * already had its full replica count (they were never 0: the driver scaled it outside Pulumi), so
 * the provider re-applies the replicas and awaits the rollout before the rule gives it traffic.
 */
export function retiredAnnotations(plan: ReleasePlan, slot: Slot): Record<string, string> {
  return plan.retired && !plan.retired.keep && plan.retired.slot === slot ? { [RETIRED_AT_ANNOTATION]: plan.retired.at } : {};
}

/** The stack's exports. */
export function stackOutputs(resources: StackResources): StackOutputs {
  const services: Record<string, ServiceOutputs> = {};
  for (const [name, svc] of resources.services) {
    const images: Partial<Record<Slot, string>> = {};
    for (const [slot, s] of Object.entries(svc.spec.slots)) images[slot as Slot] = s.image;
    services[name] = {
      namespace: pulumi.output(svc.spec.namespace),
      activeSlot: svc.activeSlot,
      candidateSlot: svc.candidateSlot,
      weights: svc.weights,
      versions: svc.versions,
      images,
      targetGroupArns: svc.targetGroupArns,
      targetGroupNames: svc.targetGroupNames,
      ruleArn: svc.ruleArn,
      ingressGroup: svc.spec.ingressGroup,
      dnsName: (resources.ingresses.get(svc.spec.ingressGroup) as SharedIngress).dnsName,
      alarmNames: (resources.alarms.get(name) as AutoRollback).alarmNames,
      release: resources.releases.get(name) as pulumi.Output<ReleaseSummary>,
      legacy: svc.legacyLanes.map((l) => ({ version: l.spec.version, image: l.spec.image, ...(l.spec.rollbackTo ? { rollbackTo: l.spec.rollbackTo } : {}), targetGroupArn: l.targetGroup.arn, ruleArn: l.rule.arn, deprecatedAt: l.spec.deprecatedAt, sunsetAt: l.spec.sunsetAt, link: l.spec.link, owner: l.spec.owner, clients: l.spec.clients, ...(l.callersRule ? { callersRule: l.callersRule.ruleName } : {}) })),
    };
  }
  const ingressOutputs = (ing: SharedIngress): IngressOutputs => ({ listenerArn: ing.listenerArn, securityGroupId: ing.securityGroupId, dnsName: ing.dnsName });
  return {
    ingress: ingressOutputs(resources.ingress),
    ingressGroups: Object.fromEntries(
      [...resources.ingresses].map(([group, ing]) => [group, { ...ingressOutputs(ing), services: [...resources.services.values()].filter((s) => s.spec.ingressGroup === group).map((s) => s.spec.name) }]),
    ),
    services,
    rollback: {
      functionArn: resources.rollback.functionArn,
      releaseTable: resources.rollback.tableName,
      notificationTopicArn: resources.rollback.topicArn,
      alarmNamePrefix: resources.alarmNamePrefix,
      overridesUrl: resources.rollback.overridesUrl, // `remedy rollback/abort/promote --url`
    },
    lambdaCode: { rollback: resources.rollback.code, ...(resources.driver ? { "release-driver": resources.driver.code } : {}) },
    dashboardUrls: resources.dashboard.urls,
  };
}
