/**
 * The stack program's side of release state: read each service's state before planning (so
 * `pulumi up` converges on what the rollback Lambda did), and record the release after the
 * deployment. Behind an interface so unit tests use memory and the moto harness uses moto.
 */
import type { LaneKey } from "../core/naming";
import type { ReleaseBundle } from "../core/promotion/bundle";
import { describeTopCallers } from "../lambdas/commons/topCallers";
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { WEIGHT_METRIC, WEIGHT_NAMESPACE, weightDimensions } from "../core/dashboard";
import { DynamoDBClient, GetResourcePolicyCommand, PolicyNotFoundException, PutResourcePolicyCommand, ResourceNotFoundException } from "@aws-sdk/client-dynamodb";
import { AddTagsCommand, ElasticLoadBalancingV2Client, RemoveTagsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { type AwsSettings, sdkClientConfig } from "./awsClients";
import { isDeepStrictEqual } from "node:util";
import {
  applyEvent,
  fillImages,
  initialState,
  type HistoryEntry,
  type ReleaseEvent,
  type ReleaseState,
  type Routing,
  type SlotVersion,
} from "../core/releaseState";
import type { SlotWeights } from "../core/weights";
import { ConflictError, type OutboxMessage, ReleaseStore } from "../lambdas/commons/releaseStore";
import { deliverPending } from "../lambdas/commons/outbox";
import { publishNotice } from "../lambdas/commons/notify";
import { type NoticeOptions, lifecycleNotice } from "../core/lifecycle";
import { SNSClient } from "@aws-sdk/client-sns";
import { GetAccountSettingsCommand, LambdaClient } from "@aws-sdk/client-lambda";
import * as pulumi from "@pulumi/pulumi";
import { Traffic } from "../lambdas/commons/traffic";
import { wrongRemedyTags } from "../core/naming";

/** The subset of ReleaseStore the program needs (memory in unit tests). */
export interface ReleaseStoreLike {
  get(service: string): Promise<ReleaseState | undefined>;
  create(state: ReleaseState): Promise<void>;
  commit(expectedRevision: number, next: ReleaseState, entry: HistoryEntry, notification?: OutboxMessage): Promise<void>;
}

/** What recording needs of the ALB: the rule read and checked, then moved (lambdas/commons/traffic.ts). */
export type TrafficLike = Pick<Traffic, "checkRouting" | "setWeights"> & Partial<Pick<Traffic, "setLaneForward">>;

export interface RecordResult {
  readonly state: ReleaseState;
  readonly warnings: readonly string[];
  /** Lifecycle notifications recorded with the changes (sent by the backend). */
  readonly notices: number;
}

export interface ReleaseBackend {
  /** The service's state, or `undefined` when it has none (or the table does not exist yet). */
  get(service: string): Promise<ReleaseState | undefined>;
  /** Applies the plan's events after a deployment; see {@link recordRelease}. */
  record(service: string, routing: Routing, events: readonly ReleaseEvent[], deployedWeights: SlotWeights, deployed?: readonly SlotVersion[]): Promise<RecordResult>;
  /**
   * Tells the service's topic `message` once per `key` (a conditional write claims the key first),
   * for what happens without a change to record (a hotfix mode expiring).
   */
  /** Sends `message` to `topicArn` (the stack's own topic, never a record's) once per key. */
  announceOnce?(service: string, key: string, message: OutboxMessage, topicArn: string): Promise<"sent" | "already">;
  /** Drops what a snapshot read of the service holds, after this run changed it (see {@link snapshotReads}). */
  forget?(service: string): void;
  /** The approvals of a bundle recorded in this stack's table (issue 38, 7). */
  approvals?(service: string, bundle: string): Promise<{ bundle: string; by: string; at: string }[]>;
  /** Records a release bundle in this stack's history, once (issue 38, 2). */
  recordBundle?(service: string, bundle: ReleaseBundle): Promise<void>;
  /** The latest `remedy retire` decision about a legacy lane (issue 37, 6). */
  retirementDecision?(service: string, version: string): Promise<{ readonly at: string; readonly allowed: boolean } | undefined>;
  /** A legacy lane's top callers over a window (its Contributor Insights rule), as people read them. */
  topCallers?(ruleName: string, fromMs: number, toMs: number): Promise<string>;
  /** The account's Lambda concurrency limit (GetAccountSettings), where the backend reaches AWS. */
  lambdaConcurrencyLimit?(): Promise<number | undefined>;
  /**
   * Compares the table's live resource policy with `policy` (what this stack writes) and, unless
   * `dryRun`, puts it back when it is missing or differs: Pulumi compares with its own state,
   * not the live policy, so a policy removed or edited outside Pulumi would stay that way.
   */
  ensureTablePolicy?(tableArn: string, policy: string, dryRun: boolean): Promise<TablePolicyCheck>;
  /**
   * Compares a rule's live `remedy:*` tags with `want` and, unless `dryRun`, puts them back: the
   * Lambdas' ModifyRule is scoped by them, so a tag removed (RemoveTags: the AWS Load Balancer
   * Controller's published policy grants it on every listener rule) silently disables automatic
   * rollback, and one added elsewhere extends a role's reach (issue 35, 14). Pulumi diffs its
   * state, not the live tags.
   */
  ensureRuleTags?(ruleArn: string, want: Readonly<Record<string, string>>, dryRun: boolean): Promise<RuleTagCheck>;
}

/** What {@link ReleaseBackend.ensureRuleTags} found: in place, or the tags missing or differing. */
export type RuleTagCheck = "in-place" | { readonly wrong: readonly string[]; readonly restored: boolean };

/** What {@link ReleaseBackend.ensureTablePolicy} found. */
export type TablePolicyCheck = "in-place" | { readonly found: "missing" | "changed"; readonly restored: boolean };

/** The same policy, however a service reformats it (key order, whitespace, a one-element list). */
export function samePolicy(a: string, b: string): boolean {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length === 1 ? norm(v[0]) : v.map(norm);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)).map(([k, x]) => [k, norm(x)]));
    return v;
  };
  try {
    return isDeepStrictEqual(norm(JSON.parse(a)), norm(JSON.parse(b)));
  } catch {
    return false;
  }
}

