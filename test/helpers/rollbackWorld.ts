/**
 * A stack's AWS side, created for real in moto: VPC + subnets, ALB + listener, per service two
 * target groups with registered (healthy) targets and a weighted-forward rule, the release state
 * table (with each service's state), the notification topic (delivered to an SQS queue the test
 * reads), and the rollback alarms from core/alarms. Used by the integration tests and the bench.
 */
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand, SetAlarmStateCommand, type MetricAlarm } from "@aws-sdk/client-cloudwatch";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
  RegisterTargetsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Logger } from "@aws-lambda-powertools/logger";
import { type DriverDeps, createReleaseDriver } from "../../lambdas/commons/releaseDriver";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Console } from "node:console";
import { Writable } from "node:stream";
import { createNetwork } from "../../cli/rehearsal/moto";
import { alarmName, fillPlaceholders, loadBalancerDimension, recordedAlarmKinds, rollbackHint, slotAlarms, slotPlaceholders, targetGroupDimension } from "../../core/alarms";
import { type ServiceInput, parseServiceSpec } from "../../core/config";
import { initialState, applyEvent, type ReleaseEvent, type ReleaseState, type Routing } from "../../core/releaseState";
import { type PreTrafficCheck, normalizeStrategy } from "../../core/progressive";
import { SLOTS, Slot, otherSlot } from "../../core/slots";
import { DRIVER_RULE_TAG, ROLLBACK_RULE_TAG, targetGroupName } from "../../core/naming";
import { redirectOutput } from "../../lambdas/commons/powertools";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { createRollbackHandler, type RollbackDeps } from "../../lambdas/commons/rollbackHandler";
import { Traffic, listenerOfRule } from "../../lambdas/commons/traffic";
import type { LaneRouting } from "../../core/laneState";
import { LAMBDA_SDK_CONFIG } from "../../lambdas/commons/sdk";
import type { SlotWeights } from "../../core/weights";
import { ROLLBACK_METRICS } from "../../core/defaults";

export const REGION = "eu-west-1";
export const PREFIX = "remedy-test";
export const TABLE = "remedy-test-releases";
/** The rollback function the world's rollback alarms invoke (and the handler knows itself as). */
export const FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:remedy-test-rollback";
/**
 * Moves a rule the way someone outside remedy does (the console, Pulumi's provider, a racing
 * writer in a test): a raw ModifyRule, not through Traffic, whose setWeights takes only checked
 * routing.
 */
export async function moveRuleByHand(elb: ElasticLoadBalancingV2Client, routing: Routing, weights: SlotWeights): Promise<void> {
  await elb.send(
    new ModifyRuleCommand({
      RuleArn: routing.ruleArn,
      Actions: [{ Type: "forward", ForwardConfig: { TargetGroups: SLOTS.map((slot) => ({ TargetGroupArn: routing.targetGroupArns[slot], Weight: weights[slot] })), TargetGroupStickinessConfig: { Enabled: routing.stickinessSeconds > 0, ...(routing.stickinessSeconds > 0 ? { DurationSeconds: routing.stickinessSeconds } : {}) } } }],
    }),
  );
}

export interface WorldOptions {
  /** Create every service already in a progressive canary (10% for 5 min) at 0%, started at this time. */
  readonly progressiveAt?: string;
  /**
   * Services set up at once. Default 1: moto's conditional writes are not atomic under
   * concurrency, so more only behind the fault proxy (which serializes them) or where every
   * service writes only its own items (`progressiveAt`).
   */
  readonly concurrency?: number;
  /** Alarms without the rollback hint in their description (as deployed before it existed). */
  readonly noHint?: boolean;
  /** The services' `alarms` config (relative, custom); recorded in routing as `pulumi up` does. */
  readonly alarms?: ServiceInput["alarms"];
  /** When the services' first records and releases happened (epoch ms). Default: a minute ago. */
  readonly recordedAt?: number;
}

/** The one target of the `index`-th service's slot. */
export function targetAddress(index: number, slot: Slot): string {
  return `10.0.${1 + Math.floor(index / 100)}.${(index % 100) * 2 + (slot === Slot.Blue ? 0 : 1)}`;
}


const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };

/** SDK client settings for an endpoint (moto or the fault proxy in front of it), as the Lambdas set them. */
export function clientConfig(endpoint: string, maxAttempts = 3) {
  return { ...LAMBDA_SDK_CONFIG, endpoint, region: REGION, credentials, maxAttempts };
}

