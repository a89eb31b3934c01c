/**
 * What people are told about a release as it moves, from the transition just recorded: release
 * started, step advanced (opt-in), paused for `remedy promote`, pre-traffic check failed or
 * release held for an operator, promoted, previous slot scaled down after the rollback window,
 * hotfix shipped. Rollbacks and escalations are told by the rollback Lambda itself.
 *
 * Each message is written in the same conditional transaction as the change it is about (the
 * release table's outbox), so it is sent once, however many copies or retries record it.
 * Chat-friendly: the subject is a short first line naming service, what happened and versions;
 * the body says weights and the command to act; the attributes are flat strings a subscription
 * filter policy can match (`event`, `service`, `stack`, `severity`).
 */
import type { HistoryEntry, ReleaseState } from "./releaseState";

/** Everything remedy tells people about, as the `event` message attribute. */
export const NoticeEvent = {
  ReleaseStarted: "release-started",
  StepAdvanced: "step-advanced",
  Paused: "paused",
  PreTrafficFailed: "pre-traffic-failed",
  Held: "held",
  Promoted: "promoted",
  PreviousRetired: "previous-retired",
  HotfixShipped: "hotfix-shipped",
  HotfixExpired: "hotfix-expired",
  LegacySunset: "legacy-sunset",
  LegacyRolledBack: "legacy-rolled-back",
  LegacyBrownout: "legacy-brownout",
  RolledBack: "rolled-back",
  Escalated: "escalated",
  PromoteRequested: "promote-requested",
} as const;
export type NoticeEvent = (typeof NoticeEvent)[keyof typeof NoticeEvent];

/** Every event, for config validation and filter policies. */
export const NOTICE_EVENTS: readonly NoticeEvent[] = Object.values(NoticeEvent);

/** How loud: `action` needs a person (held, paused, escalated, rolled back), `info` does not. */
export type Severity = "info" | "action";

export interface Notice {
  readonly subject: string;
  readonly lines: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
}

export interface NoticeOptions {
  /** The stack's name (`prod`), in every subject and as the `stack` attribute. */
  readonly stack: string;
  /** Also tell every progressive step (off by default: one message a minute per release). */
  readonly steps: boolean;
}

const weights = (s: ReleaseState) => `blue ${s.weights.blue}% / green ${s.weights.green}%`;
const version = (v: { version: string; slot: string } | null | undefined) => (v ? `${v.version} (${v.slot})` : "?");

function notice(event: NoticeEvent, severity: Severity, s: ReleaseState, o: NoticeOptions, subject: string, lines: readonly string[]): Notice {
  return {
    subject: `remedy ${o.stack}: ${subject}`,
    lines: [...lines, `Traffic: ${weights(s)}. History: remedy history ${s.service} --stack ${o.stack}`],
    attributes: { event, severity, service: s.service, stack: o.stack, ...(s.candidate ? { candidate: s.candidate.version } : {}), stable: s.stable.version, revision: String(s.revision) },
  };
}

/**
 * The message owed for the transition `before` -> `after` (recorded as `entry`), or undefined
 * when people need not hear of it (a weight moved by hand, a routing update, an acknowledgement).
 */