/** How long an announcement's key stays claimed: longer than anything it is about lasts. */
const ANNOUNCE_ONCE_MS = 366 * 86_400_000;

const MAX_ATTEMPTS = 4;

/**
 * Applies `events` to the service's current state with conditional writes (re-reading on a
 * conflict), creating the state on first use and keeping `routing` current. If the resulting
 * state disagrees with the weights the deployment just gave the rule (the Lambda rolled back
 * while `pulumi up` ran), the rule is set back to the state's weights: state wins, no drift.
 */
export async function recordRelease(
  store: ReleaseStoreLike,
  traffic: TrafficLike,
  service: string,
  routing: Routing,
  events: readonly ReleaseEvent[],
  deployedWeights: SlotWeights,
  deployed: readonly SlotVersion[] = [],
  notify?: NoticeOptions,
): Promise<RecordResult> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const warnings: string[] = [];
    let notices = 0;
    try {
      let s = await store.get(service);
      let pending = [...events];
      if (!s) {
        const first = pending[0];
        if (!first || first.type !== "adopt") throw new Error(`internal: first record of ${service} must adopt a stable version`);
        s = initialState(service, first.stable, routing, first.at);
        await store.create(s);
        pending = pending.slice(1);
      }
      // Bookkeeping the program owns (not release transitions): a conditional write each.
      const at = events[0]?.at ?? new Date().toISOString();
      const by = events[0]?.by ?? "pulumi";
      const bookkeep = async (current: ReleaseState, patch: Partial<ReleaseState>, action: "update-routing" | "record-images", summary: string): Promise<ReleaseState> => {
        const next: ReleaseState = { ...current, ...patch, revision: current.revision + 1, updatedAt: at };
        await store.commit(current.revision, next, { service, revision: next.revision, at, by, action, releaseId: next.releaseId, summary, weights: next.weights });
        return next;
      };
      if (!isDeepStrictEqual(s.routing, routing)) s = await bookkeep(s, { routing }, "update-routing", `routing: rule ${routing.ruleArn}`);
      const images = fillImages(s, deployed);
      if (images) {
        // Records written before image mode: learn the images the slots run (image mode needs them).
        const named = [images.stable, images.candidate, images.previous].filter((v): v is SlotVersion => !!v?.image).map((v) => `${v.version} (${v.slot}) = ${v.image}`);
        s = await bookkeep(s, images, "record-images", `images: ${named.join(", ")}`);
      }
      for (const e of pending) {
        const t = applyEvent(s, e);
        if (t.kind === "refused") warnings.push(`service ${service}: release state refused ${e.type}: ${t.reason}`);
        if (t.kind !== "applied") continue;
        // What people are told (release started, hotfix shipped...), recorded with the change.
        const notice = notify ? lifecycleNotice(s, t.state, t.entry, notify) : undefined;
        await store.commit(s.revision, t.state, t.entry, notice);
        if (notice) notices++;
        s = t.state;
      }
      // The rule as the load balancer has it, not as Pulumi last set it: a change made outside
      // Pulumi (the rollback Lambda, the driver, a drain before this update's rollouts) leaves
      // Pulumi's inputs equal to the plan while the live rule differs, and Pulumi does not move it.
      const check = await traffic.checkRouting(service, routing);
      if (!check.ok) throw new Error(`service ${service}: ${check.problem}`);
      if (!isDeepStrictEqual(s.weights, check.live.weights)) await traffic.setWeights(check.checked, s.weights);
      // Each legacy lane's rule, likewise: after a lane rollback Pulumi's inputs may equal its
      // state while the live rule forwards elsewhere (the next hotfix would get no traffic).
      for (const [key, lane] of Object.entries(s.lanes ?? {})) {
        const r = await traffic.setLaneForward?.(service, key as LaneKey, lane, Date.now());
        if (r && typeof r === "object") throw new Error(`service ${service}: ${r.problem}`);
        if (r === "moved") warnings.push(`service ${service}: legacy lane ${lane.version}'s rule now forwards as release state says (${lane.rolledBack ? `back to ${lane.rolledBack.toImage}` : lane.image})`);
      }
      if (!isDeepStrictEqual(s.weights, deployedWeights)) {
        warnings.push(
          `service ${service}: release state changed while this update ran (phase ${s.phase}); the rule now follows it: blue ${s.weights.blue}% / green ${s.weights.green}%`,
        );
      }
      return { state: s, warnings, notices };
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt === MAX_ATTEMPTS) throw err;
    }
  }
  throw new Error("unreachable");
}

