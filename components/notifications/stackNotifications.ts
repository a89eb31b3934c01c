/**
 * Where a stack's notifications go besides the on-call emails: Slack and Microsoft Teams
 * channels through AWS Chatbot (Amazon Q Developer in chat applications) and HTTPS webhooks,
 * all subscribed to the stack's notification topic.
 *
 * - Chatbot needs an IAM role for each channel configuration; remedy's channels only receive
 *   notifications, so the role has no permissions and the channel guardrail is `AWSDenyAll`:
 *   nobody in the channel can run AWS commands through the bot
 *   (https://docs.aws.amazon.com/chatbot/latest/adminguide/understanding-permissions.html).
 *   The workspace or team must have been authorised in the Chatbot console once (OAuth);
 *   that step has no API.
 * - Chatbot renders only the formats it knows; remedy's messages carry a custom notification
 *   for HTTPS subscribers (lambdas/commons/notify.ts).
 * - A webhook with `events` gets an SNS filter policy on the `event` message attribute, so it
 *   takes only those (e.g. only `rolled-back`). SNS confirms the subscription by POSTing a
 *   SubscriptionConfirmation to the URL first: the endpoint must visit its SubscribeURL.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { NotificationsSpec } from "../../core/config";
import * as defaults from "../../core/defaults";
import { bundledFunction, checkedPolicy, logGroupAndRole } from "../rollback/lambdaParts";
import { publishOnlyBy } from "../rollback/rollbackFunction";

export interface StackNotificationsArgs {
  /**
   * Where the Chatbot channel configurations are created (`core/config` chatbotRegion: the stack's
   * region when it has the Chatbot API, else `notifications.chatbotRegion`). Default: the provider's.
   */
  readonly chatbotRegion?: string;
  /** `<project>-<stack>`: names the Chatbot configurations (`<prefix>-<channel name>`). */
  readonly prefix: string;
  /** The stack's notification topic. */
  readonly topicArn: pulumi.Input<string>;
  /** The topic's KMS key: a filtered channel's topic is encrypted with it, and its relay publishes with it. */
  readonly topicKeyArn: pulumi.Input<string>;
  /** Permissions boundary for the relays' roles. */
  readonly permissionsBoundaryArn?: string;
  readonly logRetentionDays?: number;
  /** The validated `remedy:notifications` section (destinations; `steps` is the driver's). */
  readonly notifications: Pick<NotificationsSpec, "slack" | "teams" | "webhooks">;
  readonly tags?: Readonly<Record<string, string>>;
}

/** Chatbot configuration names: 1 to 128 of A-Z a-z 0-9 - _. */
export const CHATBOT_NAME_MAX = 128;

/** What Chatbot assumes; notifications need no permissions. */
export function chatbotAssumeRolePolicy() {
  return { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "chatbot.amazonaws.com" }, Action: "sts:AssumeRole" }] };
}

export class StackNotifications extends pulumi.ComponentResource {
  public readonly slack: aws.chatbot.SlackChannelConfiguration[];
  public readonly teams: aws.chatbot.TeamsChannelConfiguration[];
  public readonly webhooks: aws.sns.TopicSubscription[];
  public readonly role?: aws.iam.Role;
  /** Per filtered chat channel: its topic and the relay feeding it. */
  public readonly channelTopics: Record<string, aws.sns.Topic> = {};
  public readonly relays: Record<string, aws.lambda.Function> = {};

