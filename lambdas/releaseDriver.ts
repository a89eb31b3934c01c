/**
 * Release driver entry point (one per stack), invoked every minute by an EventBridge schedule:
 * moves each progressive release one step when its candidate is healthy and its alarms are OK,
 * and promotes it after the bake. Bundled by esbuild like the rollback Lambda.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { fromEnv } from "@aws-sdk/credential-providers";
import type { Context } from "aws-lambda";
import * as fs from "node:fs";
import * as path from "node:path";
import { DRIVER_CONFIG_FILE, type DriverFileConfig } from "../core/driverConfig";
import { getStringFromEnv } from "./commons/env";
import { createKubeScaler } from "./commons/kube";
import { createReleaseDriver, type TickResult } from "./commons/releaseDriver";
import { createRollbackHandler } from "./commons/rollbackHandler";
import { LambdaConnections } from "./commons/sdk";
import { ReleaseStore } from "./commons/releaseStore";
import { Traffic } from "./commons/traffic";
import { TokenBucket } from "./commons/tokenBucket";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { testRouteSecretReader } from "./commons/testRouteSecret";
import * as defaults from "../core/defaults";

const logger = new Logger({ serviceName: "remedy-release-driver" });

/** The services it drives (and their namespaces): a file in the code package, read at cold start. */
function driverConfig(): DriverFileConfig {
  const file = path.join(__dirname, DRIVER_CONFIG_FILE);
  const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<DriverFileConfig>;
  if (!Array.isArray(parsed.services) || !parsed.services.every((s) => typeof s === "string")) {
    throw new Error(`${file}: "services" must be a list of service names (the ReleaseDriver component writes it)`);
  }
  for (const key of ["watch", "lanes"] as const) {
    const v = parsed[key];
    if (v !== undefined && (!Array.isArray(v) || !v.every((s) => typeof s === "string"))) throw new Error(`${file}: "${key}" must be a list of service names (the ReleaseDriver component writes it)`);
  }
  return parsed as DriverFileConfig;
}

const config = driverConfig();

/** Scaling promoted-away slots down needs the cluster's endpoint and CA (set by the ReleaseDriver component). */
function retire() {
  const endpoint = process.env.KUBE_ENDPOINT;
  if (!endpoint) return undefined;
  const namespaces = config.namespaces;
  if (!namespaces) throw new Error(`${DRIVER_CONFIG_FILE}: "namespaces" is required with KUBE_ENDPOINT`);
  const kube = createKubeScaler({
    endpoint,
    certificateAuthorityData: getStringFromEnv("KUBE_CA"),
    cluster: getStringFromEnv("KUBE_CLUSTER"),
    region: getStringFromEnv("AWS_REGION"),
    credentials: fromEnv(),
  });
  return { kube, namespaces };
}

/**
 * The SDK's adaptive retry mode: on throttling (ELB's and DynamoDB's per-account buckets, shared
 * with everything else in the account) it backs off with jitter and rate-limits later calls on
 * the client side, so a tick over hundreds of services slows down instead of failing.
 */
const connections = new LambdaConnections();
const sdk = connections.clientConfig({ retryMode: "adaptive", maxAttempts: 5 } as const);

const retirement = retire();
const store = new ReleaseStore(new DynamoDBClient(sdk), getStringFromEnv("RELEASE_TABLE"));
const elb = new ElasticLoadBalancingV2Client(sdk);
const metrics = new Metrics({ namespace: "remedy", serviceName: "remedy-release-driver" });
// A candidate whose targets all turn unhealthy is rolled back by the rollback Lambda's own code
// (decision, flip, records, notification), as if its unhealthy-hosts alarm had fired.
const rollback = createRollbackHandler({
  store,
  traffic: new Traffic(elb),
  sns: new SNSClient(sdk),
  cloudwatch: new CloudWatchClient(sdk),
  topicArn: process.env.NOTIFY_TOPIC_ARN ?? "",
  alarmPrefix: getStringFromEnv("ALARM_PREFIX"),
  logger,
  metrics,
});
const testRouteSecret = process.env.TEST_ROUTE_SECRET_ARN;
const driver = createReleaseDriver({
  services: config.services,
  ...(config.lanes?.length ? { lanes: config.lanes } : {}),
  ...(testRouteSecret ? { testRouteValue: testRouteSecretReader(new SecretsManagerClient(sdk), testRouteSecret) } : {}),
  ...(retirement ? { retire: retirement } : {}),
  store,
  // Below ELB's per-account Describe* bucket (40, refilled at 10 a second), leaving room for the
  // rollback Lambda, the AWS Load Balancer Controller and people: a tick with more due steps than
  // this allows before its deadline leaves the rest to the next tick.
  traffic: new Traffic(elb, new TokenBucket(defaults.DRIVER_ELB_DESCRIBE_RATE)),
  cloudwatch: new CloudWatchClient(sdk),
  alarmPrefix: getStringFromEnv("ALARM_PREFIX"),
  logger,
  metrics,
  watch: {
    services: config.watch ?? [],
    intervalMs: defaults.DRIVER_HEALTH_WATCH_SECONDS * 1000,
    rate: new TokenBucket(defaults.DRIVER_WATCH_ELB_DESCRIBE_RATE),
    rollBack: (service, reason) => rollback.manual({ service, reason, by: "release-driver (target health)" }),
  },
  ...(process.env.NOTIFY_TOPIC_ARN
    ? { notify: { sns: new SNSClient(sdk), topicArn: process.env.NOTIFY_TOPIC_ARN, stack: getStringFromEnv("STACK_NAME"), steps: process.env.NOTIFY_STEPS === "true" } }
    : {}),
});

/** The EventBridge scheduled event (only `time` is read: the tick is timed from the schedule). */
interface ScheduledEvent {
  readonly time?: unknown;
}

/**
 * One tick. A service whose tick failed (an AWS or cluster error) makes the invocation fail after
 * every other service had its turn, so the driver's Errors metric (and its paging alarm) shows it;
 * a timeout counts there too.
 */
export const handler = async (event: ScheduledEvent | undefined, context: Context): Promise<TickResult[]> => {
  logger.addContext(context);
  connections.beforeInvocation();
  let results: TickResult[];
  try {
    results = await driver.tick({
      ...(typeof event?.time === "string" ? { scheduledAt: event.time } : {}),
      remainingMs: () => context.getRemainingTimeInMillis(),
      // Whoever invokes it (the schedule, or anyone allowed lambda:InvokeFunction), one ticks.
      leaseHolder: context.awsRequestId,
    });
  } finally {
    connections.afterInvocation();
  }
  const failed = results.filter((r) => r.failed);
  if (failed.length > 0) throw new Error(`release driver tick failed for ${failed.map((r) => `${r.service} (${r.reason})`).join("; ")}`);
  return results;
};