/**
 * The stack's release table is missing although the stack was deployed before (its rollback
 * alarms exist): the table was deleted, or these credentials/region reach another account.
 * Treating that as a first deployment would forget every rollback and re-ship held versions.
 */
export class ReleaseStateUnavailableError extends Error {
  constructor(tableName: string, evidence: string) {
    super(
      `release table ${tableName} does not exist, but this stack was deployed before (${evidence}); ` +
        "refusing to treat it as a first deployment, which would forget recorded rollbacks. Check aws:region, aws:profile and aws:assumeRoles " +
        "point at the stack's account, or restore the table (point-in-time recovery is on) before running `pulumi up` again",
    );
    this.name = "ReleaseStateUnavailableError";
  }
}

/**
 * Release state in the stack's DynamoDB table, with the provider's settings (`aws:region`,
 * `aws:profile`, `aws:assumeRoles`...) and the SDK's usual environment (incl. AWS_ENDPOINT_URL).
 */
export class DynamoReleaseBackend implements ReleaseBackend {
  private readonly ddb: DynamoDBClient;
  private readonly elb: ElasticLoadBalancingV2Client;
  private readonly store: ReleaseStore;
  private readonly traffic: Traffic;
  private readonly cloudwatch: CloudWatchClient;
  private readonly sns: SNSClient;