  constructor(name: string, args: StackNotificationsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("remedy:notifications:StackNotifications", name, {}, opts);
    const n = args.notifications;
    const names = [...n.slack, ...n.teams].map((c) => c.name);
    const twice = names.filter((x, i) => names.indexOf(x) !== i);
    if (twice.length > 0) throw new pulumi.ResourceError(`\`notifications\`: channel name ${twice[0]} is used twice; each Slack and Teams channel needs its own name`, this);
    const tooLong = names.find((x) => `${args.prefix}-${x}`.length > CHATBOT_NAME_MAX);
    if (tooLong) throw new pulumi.ResourceError(`\`notifications\`: ${args.prefix}-${tooLong} is over Chatbot's ${CHATBOT_NAME_MAX} characters`, this);
    const parent = { parent: this };
    const tags = { "remedy:component": "notifications", ...args.tags };
    const chat = n.slack.length + n.teams.length > 0;
    this.role = chat ? new aws.iam.Role(`${name}-chatbot`, { assumeRolePolicy: JSON.stringify(chatbotAssumeRolePolicy()), description: `remedy ${args.prefix}: AWS Chatbot channels (notifications only)`, tags }, parent) : undefined;
    const topicOf = (channel: { name: string; events?: readonly string[] }): pulumi.Input<string> => (channel.events ? this.filteredTopic(name, args, channel.name, channel.events, tags) : args.topicArn);
    const common = (channel: { name: string; events?: readonly string[] }) => ({
      configurationName: `${args.prefix}-${channel.name}`,
      iamRoleArn: (this.role as aws.iam.Role).arn,
      snsTopicArns: [topicOf(channel)],
      guardrailPolicyArns: ["arn:aws:iam::aws:policy/AWSDenyAll"],
      loggingLevel: "ERROR",
      tags,
      ...(args.chatbotRegion ? { region: args.chatbotRegion } : {}),
    });
    this.slack = n.slack.map((c) => new aws.chatbot.SlackChannelConfiguration(`${name}-slack-${c.name}`, { ...common(c), slackTeamId: c.workspaceId, slackChannelId: c.channelId }, parent));
    this.teams = n.teams.map((c) => new aws.chatbot.TeamsChannelConfiguration(`${name}-teams-${c.name}`, { ...common(c), teamId: c.teamId, tenantId: c.tenantId, channelId: c.channelId }, parent));
    this.webhooks = n.webhooks.map(
      (w, i) =>
        new aws.sns.TopicSubscription(
          `${name}-webhook-${i}`,
          {
            topic: args.topicArn,
            protocol: "https",
            endpoint: w.url,
            ...(w.events ? { filterPolicy: JSON.stringify({ event: [...w.events] }), filterPolicyScope: "MessageAttributes" } : {}),
          },
          parent,
        ),
    );
    this.registerOutputs({});
  }

  /**
   * A channel's own topic (encrypted with the stack topic's key), fed by a relay Lambda whose
   * subscription to the stack topic has a filter policy on `event`.
   */
  private filteredTopic(name: string, args: StackNotificationsArgs, channel: string, events: readonly string[], tags: Record<string, string>): pulumi.Output<string> {
    const parent = { parent: this };
    const base = `${name}-${channel}`;
    const topic = new aws.sns.Topic(base, { kmsMasterKeyId: args.topicKeyArn, tags }, parent);
    const { logGroup, role } = logGroupAndRole(`${base}-relay`, { retentionInDays: args.logRetentionDays ?? defaults.DEFAULT_LOG_RETENTION_DAYS, tags, permissionsBoundary: args.permissionsBoundaryArn }, this);
    const policy = new aws.iam.RolePolicy(
      `${base}-relay`,
      {
        role: role.id,
        policy: pulumi.all([topic.arn, pulumi.output(args.topicKeyArn), logGroup.arn]).apply(([t, key, logs]) => checkedPolicy(`${base}-relay role policy`, relayPolicy({ topic: t, key, logs }))),
      },
      parent,
    );
    const { fn } = bundledFunction(
      `${base}-relay`,
      { entry: "notifyRelay", role, policy, logGroup, memorySize: 128, timeout: 10, variables: { TARGET_TOPIC_ARN: topic.arn }, description: `remedy ${args.prefix}: relays ${events.join(", ")} to chat channel ${channel}`, tags },
      this,
    );
    const permission = new aws.lambda.Permission(`${base}-relay`, { action: "lambda:InvokeFunction", function: fn.name, principal: "sns.amazonaws.com", sourceArn: args.topicArn }, parent);
    new aws.sns.TopicSubscription(
      `${base}-relay`,
      { topic: args.topicArn, protocol: "lambda", endpoint: fn.arn, filterPolicy: JSON.stringify({ event: [...events] }), filterPolicyScope: "MessageAttributes" },
      { parent: this, dependsOn: [permission] },
    );
    // Not SNS's default policy (any principal of the account may publish fake notices into the
    // channel): the stack topic's, with the relay as the only publisher (issue 35, 7).
    new aws.sns.TopicPolicy(base, { arn: topic.arn, policy: pulumi.all([topic.arn, role.arn]).apply(([t, r]) => JSON.stringify({ Version: "2012-10-17", Statement: publishOnlyBy(t, [r]) })) }, parent);
    this.channelTopics[channel] = topic;
    this.relays[channel] = fn;
    return topic.arn;
  }
}

/** @internal The relay role's policy: publish to its channel's topic (and its key), write its logs. */
export function relayPolicy(r: { topic: string; key: string; logs: string }) {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "PublishToTheChannelTopic", Effect: "Allow", Action: ["sns:Publish"], Resource: [r.topic] },
      { Sid: "TopicKey", Effect: "Allow", Action: ["kms:GenerateDataKey", "kms:Decrypt"], Resource: [r.key] },
      { Sid: "Logs", Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: [`${r.logs}:*`] },
    ],
  };
}