export interface Clients {
  readonly elb: ElasticLoadBalancingV2Client;
  readonly ddb: DynamoDBClient;
  readonly cw: CloudWatchClient;
  readonly sns: SNSClient;
}

export function clients(endpoint: string, maxAttempts = 3): Clients {
  const c = clientConfig(endpoint, maxAttempts);
  return {
    elb: new ElasticLoadBalancingV2Client(c),
    ddb: new DynamoDBClient(c),
    cw: new CloudWatchClient(c),
    sns: new SNSClient(c),
  };
}

/** Collects what a Powertools Logger or Metrics instance prints (both print via a private `console`). */
export function capture(target: Logger | Metrics): string[] {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  redirectOutput(target, new Console({ stdout: sink, stderr: sink }));
  return lines;
}

export interface ServiceWorld {
  readonly name: string;
  readonly routing: Routing;
  /** Alarm name per slot and kind (built-in, `*-vs-stable`, `custom-<name>`). */
  readonly alarmNames: Record<Slot, Record<string, string>>;
}

export interface World {
  readonly endpoint: string;
  readonly clients: Clients;
  readonly store: ReleaseStore;
  readonly traffic: Traffic;
  readonly topicArn: string;
  readonly services: Record<string, ServiceWorld>;
  /** Messages SNS delivered to the test queue since the last call. */
  notifications(): Promise<{ subject: string; message: string }[]>;
  /** Puts an alarm in `state` (SetAlarmState) and returns it as DescribeAlarms reports it. */
  setAlarm(name: string, state: "ALARM" | "OK", reason?: string): Promise<MetricAlarm>;
  deregisterAll(service: string, slot: Slot): Promise<void>;
}

/**
 * Creates the world. Each service starts releasing `v2` in green at `weight`% with `v1` stable
 * in blue (written as real transitions through core).
 */