export function lifecycleNotice(before: ReleaseState, after: ReleaseState, entry: HistoryEntry, o: NoticeOptions): Notice | undefined {
  const svc = after.service;
  const cand = after.candidate;
  const p = after.progress;
  switch (entry.action) {
    case "start-release": {
      if (!cand) return undefined;
      if (entry.summary.startsWith("HOTFIX")) {
        return notice(NoticeEvent.HotfixShipped, "action", after, o, `${svc} HOTFIX ${cand.version} shipped at ${after.weights[cand.slot]}%`, [
          `${svc}: hotfix ${version(cand)} went straight to ${after.weights[cand.slot]}% with alarms and automatic rollback armed; stable was ${version(after.stable)}.`,
          entry.summary.replace(/^HOTFIX release [^;]*; /, ""),
          `Act: remedy rollback ${svc} --reason <text> sends traffic back to ${after.stable.version}.`,
        ]);
      }
      const plan = p ? `${p.strategy.steps.map((st) => (st.kind === "weight" ? `${st.weight}%/${st.minutes}m` : "pause")).join(" -> ")}, bake ${p.strategy.bakeMinutes}m` : `manual, at ${after.weights[cand.slot]}%`;
      return notice(NoticeEvent.ReleaseStarted, "info", after, o, `${svc} ${cand.version} release started`, [
        `${svc}: releasing ${version(cand)} over ${version(after.stable)} (${plan})${p?.preTraffic ? "; a pre-traffic check runs before the first step" : ""}.`,
        `Act: remedy abort ${svc} --reason <text> stops it; remedy status ${svc} shows where it is.`,
      ]);
    }
    case "advance-step": {
      if (!cand || !p) return undefined;
      const step = p.strategy.steps[p.stepIndex];
      if (step?.kind === "pause") {
        return notice(NoticeEvent.Paused, "action", after, o, `${svc} ${cand.version} paused at ${after.weights[cand.slot]}%: waiting for remedy promote`, [
          `${svc}: ${version(cand)} holds at ${after.weights[cand.slot]}% (${step.reason}).`,
          `Act: remedy promote ${svc} moves it on; remedy abort ${svc} --reason <text> stops it.`,
        ]);
      }
      if (!o.steps) return undefined;
      const where = p.stepIndex >= p.strategy.steps.length ? `baking at 100% for ${p.strategy.bakeMinutes} min` : `step ${p.stepIndex + 1}/${p.strategy.steps.length}`;
      return notice(NoticeEvent.StepAdvanced, "info", after, o, `${svc} ${cand.version} at ${after.weights[cand.slot]}%`, [
        `${svc}: ${version(cand)} moved from ${before.candidate ? before.weights[before.candidate.slot] : 0}% to ${after.weights[cand.slot]}% (${where}).`,
        `Act: remedy abort ${svc} --reason <text> stops it.`,
      ]);
    }
    case "pre-traffic-result": {
      const pt = p?.preTraffic;
      if (!cand || !pt || pt.passedAt) return undefined;
      const held = pt.attempts >= pt.maxAttempts;
      return notice(held ? NoticeEvent.Held : NoticeEvent.PreTrafficFailed, held ? "action" : "info", after, o, `${svc} ${cand.version} ${held ? "HELD: pre-traffic check failed" : `pre-traffic check failed (${pt.attempts}/${pt.maxAttempts})`}`, [
        `${svc}: the pre-traffic check of ${version(cand)} failed (${pt.attempts}/${pt.maxAttempts}): ${pt.lastResult ?? "?"}.`,
        held ? `The release is held at 0% for an operator. Act: remedy promote ${svc} runs the check again; remedy abort ${svc} --reason <text> stops it.` : "It runs again at the next tick; the candidate gets no traffic until it passes.",
      ]);
    }
    case "promote": {
      const promoted = after.stable;
      return notice(NoticeEvent.Promoted, "info", after, o, `${svc} ${promoted.version} promoted`, [
        `${svc}: ${version(promoted)} is the stable version${after.previous ? `; ${version(after.previous)} stays warm as the rollback target${after.rollbackWindowEndsAt ? ` until ${after.rollbackWindowEndsAt}` : ""}` : ""}.`,
        `Act: remedy rollback ${svc} --reason <text> sends traffic back${after.previous ? ` to ${after.previous.version}` : ""} while the window is open.`,
      ]);
    }
    case "retire-previous": {
      const prev = before.previous;
      if (!prev) return undefined;
      return notice(NoticeEvent.PreviousRetired, "info", after, o, `${svc} rollback window closed; ${prev.version} scaled to 0`, [
        `${svc}: the rollback window of ${version(after.stable)} ended; ${version(prev)} was scaled to 0 and is no longer a rollback target.`,
        `A rollback now needs a new release of a known-good version.`,
      ]);
    }
    case "lane-roll-back": {
      const lane = Object.entries(after.lanes ?? {}).find(([k, l]) => l.rolledBack && !before.lanes?.[k]?.rolledBack);
      if (!lane) return undefined;
      const [key, l] = lane;
      const rb = l.rolledBack as NonNullable<typeof l.rolledBack>;
      return notice(NoticeEvent.LegacyRolledBack, "action", after, o, `${svc} legacy lane ${l.version} ROLLED BACK to its previous image`, [
        `${svc}: the legacy lane ${l.version} (${key}) went back from ${rb.image} to ${rb.toImage}, which it ran before its hotfix; by ${rb.by}: ${rb.reason}.`,
        `pulumi up keeps it there while config names ${rb.image}. Act: set legacy[].image to ${rb.toImage} to accept, or ship a fixed image with legacy[].hotfix { reason }.`,
      ]);
    }
    case "lane-brownout": {
      const lane = Object.entries(after.lanes ?? {}).find(([k, l]) => JSON.stringify(l.brownout) !== JSON.stringify(before.lanes?.[k]?.brownout));
      if (!lane) return undefined;
      const [key, l] = lane;
      return l.brownout
        ? notice(NoticeEvent.LegacyBrownout, "info", after, o, `${svc} legacy lane ${l.version} brownout until ${l.brownout.until}`, [
            `${svc}: the legacy lane ${l.version} (${key}) answers its callers with 410 until ${l.brownout.until}, a scheduled brownout before its sunset; its alarms do not roll it back meanwhile.`,
          ])
        : notice(NoticeEvent.LegacyBrownout, "info", after, o, `${svc} legacy lane ${l.version} brownout over`, [`${svc}: the legacy lane ${l.version} (${key}) serves its callers again.`]);
    }
    case "lane-sunset": {
      const lane = Object.entries(after.lanes ?? {}).find(([k, l]) => l.sunsetDecision && !before.lanes?.[k]?.sunsetDecision);
      if (!lane) return undefined;
      const [key, l] = lane;
      const d = l.sunsetDecision as NonNullable<typeof l.sunsetDecision>;
      return d.allowed
        ? notice(NoticeEvent.LegacySunset, "action", after, o, `${svc} legacy lane ${l.version} retired at its sunset: callers get 410`, [
            `${svc}: the legacy lane ${l.version} (${key}) reached its sunset ${l.sunset?.at ?? "?"}; its retirement gate allowed it, so its rule now answers 410 Gone with the link.`,
            `Act: remove it from services[].legacy and run pulumi up (its rule, target group and Deployment go).`,
          ])
        : notice(NoticeEvent.LegacySunset, "action", after, o, `${svc} legacy lane ${l.version} reached its sunset, NOT retired`, [
            `${svc}: the legacy lane ${l.version} (${key}) reached its sunset ${l.sunset?.at ?? "?"}, but its retirement gate refused: ${d.blockers.join("; ")}.`,
            `It keeps serving; pulumi preview fails until it is retired (remedy retire ${svc}) or extended (legacy[].extension { until, reason }).`,
          ]);
    }
    default:
      return undefined;
  }
}

