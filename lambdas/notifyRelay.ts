/**
 * Notification relay entry point (one per filtered chat channel): the stack topic's messages a
 * channel takes, republished to the channel's own topic (see commons/relay.ts).
 */
import { SNSClient } from "@aws-sdk/client-sns";
import { getStringFromEnv } from "./commons/env";
import { relay } from "./commons/relay";
import { LAMBDA_SDK_CONFIG } from "./commons/sdk";

const sns = new SNSClient(LAMBDA_SDK_CONFIG);
const target = getStringFromEnv("TARGET_TOPIC_ARN");

export const handler = async (event: unknown): Promise<{ relayed: number }> => ({ relayed: await relay(event, sns, target) });
