/**
 * The whole remediation loop on a local AWS emulator, no cloud account: deploy the prod stack's
 * AWS side into moto (the real program under moto-backed Pulumi mocks), release payments
 * v2.3.1 to 10%, breach its error-rate alarm, deliver CloudWatch's alarm event to the deployed
 * rollback Lambda bundle, check traffic went back, show that a second `up` keeps the rollback,
 * and that a new candidate image releases again; then progressive releases through the release
 * driver, and a rollback on the service's own 10-second metric (EMF from samples/emf-metrics).
 */
import { DescribeAlarmsCommand, SetAlarmStateCommand, CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { GetFunctionConfigurationCommand, LambdaClient } from "@aws-sdk/client-lambda";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import * as yaml from "js-yaml";
import { bundleLambda } from "../../components/rollback/bundle";
import { releaseTableName } from "../../components/rollback/rollbackFunction";
import { parseStackConfig } from "../../core/config";
import type { HistoryEntry, ReleaseState } from "../../core/releaseState";
import { createReleaseDriver } from "../../lambdas/commons/releaseDriver";
import { Logger } from "@aws-lambda-powertools/logger";
import type { SlotWeights } from "../../core/weights";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { formatHistory } from "../commands/history";
import { Traffic } from "../../lambdas/commons/traffic";
import { buildStack, stackOutputs } from "../../stacks/program";
import { resolveImageMode } from "../../stacks/main";
import { checkPromotions } from "../../stacks/promotionGate";
import { rehearsePromotion } from "./promotionScene";
import { DynamoReleaseBackend, snapshotReads } from "../../stacks/releases";
import { createAwsMocks, type AwsMocks } from "./awsMocks";
import { createNetwork, startMoto, type MotoServer } from "./moto";
import { captureWarnings, settle } from "./pulumiRuntime";
import { MetricsLogger } from "aws-embedded-metrics";
import type { IEnvironment } from "aws-embedded-metrics/lib/environment/IEnvironment";
import { LogSerializer } from "aws-embedded-metrics/lib/serializers/LogSerializer";
import { CheckoutMetrics } from "../../samples/emf-metrics/checkoutMetrics";
import { evaluateAlarm, publishEmf } from "./cloudwatchStandIns";
import { simulatedClock } from "./clock";
import { type Live, SCENE, laneHeaders, liveStandIns, sceneConfig, untilSceneStands } from "./keptScene";

export const REHEARSAL_REGION = "eu-west-1";
const PROJECT = "remedy";
const STACK = "prod";
const PREFIX = `${PROJECT}-${STACK}`;
const SERVICE = "payments";
/** The minutes the driver's ticks move the clock (1 + 5 + 10, 1 + 5, 1), and one more. */
const SKIPPED_MINUTES = 24;

export interface TimelineEntry {
  readonly step: string;
  readonly change: string;
  readonly weights: SlotWeights | null;
  /** Milliseconds since the rehearsal started. */
  readonly elapsedMs: number;
  readonly ok: boolean;
}

/** A rehearsal left running: where, what to export, the stack's outputs, what AWS would run on its own. */
export interface Kept {
  readonly endpoint: string;
  readonly env: Readonly<Record<string, string>>;
  /** What `pulumi stack output --json` prints for the rehearsed stack. */
  readonly outputs: Record<string, unknown>;
  readonly live: Live;
  readonly stop: () => Promise<void>;
}

export interface RehearsalResult {
  readonly verdict: "pass" | "fail";
  readonly endpoint: string;
  readonly timeline: readonly TimelineEntry[];
  /** From the alarm event reaching the handler to `ModifyRule` returning. */
  readonly alarmToFlipMs: number | null;
  readonly warnings: readonly string[];
  readonly failures: readonly string[];
  /** What people subscribed to the stack's topic received, in order (captured from an SQS subscriber). */
  readonly notifications: readonly { readonly subject: string; readonly event: string }[];
  /** payments' recorded history at the end. */
  readonly history: readonly HistoryEntry[];
  /** With `keep`: the emulator left running, and what to export to use it. */
  readonly kept?: Kept;
}

/**
 * Pulumi.prod.yaml's `remedy:*` config, pointed at the moto VPC: no certificate (plain HTTP,
 * allowed explicitly, on loopback only), no emails.
 */
export function rehearsalConfig(root: string, vpcId: string, subnetIds: string[], candidateImage?: string, edit?: (payments: Record<string, any>) => void): unknown { // eslint-disable-line @typescript-eslint/no-explicit-any
  const doc = yaml.load(fs.readFileSync(path.join(root, "Pulumi.prod.yaml"), "utf8")) as { config: Record<string, unknown> };
  const raw = JSON.parse(JSON.stringify(doc.config)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const services = raw["remedy:services"] as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (candidateImage) services[0].slots.green.image = candidateImage;
  edit?.(services[0]);
  // The API files are relative to the project, where `pulumi up` runs; the rehearsal runs anywhere.
  for (const s of services) {
    const api = s.api as { schemas?: Record<string, string>; operations?: string[]; fieldRetirements?: string } | undefined;
    if (!api) continue;
    if (api.schemas) api.schemas = Object.fromEntries(Object.entries(api.schemas).map(([v, f]) => [v, path.resolve(root, f)]));
    if (api.operations) api.operations = api.operations.map((f) => path.resolve(root, f));
    if (api.fieldRetirements) api.fieldRetirements = path.resolve(root, api.fieldRetirements);
  }
  return {
    kubernetes: raw["remedy:kubernetes"],
    ingress: { vpcId, subnetIds, allowPlainHttp: true },
    services,
    rollback: { logRetentionDays: 7 },
  };
}

export interface Harness {
  readonly aws: AwsMocks;
  readonly warnings: string[];
  /** The promotion sources' CloudWatch, for a config with `promotion` (the emulator has no percentiles). */
  sourceCloudWatch?: () => CloudWatchClient;
}

export async function pulumiUp(h: Harness, config: unknown, after?: (aws: AwsMocks) => void | Promise<void>): Promise<{ release: unknown; outputs: Record<string, unknown> }> {
  h.aws.beginRun();
  await pulumi.runtime.setMocks(h.aws.mocks, PROJECT, STACK, false, "organization");
  const captured = captureWarnings(h.warnings);
  try {
    // As stacks/main.ts: image-mode services get their slot from release state first.
    const releases = snapshotReads(new DynamoReleaseBackend(releaseTableName(PREFIX), { region: REHEARSAL_REGION, assumeRoles: [] }, PREFIX));
    const resolved = await resolveImageMode(parseStackConfig(config), releases);
    // As stacks/main.ts: a stack that takes releases from others takes only what they proved.
    await checkPromotions(resolved, releases, { stack: `organization/${PROJECT}/${STACK}`, nowMs: Date.now(), baseDir: process.cwd(), plans: [], ...(h.sourceCloudWatch ? { cloudwatch: h.sourceCloudWatch } : {}) });
    const resources = buildStack(resolved, {
      alarmNamePrefix: PREFIX,
      releases,
      by: `pulumi:${STACK}`,
    });
    const outputs = stackOutputs(resources);
    await settle();
    const release = await new Promise((resolve) => outputs.services[SERVICE].release.apply(resolve));
    // The stack's outputs as `pulumi stack output --json --show-secrets` prints them.
    const all = await new Promise<Record<string, unknown>>((resolve) => pulumi.output(outputs).apply((o) => resolve(o as Record<string, unknown>)));
    await after?.(h.aws);
    return { release, outputs: all };
  } finally {
    captured.restore();
  }
}

export type Handler = (event: unknown, context: unknown) => Promise<{ outcome: string; results: { flipMs?: number; reason: string }[] }>;

/** Loads the deployed function's bundle with the environment moto holds for it, as Lambda would. */
export async function loadDeployedHandler(aws: AwsMocks, endpoint: string): Promise<Handler> {
  const fn = [...aws.live.values()].find((r) => r.type === "aws:lambda/function:Function" && r.name === "rollback");
  if (!fn) throw new Error("no rollback function was deployed");
  const lambda = new LambdaClient({ endpoint, region: REHEARSAL_REGION });
  const conf = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: fn.id }));
  // Quiet: the timeline reports what the function did; its JSON logs and EMF metrics would drown it.
  Object.assign(process.env, conf.Environment?.Variables ?? {}, { POWERTOOLS_LOG_LEVEL: "SILENT", POWERTOOLS_METRICS_DISABLED: "true" });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-lambda-"));
  const file = path.join(dir, "index.js");
  fs.writeFileSync(file, bundleLambda("rollback").code);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as { handler: Handler };
    return mod.handler;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface RehearseOptions {
  /** Repository root (where Pulumi.prod.yaml is). */
  readonly root?: string;
  /** Called after each `pulumi up` with the harness, before moto stops (tests inspect it). */
  readonly afterUp?: (run: number, aws: AwsMocks) => void | Promise<void>;
  /** Leave the emulator and the rehearsed stack running (`remedy rehearse --keep`). */
  readonly keep?: boolean;
}