  /**
   * @param alarmNamePrefix the stack's alarm prefix: its alarms existing without the table means
   *   the table should exist.
   */
  constructor(
    private readonly tableName: string,
    settings: AwsSettings,
    private readonly alarmNamePrefix?: string,
  ) {
    const config = sdkClientConfig(settings);
    this.ddb = new DynamoDBClient(config);
    this.store = new ReleaseStore(this.ddb, tableName);
    this.elb = new ElasticLoadBalancingV2Client(config);
    this.traffic = new Traffic(this.elb);
    this.cloudwatch = new CloudWatchClient(config);
    this.sns = new SNSClient(config);
    this.lambda = new LambdaClient(config);
  }

  private readonly lambda: LambdaClient;

  async lambdaConcurrencyLimit(): Promise<number | undefined> {
    return (await this.lambda.send(new GetAccountSettingsCommand({}))).AccountLimit?.ConcurrentExecutions;
  }

  async ensureRuleTags(ruleArn: string, want: Readonly<Record<string, string>>, dryRun: boolean): Promise<RuleTagCheck> {
    const live = (await this.traffic.ruleTags([ruleArn])).get(ruleArn) ?? {};
    const wrong = wrongRemedyTags(live, want);
    if (wrong.length === 0) return "in-place";
    if (!dryRun) {
      await this.elb.send(new AddTagsCommand({ ResourceArns: [ruleArn], Tags: Object.entries(want).map(([Key, Value]) => ({ Key, Value })) }));
      const extra = Object.keys(live).filter((k) => k.startsWith("remedy:") && !(k in want));
      if (extra.length > 0) await this.elb.send(new RemoveTagsCommand({ ResourceArns: [ruleArn], TagKeys: extra }));
    }
    return { wrong, restored: !dryRun };
  }

  async ensureTablePolicy(tableArn: string, policy: string, dryRun: boolean): Promise<TablePolicyCheck> {
    let live: string | undefined;
    try {
      live = (await this.ddb.send(new GetResourcePolicyCommand({ ResourceArn: tableArn }))).Policy;
    } catch (err) {
      if (!(err instanceof PolicyNotFoundException)) throw err;
    }
    if (live !== undefined && samePolicy(live, policy)) return "in-place";
    const found = live === undefined ? "missing" : "changed";
    if (!dryRun) await this.ddb.send(new PutResourcePolicyCommand({ ResourceArn: tableArn, Policy: policy }));
    return { found, restored: !dryRun };
  }

  async get(service: string): Promise<ReleaseState | undefined> {
    try {
      return await this.store.get(service);
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
      // First deployment (the table is created by this very update) unless the stack's alarms
      // already exist: then the table should too. Alarms are created only after the table (their
      // action is the Lambda, whose role policy names the table), so an `up` that failed halfway
      // never leaves alarms without a table and cannot lock itself out here.
      if (this.alarmNamePrefix) {
        const out = await this.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: `${this.alarmNamePrefix}/`, MaxRecords: 1 }));
        const found = [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])][0]?.AlarmName;
        if (found) throw new ReleaseStateUnavailableError(this.tableName, `its alarm ${found} exists`);
      }
      return undefined;
    }
  }

  topCallers(ruleName: string, fromMs: number, toMs: number): Promise<string> {
    return describeTopCallers(this.cloudwatch, ruleName, fromMs, toMs);
  }

  retirementDecision(service: string, version: string): Promise<{ readonly at: string; readonly allowed: boolean } | undefined> {
    return this.store.latestRetirementDecision(service, version);
  }

  async recordBundle(service: string, bundle: ReleaseBundle): Promise<void> {
    await this.store.recordBundle(service, { ...bundle });
  }

  approvals(service: string, bundle: string): Promise<{ bundle: string; by: string; at: string }[]> {
    return this.store.approvals(service, bundle);
  }

  async announceOnce(service: string, key: string, message: OutboxMessage, topicArn: string): Promise<"sent" | "already"> {
    if (!(await this.store.claimEscalation(service, key, Date.now(), ANNOUNCE_ONCE_MS))) return "already";
    await publishNotice(this.sns, topicArn, message);
    return "sent";
  }


  async record(service: string, routing: Routing, events: readonly ReleaseEvent[], deployedWeights: SlotWeights, deployed?: readonly SlotVersion[]): Promise<RecordResult> {
    const recorded = await recordRelease(this.store, this.traffic, service, routing, events, deployedWeights, deployed, { stack: pulumi.getStack(), steps: false });
    const r = await putWeight(this.cloudwatch, this.alarmNamePrefix, recorded);
    if (r.notices === 0 || !routing.notifyTopicArn) return r;
    // Sent right away with the deployer's credentials; a failed send stays in the outbox for
    // the next delivery (the release driver's or the rollback Lambda's) and is said here.
    try {
      const d = await deliverPending(this.store, { sns: this.sns, topicArn: routing.notifyTopicArn }, service);
      return d.failed.length === 0 ? r : { ...r, warnings: [...r.warnings, `service ${service}: notification left pending (sent by the next delivery): ${d.failed.join("; ")}`] };
    } catch (err) {
      return { ...r, warnings: [...r.warnings, `service ${service}: notification left pending (sent by the next delivery): ${(err as Error).message}`] };
    }
  }
}