export async function createWorld(endpoint: string, serviceNames: readonly string[], weight = 10, opts: WorldOptions = {}): Promise<World> {
  const c = clients(endpoint);
  const sqs = new SQSClient(clientConfig(endpoint));
  const { vpcId: vpc, subnetIds: subnets } = await createNetwork(endpoint, REGION);
  const lb = (await c.elb.send(new CreateLoadBalancerCommand({ Name: "remedy", Subnets: subnets }))).LoadBalancers?.[0];
  const listener = (
    await c.elb.send(
      new CreateListenerCommand({
        LoadBalancerArn: lb?.LoadBalancerArn,
        Protocol: "HTTP",
        Port: 80,
        DefaultActions: [{ Type: "fixed-response", FixedResponseConfig: { StatusCode: "404" } }],
      }),
    )
  ).Listeners?.[0];
  const lbDim = loadBalancerDimension(listener?.ListenerArn as string);

  await c.ddb.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
    }),
  );
  const store = new ReleaseStore(c.ddb, TABLE);
  const topicArn = (await c.sns.send(new CreateTopicCommand({ Name: `${PREFIX}-notifications` }))).TopicArn as string;
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${PREFIX}-inbox` }))).QueueUrl as string;
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
  await c.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: "sqs", Endpoint: queueArn }));

  const services: Record<string, ServiceWorld> = {};
  // Services may be set up a few at a time (benches create hundreds); each gets the priority and
  // target addresses of its position, so the world is the same whatever the order.
  const setUp = async (name: string, index: number) => {
    const priority = index + 1;
    const tgs = {} as Record<Slot, string>;
    for (const slot of SLOTS) {
      const tg = await c.elb.send(
        // Named as the program names them (core/naming.ts): the Lambdas check records against it.
        new CreateTargetGroupCommand({ Name: targetGroupName({ stack: "test", service: name, slot, port: 8080, protocol: "HTTP", targetType: "ip", vpcId: vpc }), Protocol: "HTTP", Port: 8080, VpcId: vpc, TargetType: "ip" }),
      );
      tgs[slot] = tg.TargetGroups?.[0]?.TargetGroupArn as string;
      await c.elb.send(
        new RegisterTargetsCommand({ TargetGroupArn: tgs[slot], Targets: [{ Id: targetAddress(index, slot), Port: 8080 }] }),
      );
    }
    const rule = await c.elb.send(
      new CreateRuleCommand({
        ListenerArn: listener?.ListenerArn,
        Priority: priority,
        Conditions: [{ Field: "path-pattern", PathPatternConfig: { Values: [`/${name}/*`] } }],
        Actions: [
          {
            Type: "forward",
            ForwardConfig: { TargetGroups: SLOTS.map((s) => ({ TargetGroupArn: tgs[s], Weight: s === Slot.Blue ? 100 : 0 })) },
          },
        ],
        // Tagged as pulumi up tags a progressive service's rule (stacks/liveGuards.ts ruleTagsFor).
        Tags: [ROLLBACK_RULE_TAG, DRIVER_RULE_TAG].map((Key) => ({ Key, Value: PREFIX })),
      }),
    );
    // As `pulumi up` records it, with the stack's topic for operators' announcements.
    const spec = parseServiceSpec({
      name,
      port: 8080,
      healthPath: "/healthz",
      routing: { paths: [`/${name}/*`], priority: 1 },
      stable: "blue",
      slots: { blue: { image: "r/app:v1" }, green: { image: "r/app:v2" } },
      ...(opts.alarms ? { alarms: opts.alarms } : {}),
    });
    const routing: Routing = { ruleArn: rule.Rules?.[0]?.RuleArn as string, targetGroupArns: tgs, stickinessSeconds: 0, notifyTopicArn: topicArn, ...recordedAlarmKinds(spec.alarms) };
    const recordedAt = opts.recordedAt ?? Date.now() - 60_000;
    let state: ReleaseState = initialState(name, { slot: Slot.Blue, version: "v1" }, routing, new Date(recordedAt).toISOString());
    if (opts.progressiveAt !== undefined) {
      // Straight into a progressive release at 0%, written once (no history): moto copies the
      // whole table for every item of a TransactWriteItems, so hundreds of commits in setup would
      // cost minutes that measure nothing of remedy.
      const t = applyEvent(state, {
        type: "start-release",
        candidate: { slot: Slot.Green, version: "v3" },
        weight: 0,
        progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }), rollbackWindowMinutes: 30 },
        at: opts.progressiveAt,
        by: "pulumi:test",
      });
      if (t.kind !== "applied") throw new Error(t.reason);
      await store.create(t.state);
      state = t.state;
    } else {
      await store.create(state);
      const started = applyEvent(state, {
        type: "start-release",
        candidate: { slot: Slot.Green, version: "v2" },
        weight,
        at: new Date(recordedAt + 30_000).toISOString(),
        by: "test",
      });
      if (started.kind !== "applied") throw new Error(started.reason);
      await moveRuleByHand(c.elb, routing, started.state.weights);
      await store.commit(state.revision, started.state, started.entry);
      state = started.state;
    }

    const alarmNames = {} as Record<Slot, Record<string, string>>;
    for (const slot of SLOTS) {
      alarmNames[slot] = {};
      const values = slotPlaceholders({ service: name, slot, version: spec.slots[slot]?.version ?? "", loadBalancer: lbDim, targetGroups: { blue: targetGroupDimension(tgs.blue), green: targetGroupDimension(tgs.green) } });
      const defs = slotAlarms({ prefix: PREFIX, service: name, slot, loadBalancer: lbDim, targetGroup: values.targetGroup, otherTargetGroup: values.otherTargetGroup, spec: spec.alarms, fill: (t) => fillPlaceholders(t, values) });
      for (const def of defs) {
        alarmNames[slot][def.kind] = def.name;
        await c.cw.send(
          new PutMetricAlarmCommand({
            AlarmName: def.name,
            // As AutoRollback deploys them: the other slot's target group and the rule, for the Lambda's one-round-trip read.
            AlarmDescription: opts.noHint || def.action !== "rollback" ? def.description : def.description + rollbackHint(tgs[otherSlot(slot)], routing.ruleArn),
            ComparisonOperator: def.comparisonOperator,
            Threshold: def.threshold,
            EvaluationPeriods: def.evaluationPeriods,
            DatapointsToAlarm: def.datapointsToAlarm,
            TreatMissingData: def.treatMissingData,
            // As AutoRollback deploys them: a rollback alarm invokes the function and pages.
            AlarmActions: def.action === "rollback" ? [FUNCTION_ARN, topicArn] : [topicArn],
            ...(def.metric
              ? {
                  Namespace: def.metric.namespace,
                  MetricName: def.metric.metricName,
                  Period: def.metric.period,
                  Statistic: def.metric.statistic as "Maximum" | undefined,
                  ExtendedStatistic: def.metric.extendedStatistic,
                  Dimensions: Object.entries(def.metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
                }
              : {
                  Metrics: def.metricQueries?.map((q) => ({
                    Id: q.id,
                    Expression: q.expression,
                    Label: q.label,
                    ReturnData: q.returnData,
                    MetricStat: q.metric
                      ? {
                          Metric: {
                            Namespace: q.metric.namespace,
                            MetricName: q.metric.metricName,
                            Dimensions: Object.entries(q.metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
                          },
                          Period: q.metric.period,
                          Stat: q.metric.stat,
                        }
                      : undefined,
                  })),
                }),
          }),
        );
      }
    }
    services[name] = { name, routing, alarmNames };
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(opts.concurrency ?? 1, serviceNames.length) }, async () => {
      while (next < serviceNames.length) {
        const i = next++;
        await setUp(serviceNames[i], i);
      }
    }),
  );

  return {
    endpoint,
    clients: c,
    store,
    traffic: new Traffic(c.elb),
    topicArn,
    services,
    async notifications() {
      const out: { subject: string; message: string }[] = [];
      for (;;) {
        const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        const msgs = r.Messages ?? [];
        if (msgs.length === 0) return out;
        for (const m of msgs) {
          const body = JSON.parse(m.Body ?? "{}") as { Subject?: string; Message?: string };
          out.push({ subject: body.Subject ?? "", message: body.Message ?? "" });
        }
        await sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }),
        );
      }
    },
    async setAlarm(name, state, reason = "Threshold Crossed: 3 out of the last 3 datapoints were greater than or equal to the threshold (5.0)") {
      await c.cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: reason }));
      const alarm = (await c.cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms?.[0];
      if (!alarm) throw new Error(`alarm ${name} not found after SetAlarmState`);
      return alarm;
    },
    async deregisterAll(service, slot) {
      const tg = services[service].routing.targetGroupArns[slot];
      await c.elb.send(new DeregisterTargetsCommand({ TargetGroupArn: tg, Targets: [{ Id: targetAddress(serviceNames.indexOf(service), slot), Port: 8080 }] }));
    },
  };
}

/** Handler dependencies pointed at `endpoint`, with Powertools output captured. */
export function handlerDeps(endpoint: string, topicArn: string, overrides: Partial<RollbackDeps> = {}) {
  const c = clients(endpoint);
  const logger = new Logger({ serviceName: "remedy-rollback", logLevel: "INFO" });
  const metrics = new Metrics(ROLLBACK_METRICS);
  const logs = capture(logger);
  const emf = capture(metrics);
  const deps: RollbackDeps = {
    store: new ReleaseStore(c.ddb, TABLE),
    traffic: new Traffic(c.elb),
    sns: c.sns,
    cloudwatch: c.cw,
    topicArn,
    alarmPrefix: PREFIX,
    logger,
    metrics,
    functionArn: FUNCTION_ARN,
    ...overrides,
  };
  return { deps, logs, emf, handler: createRollbackHandler(deps) };
}

