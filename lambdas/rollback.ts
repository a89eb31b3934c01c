/**
 * Rollback Lambda entry point (one per stack). CloudWatch alarms on each service's slots invoke
 * it directly; it also accepts the SNS-wrapped and EventBridge forms of the same alarm.
 * Clients, logger, metrics and configuration are created once per container, at module scope.
 * Bundled by esbuild (components/rollback/bundle.ts) into the zip the RollbackFunction deploys.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { SNSClient } from "@aws-sdk/client-sns";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { ROLLBACK_METRICS } from "../core/defaults";
import { getStringFromEnv } from "./commons/env";
import { LambdaConnections } from "./commons/sdk";
import { ReleaseStore } from "./commons/releaseStore";
import { createRollbackHandler, type RollbackResult } from "./commons/rollbackHandler";
import { Traffic } from "./commons/traffic";
import { type OverrideResponse, createOverrideHandler, isFunctionUrlEvent } from "./commons/overrides";

const logger = new Logger({ serviceName: ROLLBACK_METRICS.serviceName });
// The rollback alarm on ConfirmationThrottled (components/rollback) reads this identity.
const metrics = new Metrics(ROLLBACK_METRICS);

// One pool of connections for the four clients, closed when idle too long between invocations.
const connections = new LambdaConnections();
const sdk = connections.clientConfig();

const store = new ReleaseStore(new DynamoDBClient(sdk), getStringFromEnv("RELEASE_TABLE"));
const sns = new SNSClient(sdk);
const traffic = new Traffic(new ElasticLoadBalancingV2Client(sdk));
const cloudwatch = new CloudWatchClient(sdk);
const alarmPrefix = getStringFromEnv("ALARM_PREFIX");
const run = createRollbackHandler({
  store,
  traffic,
  sns,
  cloudwatch,
  topicArn: getStringFromEnv("NOTIFY_TOPIC_ARN"),
  alarmPrefix,
  ...(process.env.STACK_NAME ? { stack: process.env.STACK_NAME } : {}),
  // Alarms of another account or region never roll this stack back, whatever their name.
  expectedAccount: getStringFromEnv("ALARM_ACCOUNT_ID"),
  expectedRegion: getStringFromEnv("AWS_REGION"),
  logger,
  metrics,
});

// Operators' rollback, abort, promote and drill, through the function URL (AWS_IAM): the caller
// is the identity Lambda verified (lambdas/commons/overrides.ts).
const override = createOverrideHandler({ rollback: run, store, sns, topicArn: getStringFromEnv("NOTIFY_TOPIC_ARN"), drill: { store, traffic, cloudwatch, alarmPrefix } });

export const handler = async (event: unknown, context: Context): Promise<RollbackResult | OverrideResponse> => {
  connections.beforeInvocation();
  try {
    if (isFunctionUrlEvent(event)) return await override(event);
    return await run(event, context);
  } finally {
    connections.afterInvocation();
    // The handler emits per-service single metrics (published as added); flush anything else.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
