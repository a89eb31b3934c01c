/**
 * The three alarm event shapes the rollback handler accepts (the documented contract: docs/release-guide.md, "Automatic rollback"), normalised
 * to one `AlarmSignal`:
 * - CloudWatch's Lambda alarm action: `{ source: "aws.cloudwatch", alarmArn, alarmData: { alarmName, state } }`
 * - an SNS notification of an alarm: `{ Records: [{ EventSource: "aws:sns", Sns: { Message: "<json>" } }] }`
 * - EventBridge: `{ "detail-type": "CloudWatch Alarm State Change", source: "aws.cloudwatch", detail: { alarmName, state } }`
 * Anything else is an `InvalidEventError` naming what was wrong.
 */
import "../../core/zodMini";
import * as z from "zod/mini";
import { parseRollbackHint } from "../../core/alarms";

export const AlarmState = { Alarm: "ALARM", Ok: "OK", InsufficientData: "INSUFFICIENT_DATA" } as const;
export type AlarmState = (typeof AlarmState)[keyof typeof AlarmState];

export const EventShape = {
  AlarmAction: "cloudwatch-alarm-action",
  Sns: "sns",
  EventBridge: "eventbridge",
  /** Not an event: an operator's `remedy rollback`. */
  Operator: "operator",
} as const;
export type EventShape = (typeof EventShape)[keyof typeof EventShape];

export interface AlarmSignal {
  readonly shape: EventShape;
  readonly alarmName: string;
  readonly alarmArn?: string;
  /** Account and region the event envelope names (the ARN's, when present, take precedence). */
  readonly account?: string;
  readonly region?: string;
  readonly state: AlarmState;
  readonly reason: string;
  /** When the alarm entered `state`, ISO-8601 (UTC). */
  readonly at: string;
  /**
   * The rollback target the alarm's description names (core/alarms.ts rollbackHint): read
   * beside the release state, used only where the state names the same rule and group.
   */
  readonly hint?: { readonly targetGroupArn: string; readonly ruleArn: string };
}

/** The event is not one of the accepted shapes; `message` names the field and what was expected. */
export class InvalidEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidEventError";
  }
}

/**
 * CloudWatch writes `2023-08-04T12:36:15.490+0000` (no colon in the offset), SNS the same;
 * EventBridge's envelope uses `2019-10-02T17:04:40Z`. Accept both, return ISO-8601 UTC.
 */
const cwTime = z.pipe(
  z.string(),
  z.transform((raw: string, ctx) => {
    const normalised = raw.replace(/([+-]\d{2})(\d{2})$/, "$1:$2");
    const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(normalised) ? Date.parse(normalised) : NaN;
    if (Number.isNaN(ms)) {
      ctx.issues.push({ code: "custom", message: `must be a timestamp such as 2026-11-24T10:00:00.000+0000, got ${JSON.stringify(raw)}`, input: raw });
      return z.NEVER;
    }
    return new Date(ms).toISOString();
  }),
);

const stateValue = z.enum([AlarmState.Alarm, AlarmState.Ok, AlarmState.InsufficientData]);
const alarmStateSchema = z.object({ value: stateValue, reason: z.string(), timestamp: cwTime });
const alarmName = z.string().check(z.minLength(1), z.maxLength(255));
const arnString = () => z.string().check(z.startsWith("arn:"));
const configuration = z.optional(z.looseObject({ description: z.nullish(z.string()) }));

const alarmActionSchema = z.object({
  source: z.literal("aws.cloudwatch"),
  alarmArn: arnString(),
  accountId: z.optional(z.string()),
  region: z.optional(z.string()),
  alarmData: z.object({ alarmName, state: alarmStateSchema, configuration }),
});

const eventBridgeSchema = z.object({
  source: z.literal("aws.cloudwatch"),
  "detail-type": z.literal("CloudWatch Alarm State Change"),
  account: z.optional(z.string()),
  region: z.optional(z.string()),
  resources: z.optional(z.array(z.string())),
  detail: z.object({ alarmName, state: alarmStateSchema, configuration }),
});

const snsMessageSchema = z.object({
  AlarmName: alarmName,
  AlarmArn: z.optional(arnString()),
  AWSAccountId: z.optional(z.string()),
  NewStateValue: stateValue,
  NewStateReason: z.string(),
  StateChangeTime: cwTime,
  AlarmDescription: z.nullish(z.string()),
});

const snsSchema = z.object({
  Records: z.array(z.object({ EventSource: z.literal("aws:sns"), Sns: z.object({ Message: z.string() }) })).check(z.minLength(1)),
});