/**
 * A hotfix mode that expired while prod still runs it: `pulumi up` now refuses prod's config
 * until the hotfix block is removed (shipped as a normal release) or renewed. Told once per
 * expiry, by the first `up` that sees it.
 */
export function hotfixExpiredNotice(s: ReleaseState, expires: string, o: NoticeOptions): Notice {
  const running = s.candidate && s.weights[s.candidate.slot] > 0 ? s.candidate : s.stable;
  return notice(NoticeEvent.HotfixExpired, "action", s, o, `${s.service} hotfix mode expired (${running.version})`, [
    `${s.service}: the hotfix mode of ${version(running)} expired at ${expires}; pulumi up refuses prod's config until it is dealt with.`,
    `Act: remove services[].hotfix to ship it as a normal release (alarms and progressive steps as usual), or set a new hotfix.expires (at most 14 days ahead).`,
  ]);
}

/** The days before a legacy lane's sunset at which people are told (issue 37, 7). */
export const SUNSET_NOTICE_DAYS = [30, 7, 1] as const;

/** The notice owed for a lane at `nowMs`: the nearest of 30, 7 and 1 days its sunset is within, or undefined. */
export function sunsetNoticeDue(sunsetAt: string, nowMs: number): (typeof SUNSET_NOTICE_DAYS)[number] | undefined {
  const daysLeft = (Date.parse(sunsetAt) - nowMs) / 86_400_000;
  if (daysLeft <= 0) return undefined;
  return [...SUNSET_NOTICE_DAYS].reverse().find((d) => daysLeft <= d);
}

/** A legacy lane's sunset is near: who owns it, when, where callers read, and what to do. */
export function legacySunsetNotice(s: ReleaseState, lane: { readonly version: string; readonly sunsetAt: string; readonly link: string; readonly owner: string }, within: number, o: NoticeOptions, topCallers?: string): Notice {
  return notice(NoticeEvent.LegacySunset, "action", s, o, `${s.service} legacy lane ${lane.version} sunsets within ${within} day${within === 1 ? "" : "s"} (${lane.sunsetAt})`, [
    `${s.service}: the legacy lane ${lane.version} (owner ${lane.owner}) stops on ${lane.sunsetAt}; callers were told at ${lane.link}.`,
    ...(topCallers !== undefined ? [`Top callers, last 14 days: ${topCallers}.`] : []),
    `Act: remedy versions ${s.service} --outputs <pulumi stack output --json> shows who still calls it; remedy retire ${s.service} once it is quiet, or record an extension { until, reason } on the lane.`,
  ]);
}
