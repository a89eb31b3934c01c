/**
 * Release state in memory (unit tests, the program under mocks, previews without AWS): the
 * release store, and a backend whose ELB is an in-memory stand-in for the two calls recording
 * makes, so the real {@link Traffic} checks and moves against it.
 */
import type { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { DescribeRulesCommand, ModifyRuleCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import * as pulumi from "@pulumi/pulumi";
import { laneForward } from "../core/laneState";
import { wrongRemedyTags } from "../core/naming";
import type { ReleaseBundle } from "../core/promotion/bundle";
import type { HistoryEntry, ReleaseEvent, ReleaseState, Routing, SlotVersion } from "../core/releaseState";
import { SLOTS } from "../core/slots";
import type { SlotWeights } from "../core/weights";
import { ConflictError, type OutboxMessage } from "../lambdas/commons/releaseStore";
import { Traffic, liveRuleOf } from "../lambdas/commons/traffic";
import { type RecordResult, type ReleaseBackend, type ReleaseStoreLike, type RuleTagCheck, type TablePolicyCheck, recordRelease, samePolicy } from "./releases";

/** In-memory release state (unit tests, previews without AWS). */
export class MemoryReleaseStore implements ReleaseStoreLike {
  readonly states = new Map<string, ReleaseState>();
  readonly history: HistoryEntry[] = [];

  get(service: string): Promise<ReleaseState | undefined> {
    return Promise.resolve(this.states.get(service));
  }

  create(state: ReleaseState): Promise<void> {
    if (this.states.has(state.service)) return Promise.reject(new ConflictError(state.service, -1));
    this.states.set(state.service, state);
    return Promise.resolve();
  }

  /** Notifications recorded with the changes, in order (what the outbox would hold). */
  readonly notifications: OutboxMessage[] = [];

  commit(expectedRevision: number, next: ReleaseState, entry: HistoryEntry, notification?: OutboxMessage): Promise<void> {
    const current = this.states.get(next.service);
    if (!current || current.revision !== expectedRevision) return Promise.reject(new ConflictError(next.service, expectedRevision));
    this.states.set(next.service, next);
    this.history.push(entry);
    if (notification) this.notifications.push(notification);
    return Promise.resolve();
  }
}

export class MemoryReleaseBackend implements ReleaseBackend {
  readonly weightsSet: { routing: Routing; weights: SlotWeights }[] = [];
  private readonly rules = new Map<string, { routing: Routing; weights: SlotWeights }>();
  /** What announceOnce sent, by key, and to which topic. */
  readonly announced = new Map<string, OutboxMessage & { readonly topicArn: string }>();

  announceOnce(service: string, key: string, message: OutboxMessage, topicArn: string): Promise<"sent" | "already"> {
    if (this.announced.has(`${service}#${key}`)) return Promise.resolve("already");
    this.announced.set(`${service}#${key}`, { ...message, topicArn });
    return Promise.resolve("sent");
  }
  constructor(readonly store = new MemoryReleaseStore()) {}

  /**
   * The table's live resource policy, by table ARN: absent until the first check (which finds
   * what Pulumi has just put), `null` once removed. Tests remove or edit it as someone outside
   * Pulumi would.
   */
  readonly tablePolicies = new Map<string, string | null>();

  /** Rules' live tags, by ARN: absent until the first check (which finds what Pulumi put). */
  readonly ruleTags = new Map<string, Record<string, string>>();

  ensureRuleTags(ruleArn: string, want: Readonly<Record<string, string>>, dryRun: boolean): Promise<RuleTagCheck> {
    if (!this.ruleTags.has(ruleArn)) this.ruleTags.set(ruleArn, { ...want });
    const live = this.ruleTags.get(ruleArn) as Record<string, string>;
    const wrong = wrongRemedyTags(live, want);
    if (wrong.length === 0) return Promise.resolve("in-place");
    if (!dryRun) this.ruleTags.set(ruleArn, { ...Object.fromEntries(Object.entries(live).filter(([k]) => !k.startsWith("remedy:"))), ...want });
    return Promise.resolve({ wrong, restored: !dryRun });
  }

  ensureTablePolicy(tableArn: string, policy: string, dryRun: boolean): Promise<TablePolicyCheck> {
    if (!this.tablePolicies.has(tableArn)) this.tablePolicies.set(tableArn, policy);
    const live = this.tablePolicies.get(tableArn) ?? undefined;
    if (live !== undefined && samePolicy(live, policy)) return Promise.resolve("in-place");
    if (!dryRun) this.tablePolicies.set(tableArn, policy);
    return Promise.resolve({ found: live === undefined ? "missing" : "changed", restored: !dryRun });
  }

  get(service: string): Promise<ReleaseState | undefined> {
    return this.store.get(service);
  }

  /** Approvals recorded (a test's, as remedy approve records them). */
  readonly approvalsRecorded: { bundle: string; by: string; at: string; service: string }[] = [];

  approvals(service: string, bundle: string): Promise<{ bundle: string; by: string; at: string }[]> {
    return Promise.resolve(this.approvalsRecorded.filter((a) => a.service === service && a.bundle === bundle).map(({ bundle: b, by, at }) => ({ bundle: b, by, at })));
  }

  /** Release bundles recorded, by id. */
  readonly bundles = new Map<string, ReleaseBundle>();

  recordBundle(_service: string, bundle: ReleaseBundle): Promise<void> {
    if (!this.bundles.has(bundle.id)) this.bundles.set(bundle.id, bundle);
    return Promise.resolve();
  }

  /** `remedy retire` decisions, by `<service> <version>` (the latest). */
  readonly retirements = new Map<string, { readonly at: string; readonly allowed: boolean }>();

  retirementDecision(service: string, version: string): Promise<{ readonly at: string; readonly allowed: boolean } | undefined> {
    return Promise.resolve(this.retirements.get(`${service} ${version}`));
  }

  /** Legacy lanes' rules as deployed and moved since, by ARN: what each forwards to. */
  readonly laneRules = new Map<string, { targetGroupArn: string; weight: number }[]>();

  async record(service: string, routing: Routing, events: readonly ReleaseEvent[], deployedWeights: SlotWeights, deployed?: readonly SlotVersion[]): Promise<RecordResult> {
    // The rules as this update deployed them (a lane's as the program did, from the state it
    // read), on an in-memory ELB that records each move.
    this.rules.set(routing.ruleArn, { routing, weights: deployedWeights });
    const before = (await this.store.get(service))?.lanes ?? {};
    for (const e of events) {
      if (e.type !== "record-lanes") continue;
      for (const [key, lane] of Object.entries(e.lanes)) {
        const rb = before[key]?.rolledBack;
        this.laneRules.set(lane.ruleArn, laneForward({ ...lane, ...(rb && rb.image === lane.image && lane.rollback ? { rolledBack: rb } : {}) }));
      }
    }
    const traffic = new Traffic(memoryElb(this.rules, (r, w) => this.weightsSet.push({ routing: r, weights: w }), this.laneRules));
    return recordRelease(this.store, traffic, service, routing, events, deployedWeights, deployed, { stack: pulumi.getStack(), steps: false });
  }
}


/**
 * An in-memory stand-in for the two ELB calls recording makes, DescribeRules by ARN and
 * ModifyRule, over `rules` (the rule forwards to its routing's two target groups), for
 * {@link MemoryReleaseBackend}: the real {@link Traffic} checks and moves against it.
 */
function memoryElb(rules: Map<string, { routing: Routing; weights: SlotWeights }>, moved: (routing: Routing, weights: SlotWeights) => void, laneRules = new Map<string, { targetGroupArn: string; weight: number }[]>()): ElasticLoadBalancingV2Client {
  const send = (command: DescribeRulesCommand | ModifyRuleCommand) => {
    if (command instanceof DescribeRulesCommand) {
      const found = (command.input.RuleArns ?? []).flatMap((arn) => {
        const lane = laneRules.get(arn);
        if (lane) return [{ RuleArn: arn, Actions: [{ Type: "forward" as const, ForwardConfig: { TargetGroups: lane.map((f) => ({ TargetGroupArn: f.targetGroupArn, Weight: f.weight })) } }] }];
        const r = rules.get(arn);
        if (!r) return [];
        const targetGroups = SLOTS.map((slot) => ({ TargetGroupArn: r.routing.targetGroupArns[slot], Weight: r.weights[slot] }));
        return [{ RuleArn: arn, Actions: [{ Type: "forward" as const, ForwardConfig: { TargetGroups: targetGroups } }] }];
      });
      return Promise.resolve({ Rules: found });
    }
    const arn = command.input.RuleArn as string;
    if (laneRules.has(arn)) {
      laneRules.set(arn, (command.input.Actions?.[0]?.ForwardConfig?.TargetGroups ?? []).map((g) => ({ targetGroupArn: g.TargetGroupArn ?? "", weight: g.Weight ?? 0 })));
      return Promise.resolve({});
    }
    const r = rules.get(arn);
    if (!r) return Promise.reject(new Error(`RuleNotFound: ${arn}`));
    const weights = liveRuleOf(r.routing, { Actions: command.input.Actions }).weights;
    rules.set(arn, { routing: r.routing, weights });
    moved(r.routing, weights);
    return Promise.resolve({});
  };
  return { send } as unknown as ElasticLoadBalancingV2Client;
}