function problems(err: { readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[] }, root: string): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${[root, ...i.path.map(String)].filter(Boolean).join(".")}: ${i.message}`)
    .join("; ");
}

/** `o` without its undefined properties. */
function defined<T extends Record<string, string | undefined>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** `{ hint }` when the description carries one. */
function hintOf(description: string | null | undefined): { hint?: { targetGroupArn: string; ruleArn: string } } {
  const hint = parseRollbackHint(description);
  return hint ? { hint } : {};
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Normalises an incoming event into alarm signals (several for a batched SNS delivery).
 * @throws InvalidEventError for anything that is not one of the three accepted shapes.
 */
export function parseAlarmEvent(event: unknown): AlarmSignal[] {
  if (!isObject(event)) {
    throw new InvalidEventError(`event must be a JSON object, got ${event === null ? "null" : Array.isArray(event) ? "an array" : typeof event}`);
  }
  if ("Records" in event) {
    const parsed = snsSchema.safeParse(event);
    if (!parsed.success) throw new InvalidEventError(`not an SNS alarm notification: ${problems(parsed.error, "")}`);
    return parsed.data.Records.map((record, i) => {
      let message: unknown;
      try {
        message = JSON.parse(record.Sns.Message);
      } catch (err) {
        throw new InvalidEventError(`Records[${i}].Sns.Message: must be the JSON alarm notification: ${(err as Error).message}`);
      }
      const m = snsMessageSchema.safeParse(message);
      if (!m.success) throw new InvalidEventError(`not a CloudWatch alarm notification: ${problems(m.error, `Records[${i}].Sns.Message`)}`);
      return {
        shape: EventShape.Sns,
        alarmName: m.data.AlarmName,
        alarmArn: m.data.AlarmArn,
        ...defined({ account: m.data.AWSAccountId }),
        state: m.data.NewStateValue,
        reason: m.data.NewStateReason,
        at: m.data.StateChangeTime,
        ...hintOf(m.data.AlarmDescription),
      };
    });
  }
  if ("detail-type" in event || "detail" in event) {
    const parsed = eventBridgeSchema.safeParse(event);
    if (!parsed.success) throw new InvalidEventError(`not a CloudWatch Alarm State Change event: ${problems(parsed.error, "")}`);
    const d = parsed.data.detail;
    return [
      {
        shape: EventShape.EventBridge,
        alarmName: d.alarmName,
        alarmArn: parsed.data.resources?.find((r) => r.includes(":alarm:")),
        ...defined({ account: parsed.data.account, region: parsed.data.region }),
        state: d.state.value,
        reason: d.state.reason,
        at: d.state.timestamp,
        ...hintOf(d.configuration?.description),
      },
    ];
  }
  if ("alarmData" in event || event.source === "aws.cloudwatch") {
    const parsed = alarmActionSchema.safeParse(event);
    if (!parsed.success) throw new InvalidEventError(`not a CloudWatch alarm action event: ${problems(parsed.error, "")}`);
    const d = parsed.data.alarmData;
    return [
      {
        shape: EventShape.AlarmAction,
        alarmName: d.alarmName,
        alarmArn: parsed.data.alarmArn,
        ...defined({ account: parsed.data.accountId, region: parsed.data.region }),
        state: d.state.value,
        reason: d.state.reason,
        at: d.state.timestamp,
        ...hintOf(d.configuration?.description),
      },
    ];
  }
  const keys = Object.keys(event).slice(0, 8).join(", ") || "none";
  throw new InvalidEventError(
    `unrecognised event (top-level keys: ${keys}); expected a CloudWatch alarm action (alarmData), an SNS alarm notification (Records[].Sns) or an EventBridge "CloudWatch Alarm State Change" event`,
  );
}

export interface AlarmOrigin {
  readonly account?: string;
  readonly region?: string;
  /** The alarm name inside the ARN, when there is one. */
  readonly name?: string;
  /**
   * Set when the event carries an ARN that is not a CloudWatch alarm's
   * (`arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>`): the event is not trusted at all.
   */
  readonly invalid?: string;
}

/** A CloudWatch alarm ARN in any partition (aws, aws-cn, aws-us-gov...): region, account, name. */
const ALARM_ARN = /^arn:aws(?:-[a-z]+)*:cloudwatch:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):alarm:(.+)$/;

/**
 * Where an alarm lives: the account, region and name in its ARN
 * (`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`), else what the envelope says. Each
 * part is undefined when the event does not say. An ARN of any other shape (a listener rule's, a
 * function's) makes the origin `invalid`: a well-formed ARN of this account is not an alarm.
 */
export function alarmOrigin(signal: AlarmSignal): AlarmOrigin {
  if (signal.alarmArn === undefined) return { account: signal.account, region: signal.region };
  const m = ALARM_ARN.exec(signal.alarmArn);
  if (!m) {
    return { invalid: `${JSON.stringify(signal.alarmArn.slice(0, 200))} is not a CloudWatch alarm ARN (arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>)` };
  }
  // An envelope that contradicts the ARN is not trusted either way.
  const conflict = (signal.account && signal.account !== m[2]) || (signal.region && signal.region !== m[1]);
  return conflict ? { name: m[3] } : { region: m[1], account: m[2], name: m[3] };
}