/** Publishes the candidate's weight after an up, for the stack dashboard (a warning if it cannot). */
async function putWeight(cloudwatch: CloudWatchClient, prefix: string | undefined, r: RecordResult): Promise<RecordResult> {
  if (!prefix) return r;
  const s = r.state;
  try {
    await cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: WEIGHT_NAMESPACE,
        MetricData: [{ MetricName: WEIGHT_METRIC, Unit: "Percent", Value: s.candidate ? s.weights[s.candidate.slot] : 0, Dimensions: Object.entries(weightDimensions(prefix, s.service)).map(([Name, Value]) => ({ Name, Value })) }],
      }),
    );
    return r;
  } catch (err) {
    return { ...r, warnings: [...r.warnings, `service ${s.service}: the weight metric was not published (cloudwatch:PutMetricData): ${(err as Error).message}`] };
  }
}

/**
 * Reads each service's state once per program run: the migration gate, the plan and the preview
 * summary all see the same snapshot (and the table is not read three times per service).
 * Recording still re-reads inside {@link recordRelease}, which must see the latest state.
 */
export function snapshotReads(backend: ReleaseBackend): ReleaseBackend {
  const reads = new Map<string, Promise<ReleaseState | undefined>>();
  return {
    get(service) {
      let read = reads.get(service);
      if (!read) {
        read = backend.get(service);
        reads.set(service, read);
      }
      return read;
    },
    record: (service, routing, events, deployedWeights, deployed) => backend.record(service, routing, events, deployedWeights, deployed),
    forget: (service) => void reads.delete(service),
    ...(backend.lambdaConcurrencyLimit ? { lambdaConcurrencyLimit: backend.lambdaConcurrencyLimit.bind(backend) } : {}),
    ...(backend.ensureTablePolicy ? { ensureTablePolicy: backend.ensureTablePolicy.bind(backend) } : {}),
    ...(backend.ensureRuleTags ? { ensureRuleTags: backend.ensureRuleTags.bind(backend) } : {}),
    ...(backend.announceOnce ? { announceOnce: backend.announceOnce.bind(backend) } : {}),
    ...(backend.topCallers ? { topCallers: backend.topCallers.bind(backend) } : {}),
    ...(backend.retirementDecision ? { retirementDecision: backend.retirementDecision.bind(backend) } : {}),
    ...(backend.recordBundle ? { recordBundle: backend.recordBundle.bind(backend) } : {}),
    ...(backend.approvals ? { approvals: backend.approvals.bind(backend) } : {}),
  };
}

type Factory = (tableName: string, settings: AwsSettings, alarmNamePrefix: string) => ReleaseBackend;
let factory: Factory = (tableName, settings, alarmNamePrefix) => new DynamoReleaseBackend(tableName, settings, alarmNamePrefix);

/** The backend the stack program uses; tests and the local harness replace it. */
export function releaseBackend(tableName: string, settings: AwsSettings, alarmNamePrefix: string): ReleaseBackend {
  return factory(tableName, settings, alarmNamePrefix);
}

/** Replaces the backend factory; returns a function that restores the previous one. */
export function setReleaseBackendFactory(f: Factory): () => void {
  const previous = factory;
  factory = f;
  return () => {
    factory = previous;
  };
}

