/**
 * A target stack's promotion policy, `remedy:promotion` (issue 38, 3): which environments a bundle
 * comes from, how many must have verified it, how long it must have soaked there, the evidence it
 * needs and how fresh, who must approve it, and when promotions may happen. Checked offline by
 * `remedy validate` and at preview, each bad field named with its fix.
 */
import { z } from "zod";
import type { Issue } from "../config/errors";
import { int, required } from "../config/fields";
import { releaseTableName } from "../naming";

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
/** An approver: an IAM role ARN, or an assumed-role session pattern (`arn:aws:sts::<account>:assumed-role/<role>/*`). */
const APPROVER = /^arn:aws[a-z-]*:(iam::\d{12}:(role|user)\/[\w+=,.@/-]+|sts::\d{12}:assumed-role\/[\w+=,.@-]+\/([\w+=,.@-]+|\*))$/;
const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;
export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const promotionSchema = z.strictObject(
  {
    sources: z
      .array(
        z.strictObject(
          {
            stack: z
              .string({ error: required('the source stack, e.g. "acme/remedy/staging"') })
              .regex(/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/, { error: 'must be a full stack name such as "acme/remedy/staging" (organization/project/stack)' }),
            table: z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, { error: "must be a DynamoDB table name" }).optional(),
            region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'must be an AWS region such as "eu-west-1"' }).optional(),
            roleArn: z.string().regex(ROLE_ARN, { error: 'must be an IAM role ARN such as "arn:aws:iam::210987654321:role/remedy-evidence-reader"' }).optional(),
          },
          { error: required("a source { stack, table?, region?, roleArn? }") },
        ),
        { error: required("the environments bundles come from, e.g. [{ stack: acme/remedy/staging }]") },
      )
      .min(1, { error: "name at least one source environment" }),
    verifiedBy: int("how many sources must have completed a release of the bundle", 1, 10).optional(),
    soakMinutes: int("how long the bundle must have run in a source since its release completed, without an alarm or rollback", 0, 43_200).optional(),
    evidence: z
      .strictObject(
        {
          maxAgeMinutes: int("how old the evidence read from a source may be before it is read again", 1, 10_080).optional(),
          maxErrorRatePoints: z.number({ error: required("the most the candidate's 5xx rate may exceed the stable's over the soak, in percentage points") }).min(0).max(100).optional(),
          maxP99Ratio: z.number({ error: required("the most the candidate's p99 may be, as a multiple of the stable's, over the soak") }).min(1).max(10).optional(),
          drill: z.boolean({ error: "must be true or false: whether a passed remedy drill of the bundle is required" }).optional(),
        },
        { error: required("evidence { maxAgeMinutes?, maxErrorRatePoints?, maxP99Ratio?, drill? }") },
      )
      .optional(),
    approvals: z
      .strictObject(
        {
          count: int("how many people must approve the bundle", 1, 10),
          approvers: z.array(z.string().regex(APPROVER, { error: 'must be an IAM role or user ARN, or "arn:aws:sts::<account>:assumed-role/<role>/*"' })).min(1, { error: "name who may approve" }),
          expiresHours: int("how long an approval stays valid", 1, 168).optional(),
        },
        { error: required("approvals { count, approvers, expiresHours? }") },
      )
      .optional(),
    windows: z
      .strictObject(
        {
          allow: z
            .array(
              z.strictObject(
                {
                  days: z.array(z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(", ")}` })).min(1),
                  from: z.string().regex(HH_MM, { error: 'must be a UTC time "HH:MM"' }),
                  to: z.string().regex(HH_MM, { error: 'must be a UTC time "HH:MM"' }),
                },
                { error: required("an allow window { days, from, to } (UTC)") },
              ),
            )
            .optional(),
          deny: z
            .array(
              z.strictObject(
                {
                  from: z.iso.datetime({ error: "must be a UTC time, YYYY-MM-DDTHH:MM:SSZ" }),
                  to: z.iso.datetime({ error: "must be a UTC time, YYYY-MM-DDTHH:MM:SSZ" }),
                  reason: z.string({ error: required("why promotions stop then (a freeze, an event)") }).min(5),
                },
                { error: required("a deny window { from, to, reason }") },
              ),
            )
            .optional(),
        },
        { error: required("windows { allow?, deny? }") },
      )
      .optional(),
  },
  { error: required("a promotion policy { sources, verifiedBy?, soakMinutes?, evidence?, approvals?, windows? }") },
);

export type RawPromotionPolicy = z.output<typeof promotionSchema>;

/** The policy with its defaults, as the gates read it. */
export interface PromotionPolicy {
  readonly sources: readonly { readonly stack: string; readonly table: string; readonly region?: string; readonly roleArn?: string }[];
  readonly verifiedBy: number;
  readonly soakMinutes: number;
  readonly evidence: { readonly maxAgeMinutes: number; readonly maxErrorRatePoints: number; readonly maxP99Ratio: number; readonly drill: boolean };
  readonly approvals?: { readonly count: number; readonly approvers: readonly string[]; readonly expiresHours: number };
  readonly windows: { readonly allow: readonly { readonly days: readonly Weekday[]; readonly from: string; readonly to: string }[]; readonly deny: readonly { readonly from: string; readonly to: string; readonly reason: string }[] };
}

export const PROMOTION_DEFAULTS = { verifiedBy: 1, soakMinutes: 1440, maxAgeMinutes: 60, maxErrorRatePoints: 1, maxP99Ratio: 1.5, expiresHours: 24 } as const;

/** A stack's release table: `<project>-<stack>-releases`. */
export const releaseTableOf = (stack: string): string => {
  const [, project, name] = stack.split("/");
  return releaseTableName(`${project}-${name}`);
};

/** The cross-field rules: enough sources for `verifiedBy`, each named once, windows that make sense. */
export function checkPromotion(p: RawPromotionPolicy, at: PropertyKey[], out: Issue[]): void {
  const verifiedBy = p.verifiedBy ?? PROMOTION_DEFAULTS.verifiedBy;
  if (verifiedBy > p.sources.length) out.push({ path: [...at, "verifiedBy"], message: `is ${verifiedBy}, but only ${p.sources.length} source(s) are named; name more sources or lower it` });
  p.sources.forEach((s, i) => {
    const first = p.sources.findIndex((o) => o.stack === s.stack);
    if (first !== i) out.push({ path: [...at, "sources", i, "stack"], message: `names ${s.stack} again (sources[${first}]); each source once` });
  });
  (p.windows?.allow ?? []).forEach((w, i) => {
    if (w.from >= w.to) out.push({ path: [...at, "windows", "allow", i, "to"], message: `is ${w.to}, not after from ${w.from}; split a window across midnight into two` });
  });
  (p.windows?.deny ?? []).forEach((w, i) => {
    if (Date.parse(w.to) <= Date.parse(w.from)) out.push({ path: [...at, "windows", "deny", i, "to"], message: `is ${w.to}, not after from ${w.from}` });
  });
}

/** The policy as the gates use it. */
export function normalisePromotion(p: RawPromotionPolicy): PromotionPolicy {
  return {
    sources: p.sources.map((s) => ({ stack: s.stack, table: s.table ?? releaseTableOf(s.stack), ...(s.region ? { region: s.region } : {}), ...(s.roleArn ? { roleArn: s.roleArn } : {}) })),
    verifiedBy: p.verifiedBy ?? PROMOTION_DEFAULTS.verifiedBy,
    soakMinutes: p.soakMinutes ?? PROMOTION_DEFAULTS.soakMinutes,
    evidence: {
      maxAgeMinutes: p.evidence?.maxAgeMinutes ?? PROMOTION_DEFAULTS.maxAgeMinutes,
      maxErrorRatePoints: p.evidence?.maxErrorRatePoints ?? PROMOTION_DEFAULTS.maxErrorRatePoints,
      maxP99Ratio: p.evidence?.maxP99Ratio ?? PROMOTION_DEFAULTS.maxP99Ratio,
      drill: p.evidence?.drill ?? false,
    },
    ...(p.approvals ? { approvals: { count: p.approvals.count, approvers: p.approvals.approvers, expiresHours: p.approvals.expiresHours ?? PROMOTION_DEFAULTS.expiresHours } } : {}),
    windows: { allow: p.windows?.allow ?? [], deny: p.windows?.deny ?? [] },
  };
}

/**
 * What IAM evaluates as `aws:PrincipalArn` for an approver's sessions, as `ArnLike` patterns: a
 * role's or user's ARN as given; for an assumed-role session pattern, its role's ARN with or
 * without a path (the session ARN names the role without its path; `aws:PrincipalArn` is the
 * role's ARN with it: "the assumed-role ARN ... arn:aws:sts::{accountId}:assumed-role/{roleName}/
 * {sessionName}" for a role with a path, hashicorp/terraform-provider-aws#19957). The release
 * table's policy lets these write (their approvals).
 */
export function approverPrincipalPatterns(approvers: readonly string[]): string[] {
  const out = approvers.flatMap((a) => {
    const s = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\//.exec(a);
    return s ? [`arn:${s[1]}:iam::${s[2]}:role/${s[3]}`, `arn:${s[1]}:iam::${s[2]}:role/*/${s[3]}`] : [a];
  });
  return [...new Set(out)].sort();
}
