/**
 * The `remedy:notifications` section: who hears about releases besides the on-call emails
 * (`remedy:rollback.notificationEmails`), and how much. Every destination takes messages from
 * the stack's notification topic (the one rollbacks page).
 * - `steps`: also tell every progressive step (default false: one message a minute per release).
 * - `slack` / `teams`: chat channels through AWS Chatbot (Amazon Q Developer in chat
 *   applications). remedy's messages carry a Chatbot custom notification for HTTPS subscribers,
 *   so they render as a title and a few lines in the channel. With `events`, the channel gets a
 *   topic of its own fed by a relay Lambda whose subscription filters on `event` (Chatbot owns
 *   its subscriptions, so they cannot be filtered).
 * - `webhooks`: HTTPS endpoints getting the same JSON, optionally only some events (an SNS
 *   subscription filter policy on the `event` message attribute, e.g. only `rolled-back`).
 */
import { z } from "zod";
import { NOTICE_EVENTS, type NoticeEvent } from "../lifecycle";
import { dnsLabel, type Filled } from "./fields";

const events = z
  .array(z.enum(NOTICE_EVENTS as [NoticeEvent, ...NoticeEvent[]], { error: `must be one of ${NOTICE_EVENTS.join(", ")}` }), { error: "a list of events" })
  .min(1, { error: "name at least one event, or leave events out for all" })
  .optional();

/**
 * The regions with an AWS Chatbot API endpoint, where channel configurations can be created
 * (Chatbot's API exists in these four only: aws/aws-cli#8658, the Chatbot API reference's
 * endpoints). A channel there still receives a topic of any region.
 */
export const CHATBOT_REGIONS = ["us-east-2", "us-west-2", "eu-west-1", "ap-southeast-1"] as const;

/**
 * Where the stack's Chatbot channel configurations are created: `chatbotRegion` when set, else the
 * stack's region when it has a Chatbot endpoint; `undefined` when no chat channel is configured.
 * @throws Error naming the setting and the regions when the stack's region has no endpoint and none is set.
 */
export function chatbotRegion(spec: NotificationsSpec, stackRegion: string | undefined): string | undefined {
  if (spec.slack.length + spec.teams.length === 0) return undefined;
  if (spec.chatbotRegion) return spec.chatbotRegion;
  if (stackRegion === undefined || (CHATBOT_REGIONS as readonly string[]).includes(stackRegion)) return stackRegion;
  throw new Error(
    `notifications.chatbotRegion: the stack's region ${stackRegion} has no AWS Chatbot API, so its Slack and Teams channels cannot be created there; ` +
      `set remedy:notifications.chatbotRegion to one of ${CHATBOT_REGIONS.join(", ")} (the channels are created there and still receive this stack's topic in ${stackRegion})`,
  );
}

/** Slack's workspace (team) and channel ids: 9 or more upper-case letters and digits. */
const SLACK_ID = /^[A-Z0-9]{9,20}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const notificationsSchema = z.strictObject({
  steps: z.boolean({ error: "must be true or false" }).optional(),
  chatbotRegion: z.enum(CHATBOT_REGIONS, { error: `must be one of ${CHATBOT_REGIONS.join(", ")}, the regions with the AWS Chatbot API` }).optional(),
  slack: z
    .array(
      z.strictObject({
        name: dnsLabel("a name for this channel (it names the Chatbot configuration)", 20),
        workspaceId: z.string().regex(SLACK_ID, { error: 'must be the Slack workspace id Chatbot shows after you authorise it, e.g. "T07EA123LEP"' }),
        channelId: z.string().regex(SLACK_ID, { error: 'must be the Slack channel id (channel details, bottom), e.g. "C07EZ1ABC23"' }),
        events,
      }),
    )
    .optional(),
  teams: z
    .array(
      z.strictObject({
        name: dnsLabel("a name for this channel (it names the Chatbot configuration)", 20),
        teamId: z.string().regex(UUID, { error: "must be the Microsoft Teams team id (a UUID) Chatbot shows after you authorise it" }),
        tenantId: z.string().regex(UUID, { error: "must be the Microsoft Entra tenant id (a UUID)" }),
        channelId: z.string().min(1, { error: "must be the Teams channel id, e.g. 19:abc...@thread.tacv2" }).max(256),
        events,
      }),
    )
    .optional(),
  webhooks: z
    .array(
      z.strictObject({
        url: z.url({ protocol: /^https$/, error: 'must be an https URL, e.g. "https://hooks.example.com/remedy" (SNS confirms the subscription there first)' }),
        events,
      }),
    )
    .optional(),
});

/** The section validated, defaults applied (no destinations, steps not told). */
export type NotificationsSpec = Filled<z.output<typeof notificationsSchema>, "steps" | "slack" | "teams" | "webhooks">;

export function normaliseNotifications(raw: z.output<typeof notificationsSchema> | undefined): NotificationsSpec {
  return { steps: raw?.steps ?? false, slack: raw?.slack ?? [], teams: raw?.teams ?? [], webhooks: raw?.webhooks ?? [], ...(raw?.chatbotRegion ? { chatbotRegion: raw.chatbotRegion } : {}) };
}
