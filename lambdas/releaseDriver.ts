/**
 * Release driver entry point (one per stack), invoked every minute by an EventBridge schedule:
 * moves each progressive release one step when its candidate is healthy and its alarms are OK,
 * and promotes it after the bake. Bundled by esbuild like the rollback Lambda.
 */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Context } from "aws-lambda";
import { getStringFromEnv } from "./commons/env";
import { createReleaseDriver, type TickResult } from "./commons/releaseDriver";
import { ReleaseStore } from "./commons/releaseStore";
import { Traffic } from "./commons/traffic";

const logger = new Logger({ serviceName: "remedy-release-driver" });

const driver = createReleaseDriver({
  store: new ReleaseStore(new DynamoDBClient({}), getStringFromEnv("RELEASE_TABLE")),
  traffic: new Traffic(new ElasticLoadBalancingV2Client({})),
  cloudwatch: new CloudWatchClient({}),
  alarmPrefix: getStringFromEnv("ALARM_PREFIX"),
  logger,
});

export const handler = async (_event: unknown, context: Context): Promise<TickResult[]> => {
  logger.addContext(context);
  return driver.tick();
};