/** Creates an alarm remedy did not define (another stack's, or one for a service with no state). */
export function putBareAlarm(cw: CloudWatchClient, name: string, actions: string[] = []) {
  return cw.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      ...(actions.length > 0 ? { AlarmActions: actions } : {}),
      Namespace: "AWS/ApplicationELB",
      MetricName: "HTTPCode_Target_5XX_Count",
      Statistic: "Sum",
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
    }),
  );
}

/** alarmName re-exported for tests that build foreign names. */
export { alarmName };

export interface ProgressiveStart {
  /** Default: canary 10% for 5 min, bake 10 min. */
  readonly strategy?: Parameters<typeof normalizeStrategy>[0];
  readonly preTraffic?: { readonly check: PreTrafficCheck; readonly maxAttempts: number };
}

/**
 * Starts v3 on green as a progressive release of `service` at `at` (its state as `pulumi up`
 * records one: the previous weight shifted to 0, then start-release at 0%), and sets the rule.
 */
export async function startProgressive(world: World, service: string, at: string, extra: ProgressiveStart = {}): Promise<ReleaseState> {
  const s = await world.store.get(service);
  if (!s) throw new Error(`no state for ${service}`);
  const events: ReleaseEvent[] = [
    { type: "shift-weight", weight: 0, at: new Date(Date.parse(at) - 1000).toISOString(), by: "pulumi:test" },
    {
      type: "start-release",
      candidate: { slot: Slot.Green, version: "v3" },
      weight: 0,
      progressive: { strategy: normalizeStrategy(extra.strategy ?? { kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }), rollbackWindowMinutes: 30, ...(extra.preTraffic ? { preTraffic: extra.preTraffic } : {}) },
      at,
      by: "pulumi:test",
    },
  ];
  let state = s;
  for (const e of events) {
    const t = applyEvent(state, e);
    if (t.kind !== "applied") throw new Error(t.reason);
    await world.store.commit(state.revision, t.state, t.entry);
    state = t.state;
  }
  await moveRuleByHand(world.clients.elb, state.routing, state.weights);
  return state;
}