/** Runs the rehearsal. Starts moto on a free port unless AWS_ENDPOINT_URL is set. */
export async function rehearse(options: RehearseOptions = {}): Promise<RehearsalResult> {
  // The repository: from cli/rehearsal/ (TypeScript) or dist/ (the CLI's bundle).
  const root = options.root ?? [path.resolve(__dirname, "..", ".."), path.resolve(__dirname, "..")].find((r) => fs.existsSync(path.join(r, "Pulumi.prod.yaml"))) ?? process.cwd();
  let runs = 0;
  const t0 = performance.now();
  const timeline: TimelineEntry[] = [];
  const failures: string[] = [];
  let moto: MotoServer | undefined;
  const saved = { ...process.env };
  // One clock for every actor in this process, starting in the past by the minutes the driver's
  // ticks skip (23) and a little, so the history it records runs forward and ends by now.
  const clock = simulatedClock(SKIPPED_MINUTES);
  try {
    let endpoint = process.env.AWS_ENDPOINT_URL;
    if (!endpoint) {
      moto = await startMoto();
      endpoint = moto.endpoint;
    }
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: REHEARSAL_REGION,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "testing",
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "testing",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    });
    const cfg = { endpoint, region: REHEARSAL_REGION };
    const elb = new ElasticLoadBalancingV2Client(cfg);
    const cw = new CloudWatchClient(cfg);
    const traffic = new Traffic(elb);
    const store = new ReleaseStore(new (await import("@aws-sdk/client-dynamodb")).DynamoDBClient(cfg), releaseTableName(PREFIX));
    const h: Harness = { aws: createAwsMocks(endpoint, REHEARSAL_REGION), warnings: [] };

    const { vpcId, subnetIds } = await createNetwork(endpoint, REHEARSAL_REGION);

    let state: ReleaseState | undefined;
    const weightsNow = async (): Promise<SlotWeights | null> => {
      state = await store.get(SERVICE);
      return state ? traffic.currentWeights(state.routing) : null;
    };
    const record = async (step: string, change: string, expect?: SlotWeights, extra?: () => string | undefined) => {
      const weights = await weightsNow();
      const problem = expect && JSON.stringify(weights) !== JSON.stringify(expect) ? `expected blue ${expect.blue}/green ${expect.green}` : extra?.();
      if (problem) failures.push(`${step}: ${problem}`);
      timeline.push({ step, change: problem ? `${change} — ${problem}` : change, weights, elapsedMs: Math.round(performance.now() - t0), ok: !problem });
    };

    // 1. First up: everything is created; payments releases v2.3.1 to 10%.
    await pulumiUp(h, rehearsalConfig(root, vpcId, subnetIds), (aws) => options.afterUp?.(++runs, aws));
    await record("pulumi up #1", `created ${[...h.aws.live.values()].filter((r) => r.type.startsWith("aws:")).length} AWS resources in moto, recorded ${[...h.aws.live.values()].filter((r) => r.type.startsWith("kubernetes:")).length} Kubernetes objects; payments releases v2.3.1 to 10%`, { blue: 90, green: 10 }, () =>
      state?.phase === "releasing" ? undefined : `release state phase ${state?.phase ?? "missing"}`,
    );

    // People's inbox: an SQS queue subscribed to the stack's notification topic, as an on-call
    // email address or a chat channel would be.
    const topicArn = [...h.aws.live.values()].find((r) => r.type === "aws:sns/topic:Topic" && r.name === "rollback-notifications")?.id;
    if (!topicArn) throw new Error("the stack's notification topic was not deployed");
    const inbox = await subscribeInbox(endpoint, topicArn);

    // 2. The candidate misbehaves: its 5xx-rate alarm goes to ALARM.
    const alarmName = `${PREFIX}/${SERVICE}/green/error-rate`;
    await cw.send(new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: "ALARM", StateReason: "Threshold Crossed: 1 datapoint [12.5] was greater than or equal to the threshold (2.0)." }));
    const alarm = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarmName] }))).MetricAlarms?.[0];
    if (!alarm) throw new Error(`alarm ${alarmName} was not deployed`);
    await record("alarm breach", `${alarmName} -> ALARM (${alarm.StateReason ?? ""})`, { blue: 90, green: 10 });

    // 3. CloudWatch invokes the rollback Lambda with its alarm-action event.
    const handler = await loadDeployedHandler(h.aws, endpoint);
    let invocations = 0;
    /** What CloudWatch sends the function for `name` in ALARM now (an alarm action's event). */
    const invoke = async (name: string) => {
      const a = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms?.[0];
      if (!a) throw new Error(`alarm ${name} was not deployed`);
      const ts = (a.StateUpdatedTimestamp ?? new Date()).toISOString().replace("Z", "+0000");
      const event = {
        source: "aws.cloudwatch",
        alarmArn: a.AlarmArn,
        accountId: a.AlarmArn?.split(":")[4],
        time: ts,
        region: REHEARSAL_REGION,
        alarmData: {
          alarmName: name,
          state: { value: a.StateValue, reason: a.StateReason, timestamp: ts },
          previousState: { value: "OK", reason: "", timestamp: ts },
          configuration: { description: a.AlarmDescription, metrics: [] },
        },
      };
      return handler(event, { functionName: "rollback", awsRequestId: `rehearsal-${++invocations}`, invokedFunctionArn: "", memoryLimitInMB: "256", functionVersion: "$LATEST", getRemainingTimeInMillis: () => 30_000 });
    };
    const result = await invoke(alarmName);
    const alarmToFlipMs = result.results[0]?.flipMs ?? null;
    await record(
      "rollback Lambda",
      `${result.outcome}: ${result.results[0]?.reason ?? ""}; weights flipped ${alarmToFlipMs ?? "?"} ms after the alarm event arrived`,
      { blue: 100, green: 0 },
      () => (result.outcome === "rolled-back" ? undefined : `outcome ${result.outcome}`),
    );

    // 4. Unchanged config, second up: the rollback holds, with a warning.
    h.warnings.length = 0;
    await pulumiUp(h, rehearsalConfig(root, vpcId, subnetIds), (aws) => options.afterUp?.(++runs, aws));
    const hold = h.warnings.find((w) => w.startsWith(`service ${SERVICE}: candidate v2.3.1 was rolled back`));
    await record("pulumi up #2 (unchanged)", hold ? `kept the rollback; warned: ${hold}` : "no rollback warning", { blue: 100, green: 0 }, () => (hold ? undefined : "missing the rollback warning"));

    // 5. A fixed candidate image starts a new release.
    await pulumiUp(h, rehearsalConfig(root, vpcId, subnetIds, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.2"), (aws) =>
      options.afterUp?.(++runs, aws),
    );
    await record("pulumi up #3 (v2.3.2)", "new candidate image: release v2.3.2 to 10%", { blue: 90, green: 10 }, () =>
      state?.phase === "releasing" && state.candidate?.version === "v2.3.2" ? undefined : `release state ${state?.phase ?? "?"} ${state?.candidate?.version ?? ""}`,
    );

    // 6. Progressive delivery: v2.3.3 as a canary (10% for 5 min, bake 10): pulumi up starts it at
    //    0% and the release driver moves it on its own (its clock runs fast here).
    const canary = (p: Record<string, unknown>) => {
      delete p.candidate;
      p.strategy = { kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 };
    };
    await pulumiUp(h, rehearsalConfig(root, vpcId, subnetIds, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.3", canary), (aws) => options.afterUp?.(++runs, aws));
    await record("pulumi up #4 (canary)", "v2.3.3 as a canary: recorded at 0%, the release driver takes over", { blue: 100, green: 0 }, () =>
      state?.progress && state.candidate?.version === "v2.3.3" ? undefined : "no progressive release recorded",
    );
    const logger = new Logger({ serviceName: "remedy-release-driver", logLevel: "SILENT" });
    const driver = createReleaseDriver({
      services: [SERVICE],
      store,
      traffic,
      cloudwatch: cw,
      alarmPrefix: PREFIX,
      logger,
      now: () => Date.now(),
      notify: { sns: new SNSClient(cfg), topicArn, stack: STACK, steps: true },
    });
    const tick = async (label: string, minutes: number, expect: SlotWeights, phase?: string) => {
      clock.advance(minutes);
      const r = (await driver.tick()).find((x) => x.service === SERVICE);
      await record(label, `+${minutes} min: ${r?.decision ?? "?"}: ${r?.reason ?? ""}`, expect, () => (phase && state?.phase !== phase ? `phase ${state?.phase ?? "?"}, expected ${phase}` : undefined));
    };
    /** `pulumi up` with payments in image mode: config names only `version`; remedy picks the slot. */
    const imageModeConfig = (version: string) =>
      rehearsalConfig(root, vpcId, subnetIds, undefined, (p) => {
        canary(p);
        delete p.stable;
        delete p.slots;
        p.image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments";
        p.version = version;
      });
    const imageModeUp = (version: string) => pulumiUp(h, imageModeConfig(version), (aws) => options.afterUp?.(++runs, aws));
    await tick("driver tick", 1, { blue: 90, green: 10 });
    await tick("driver tick", 5, { blue: 0, green: 100 });
    await tick("driver tick (promote)", 10, { blue: 0, green: 100 }, "promoted");

    // 7. The next canary in image mode: config names only the version (v2.3.4), remedy puts it
    //    into the idle slot (blue, since the driver promoted green); it fails mid-step and its
    //    alarm rolls it back; the driver stops.
    await imageModeUp("v2.3.4");
    await record("pulumi up #5 (version)", "image mode, version v2.3.4 only: remedy puts it into the idle slot (blue) at 0%", { blue: 0, green: 100 }, () =>
      state?.candidate?.slot === "blue" && state.candidate.version === "v2.3.4" && state.stable.slot === "green" ? undefined : `candidate ${state?.candidate?.version ?? "?"} (${state?.candidate?.slot ?? "?"})`,
    );
    await tick("driver tick", 1, { blue: 10, green: 90 });
    const blueAlarm = `${PREFIX}/${SERVICE}/blue/error-rate`;
    await cw.send(new SetAlarmStateCommand({ AlarmName: blueAlarm, StateValue: "ALARM", StateReason: "Threshold Crossed: 1 datapoint [31.0] was greater than or equal to the threshold (2.0)." }));
    const midStep = await invoke(blueAlarm);
    await record("rollback Lambda (mid-step)", `${midStep.outcome}: ${midStep.results[0]?.reason ?? ""}`, { blue: 0, green: 100 }, () => (midStep.outcome === "rolled-back" ? undefined : `outcome ${midStep.outcome}`));
    await tick("driver tick (stopped)", 5, { blue: 0, green: 100 }, "rolled-back");

    // 8. The service's own signal: v2.3.5 as a canary into the idle slot (blue). Its pods count
    //    failed checkouts and write them every 10 s in embedded metric format (the sample's real
    //    code, samples/emf-metrics); the agent stand-in publishes them at high resolution; the
    //    evaluation stand-in judges the 10-second custom alarm on what CloudWatch then holds
    //    (moto evaluates nothing); the rollback Lambda flips back on its event.
    await imageModeUp("v2.3.5");
    await record("pulumi up #6 (v2.3.5)", "version v2.3.5 into the idle slot (blue) at 0%", { blue: 0, green: 100 }, () =>
      state?.candidate?.slot === "blue" && state.candidate.version === "v2.3.5" ? undefined : `candidate ${state?.candidate?.version ?? "?"} (${state?.candidate?.slot ?? "?"})`,
    );
    await tick("driver tick", 1, { blue: 10, green: 90 });
    const emf: string[] = [];
    const pods = { blue: new CheckoutMetrics(SERVICE, "blue", "v2.3.5", () => emfLogger(emf)), green: new CheckoutMetrics(SERVICE, "green", "v2.3.3", () => emfLogger(emf)) };
    const PERIOD = 10_000;
    const evaluatedAt = Math.floor(Date.now() / PERIOD) * PERIOD;
    const failed = [9, 7, 8];
    for (const [i, failures] of failed.entries()) {
      for (let n = 0; n < 40; n++) pods.blue.record(n >= failures);
      for (let n = 0; n < 360; n++) pods.green.record(true);
      const at = new Date(evaluatedAt - (failed.length - i) * PERIOD + 1_000);
      await pods.blue.flush(at);
      await pods.green.flush(at);
    }
    const datapoints = await publishEmf(cw, emf);
    await record("service metrics (EMF)", `${emf.length} EMF records from the pods -> ${datapoints} high-resolution datapoints (agent stand-in); blue failed ${failed.join(", ")} of 40 checkouts per 10 s`, { blue: 10, green: 90 });
    const customAlarm = `${PREFIX}/${SERVICE}/blue/custom-checkout-errors`;
    const verdict = await evaluateAlarm(cw, customAlarm, new Date(evaluatedAt));
    const stableVerdict = await evaluateAlarm(cw, `${PREFIX}/${SERVICE}/green/custom-checkout-errors`, new Date(evaluatedAt));
    await record("custom alarm (10 s)", `${customAlarm} -> ${verdict.state} (${verdict.reason}); green's: ${stableVerdict.state}`, { blue: 10, green: 90 }, () =>
      verdict.state === "ALARM" && stableVerdict.state === "OK" ? undefined : `blue ${verdict.state}, green ${stableVerdict.state}`,
    );
    const onCustom = await invoke(customAlarm);
    await record("rollback Lambda (custom)", `${onCustom.outcome}: ${onCustom.results[0]?.reason ?? ""}`, { blue: 0, green: 100 }, () => (onCustom.outcome === "rolled-back" ? undefined : `outcome ${onCustom.outcome}`));

    // 9. Staging to prod (issue 38): one bundle approved, promoted and released; one refused by
    //    promote-env, and by pulumi up when set by hand (cli/rehearsal/promotionScene.ts).
    await rehearsePromotion({
      endpoint,
      region: REHEARSAL_REGION,
      root,
      config: imageModeConfig("v2.3.5") as Record<string, unknown>,
      up: async (config, sourceCloudWatch) => {
        h.sourceCloudWatch = sourceCloudWatch;
        await pulumiUp(h, config, (aws) => options.afterUp?.(++runs, aws));
      },
      record,
      candidate: () => state?.candidate ?? undefined,
    });

    // What people heard, and the recorded history.
    const notifications = await inbox.drain();
    // From the subscription on (after the first up): the rollback, v2.3.2 and the v2.3.3 canary
    // started, its steps (told: steps on here) and promotion, v2.3.4 started, a step, its rollback;
    // v2.3.5 started, a step, its rollback on the custom alarm; v2.4.0, promoted from staging, started.
    const expected = ["rolled-back", "release-started", "release-started", "step-advanced", "step-advanced", "promoted", "release-started", "step-advanced", "rolled-back", "release-started", "step-advanced", "rolled-back", "release-started"];
    const heard = notifications.map((n) => n.event);
    if (JSON.stringify(heard) !== JSON.stringify(expected)) failures.push(`notifications: heard ${heard.join(", ")}; expected ${expected.join(", ")}`);
    const history = await store.history(SERVICE);
    const env = { AWS_ENDPOINT_URL: endpoint, AWS_REGION: REHEARSAL_REGION, AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "testing", AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "testing" };
    let kept: Kept | undefined;
    if (options.keep) {
      // Releases left in progress for an operator, on the wall clock from here on (issue 36, 3).
      clock.catchUp();
      clock.restore();
      const { outputs } = await pulumiUp(h, sceneConfig(imageModeConfig(SCENE.payments) as { services: Record<string, unknown>[] }), (aws) => options.afterUp?.(++runs, aws));
      const functionArn = [...h.aws.live.values()].find((r) => r.type === "aws:lambda/function:Function" && r.name === "rollback")?.state.arn;
      const services = ["payments", "orders", "catalog"];
      const live = await liveStandIns({
        cw,
        prefix: PREFIX,
        functionArn: String(functionArn),
        invoke,
        store,
        services,
        driver: createReleaseDriver({ services, store, traffic, cloudwatch: cw, alarmPrefix: PREFIX, logger, notify: { sns: new SNSClient(cfg), topicArn, stack: STACK, steps: false }, now: () => Date.now() }),
      });
      const problem = await untilSceneStands(live);
      await record("kept: pulumi up #7", `payments ${SCENE.payments} promoted (rollback window open), orders v5.9.0 paused before full, catalog ${SCENE.catalog.version} at 10%`, undefined, () => problem);
      const told = await laneHeaders(h.aws.resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment"));
      await record("kept: legacy lane", `payments ${SCENE.lane.version} for /v1 callers answers with Deprecation: ${told.deprecation ?? "-"}, Sunset: ${told.sunset ?? "-"}, Link: ${told.link ?? "-"}`, undefined, () => (told.deprecation && told.sunset && told.link ? undefined : "the lane's pods did not send Deprecation, Sunset and Link"));
      kept = { endpoint, env, outputs, live, stop: async () => moto?.stop() };
    }
    return { verdict: failures.length === 0 ? "pass" : "fail", endpoint, timeline, alarmToFlipMs, warnings: [...h.warnings], failures, notifications, history, ...(kept ? { kept } : {}) };
  } finally {
    clock.restore();
    // A kept rehearsal's process goes on serving the stack: the deployed function's environment stays.
    if (!options.keep) {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      await moto?.stop();
    }
  }
}

/** A MetricsLogger whose records (as the CloudWatch agent would receive them) go to `into`. */
export function emfLogger(into: string[]): MetricsLogger {
  const serializer = new LogSerializer();
  const environment: IEnvironment = {
    probe: () => Promise.resolve(true),
    getName: () => "remedy-rehearsal",
    getType: () => "Agent",
    getLogGroupName: () => "",
    configureContext: () => undefined,
    getSink: () => ({
      name: "rehearsal-agent",
      accept: (context) => {
        into.push(...serializer.serialize(context));
        return Promise.resolve();
      },
    }),
  };
  return new MetricsLogger(() => Promise.resolve(environment));
}

/** An SQS queue subscribed to `topicArn`: what a subscriber received, with each message's `event` attribute. */
async function subscribeInbox(endpoint: string, topicArn: string) {
  const sqs = new SQSClient({ endpoint, region: REHEARSAL_REGION });
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: "rehearsal-inbox" }))).QueueUrl as string;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
  await new SNSClient({ endpoint, region: REHEARSAL_REGION }).send(new SubscribeCommand({ TopicArn: topicArn, Protocol: "sqs", Endpoint: arn }));
  return {
    async drain(): Promise<{ subject: string; event: string }[]> {
      const out: { subject: string; event: string; at: string }[] = [];
      for (;;) {
        const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        const msgs = r.Messages ?? [];
        if (msgs.length === 0) break;
        for (const m of msgs) {
          const body = JSON.parse(m.Body ?? "{}") as { Subject?: string; Timestamp?: string; MessageAttributes?: Record<string, { Value?: string }> };
          out.push({ subject: body.Subject ?? "", event: body.MessageAttributes?.event?.Value ?? "?", at: body.Timestamp ?? "" });
        }
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
      }
      // SQS does not keep order; SNS stamps each message.
      return out.sort((a, b) => a.at.localeCompare(b.at)).map(({ subject, event }) => ({ subject, event }));
    },
  };
}

/** The timeline as a readable table. */
export function formatTimeline(r: RehearsalResult): string {
  const rows = r.timeline.map((e, i) => {
    const w = e.weights ? `${e.weights.blue}/${e.weights.green}` : "-";
    return `${String(i + 1).padStart(2)}  ${e.ok ? "ok  " : "FAIL"}  ${e.step.padEnd(26)} ${w.padStart(7)}  ${String(e.elapsedMs).padStart(6)} ms  ${e.change}`;
  });
  return [
    `remedy rehearse: the remediation loop on a local AWS emulator (${r.endpoint})`,
    ` #  ok    step                       blue/green  elapsed   what changed`,
    ...rows,
    "",
    `notifications on ${PREFIX}'s topic (what a subscriber received):`,
    ...r.notifications.map((n) => `  ${n.event.padEnd(16)} ${n.subject}`),
    "",
    formatHistory(SERVICE, r.history.slice(-8), r.history.length),
    "",
    `alarm event -> weights flipped: ${r.alarmToFlipMs ?? "?"} ms`,
    `verdict: ${r.verdict.toUpperCase()}${r.failures.length ? ` (${r.failures.join("; ")})` : ""}`,
  ].join("\n");
}
