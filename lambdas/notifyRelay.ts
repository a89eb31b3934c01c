/**
 * Notification relay entry point (one per filtered chat channel): the stack topic's messages a
 * channel takes, republished to the channel's own topic (see commons/relay.ts).
 */
import { SNSClient } from "@aws-sdk/client-sns";
import { getStringFromEnv } from "./commons/env";
import { relay } from "./commons/relay";
import { LambdaConnections } from "./commons/sdk";

const connections = new LambdaConnections();
const sns = new SNSClient(connections.clientConfig());
const target = getStringFromEnv("TARGET_TOPIC_ARN");

export const handler = async (event: unknown): Promise<{ relayed: number }> => {
  connections.beforeInvocation();
  try {
    return { relayed: await relay(event, sns, target) };
  } finally {
    connections.afterInvocation();
  }
};