/**
 * A legacy lane of `payments` as pulumi up deploys and records it (record-lanes): its target
 * group (and during a hotfix, `rollbackImage`'s beside it), one registered target each, and a
 * rule before the main one forwarding to the lane.
 */
export async function addLane(world: World, o: { image: string; rollbackImage?: string; brownouts?: LaneRouting["brownouts"]; sunset?: LaneRouting["sunset"] }): Promise<{ lane: LaneRouting; laneTg: string; prevTg: string | undefined }> {
  const { elb } = world.clients;
  const listenerArn = listenerOfRule(world.services.payments.routing.ruleArn) as string;
  const vpcId = (await elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [world.services.payments.routing.targetGroupArns.blue] }))).TargetGroups?.[0]?.VpcId as string;
  const group = async (side: "legacy" | "legacy-prev", ip: string) => {
    // Named as the program names them (core/naming.ts): the Lambdas check records against it.
    const name = targetGroupName({ stack: "test", service: "payments", slot: side, port: 8080, protocol: "HTTP", targetType: "ip", vpcId });
    const arn = (await elb.send(new CreateTargetGroupCommand({ Name: name, Protocol: "HTTP", Port: 8080, TargetType: "ip", VpcId: vpcId }))).TargetGroups?.[0]?.TargetGroupArn as string;
    await elb.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: ip, Port: 8080 }] }));
    return arn;
  };
  const laneTg = await group("legacy", "10.0.9.1");
  const prevTg = o.rollbackImage ? await group("legacy-prev", "10.0.9.2") : undefined;
  const rule = await elb.send(
    new CreateRuleCommand({
      ListenerArn: listenerArn,
      Priority: 50,
      Conditions: [{ Field: "path-pattern", PathPatternConfig: { Values: ["/v1/payments/*"] } }],
      Actions: [{ Type: "forward", ForwardConfig: { TargetGroups: [{ TargetGroupArn: laneTg, Weight: 100 }, ...(prevTg ? [{ TargetGroupArn: prevTg, Weight: 0 }] : [])] } }],
      Tags: [ROLLBACK_RULE_TAG, DRIVER_RULE_TAG].map((Key) => ({ Key, Value: PREFIX })),
    }),
  );
  const lane: LaneRouting = {
    version: "v1.9.4",
    image: o.image,
    ruleArn: rule.Rules?.[0]?.RuleArn as string,
    targetGroupArn: laneTg,
    ...(prevTg && o.rollbackImage ? { rollback: { image: o.rollbackImage, targetGroupArn: prevTg } } : {}),
    ...(o.brownouts ? { brownouts: o.brownouts } : {}),
    ...(o.sunset ? { sunset: o.sunset } : {}),
  };
  const s = await world.store.get("payments");
  if (!s) throw new Error("payments has no release state");
  const t = applyEvent(s, { type: "record-lanes", lanes: { legacy: lane }, at: new Date().toISOString(), by: "pulumi:test" });
  if (t.kind !== "applied") throw new Error(t.reason);
  await world.store.commit(s.revision, t.state, t.entry);
  return { lane, laneTg, prevTg };
}

/** A release driver over the world's `payments` (quiet logger), with `extra` deps. */
export function worldDriver(world: World, endpoint: string, extra: Partial<DriverDeps> = {}) {
  return createReleaseDriver({
    services: ["payments"],
    store: world.store,
    traffic: world.traffic,
    cloudwatch: clients(endpoint).cw,
    alarmPrefix: PREFIX,
    logger: new Logger({ serviceName: "remedy-release-driver", logLevel: "SILENT" }),
    ...extra,
  });
}

