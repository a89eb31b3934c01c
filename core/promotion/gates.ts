/**
 * Whether a bundle may be promoted into a target environment now (issue 38, 4 to 7): every gate
 * decides with its inputs, allow, deny (with what to do) or wait (until when, where that is
 * known), and the promotion is the strictest of them. Pure: `remedy promote-env` and the program
 * read the sources' histories, the target's approvals and blocks and re-check the target, then
 * ask this.
 *
 * The soak is honest: it starts when the bundle's release completed in a source, restarts at any
 * alarm of its version there (the time before it no longer counts), ends at a rollback or when
 * the source moved on, and a failed re-check revokes the bundle until a later one passes (the
 * soak restarts from it). The longest soak of that exact bundle still running, or ended only by
 * the source moving on, counts.
 */
import type { ReleaseBundle } from "./bundle";
import { type PromotionPolicy, WEEKDAYS } from "./policy";

/** A release of the bundle in a source environment, from its history. */
export interface SourceRelease {
  readonly releaseId: string;
  readonly startedAt: string;
  /** When it completed (promoted by the release driver, or by hand), and by whom. */
  readonly completedAt?: string;
  readonly completedBy?: string;
  /** When the source moved on from it (another release promoted over it), if it did. */
  readonly endedAt?: string;
}

/** Something that happened to the bundle's version in a source. */
export interface Incident {
  readonly at: string;
  readonly kind: "alarm" | "rollback" | "recheck-failed" | "recheck-passed";
  readonly what: string;
}

/** What one source environment says of the bundle, as read at `readAt`. */
export interface SourceEvidence {
  readonly source: string;
  readonly readAt: string;
  /** The bundle as the source recorded it; absent when the source never ran it. */
  readonly bundle?: ReleaseBundle;
  readonly releases: readonly SourceRelease[];
  readonly incidents: readonly Incident[];
  /** The candidate against the stable over the soak: 5xx rate difference (points) and p99 ratio. */
  readonly metrics?: { readonly errorRatePoints: number; readonly p99Ratio: number; readonly from: string; readonly to: string };
  readonly drill?: { readonly at: string; readonly passed: boolean };
  /** What could not be read (an API refused, a throttle): evidence missing is no evidence. */
  readonly unreadable?: readonly string[];
}

/** An approval of a bundle, recorded with the identity AWS verified. */
export interface Approval {
  readonly bundle: string;
  readonly by: string;
  readonly at: string;
}

/** `remedy block <bundle>`: stops its promotion everywhere until unblocked. */
export interface Block {
  readonly bundle: string;
  readonly by: string;
  readonly at: string;
  readonly reason: string;
  readonly unblockedAt?: string;
}

/** The target's re-checks at promotion (database gate against its expand state; check-api against its live schema and operations). */
export interface TargetRechecks {
  readonly database: { readonly passed: boolean; readonly detail: string };
  readonly api: { readonly passed: boolean; readonly detail: string };
}

export interface PromotionRequest {
  readonly target: string;
  readonly bundle: ReleaseBundle;
  readonly policy: PromotionPolicy;
  readonly evidence: readonly SourceEvidence[];
  readonly approvals: readonly Approval[];
  readonly blocks: readonly Block[];
  /** Absent: not re-checked (refused). */
  readonly rechecks?: TargetRechecks;
  /** A promotion waits for windows; a rollback or the hotfix path never does. */
  readonly kind: "promotion" | "rollback" | "hotfix";
  readonly nowMs: number;
}

export type Verdict = "allow" | "deny" | "wait";

export interface GateDecision {
  readonly gate: "blocked" | "verified" | "soak" | "evidence" | "rechecks" | "approvals" | "windows";
  readonly decision: Verdict;
  /** For `wait`: when it may allow, where that is known. */
  readonly until?: string;
  readonly message: string;
  readonly inputs: Readonly<Record<string, unknown>>;
}

export interface PromotionDecision {
  readonly decision: Verdict;
  readonly until?: string;
  readonly gates: readonly GateDecision[];
}

const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const minutes = (ms: number) => Math.floor(ms / MIN);

/** What ends a soak without discrediting it: a newer release promoted over the bundle. */
const MOVED_ON = "the source moved on";

/** A stretch of time the bundle ran in a source without an alarm, rollback or failed re-check. */
export interface SoakSegment {
  readonly source: string;
  readonly start: string;
  readonly end: string;
  readonly ongoing: boolean;
  /** What ended it (an alarm, a rollback, a failed re-check, the source moving on), if it ended. */
  readonly endedBy?: string;
}

/**
 * The bundle's soak in one source: from each completed release, cut at every alarm (which
 * restarts it), ended by a rollback or the source moving on, stopped by a failed re-check until a
 * passing one.
 */
export function soakSegments(ev: SourceEvidence, nowMs: number): SoakSegment[] {
  const out: SoakSegment[] = [];
  const incidents = [...ev.incidents].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  for (const r of ev.releases) {
    if (!r.completedAt) continue;
    const releaseEnd = r.endedAt ? Date.parse(r.endedAt) : nowMs;
    let start: number | undefined = Date.parse(r.completedAt);
    for (const inc of incidents) {
      const t = Date.parse(inc.at);
      // A rollback is what ends the release, at its own time: inclusive; a pass recorded just now starts a soak now.
      if (t < Date.parse(r.completedAt) || t > releaseEnd || (t === releaseEnd && inc.kind !== "rollback" && inc.kind !== "recheck-passed")) continue;
      if (inc.kind === "recheck-passed") {
        start ??= t;
        continue;
      }
      if (start !== undefined) out.push({ source: ev.source, start: iso(start), end: iso(t), ongoing: false, endedBy: `${inc.kind}: ${inc.what}` });
      // An alarm restarts the soak; a rollback ends the release; a failed re-check stops it until one passes.
      start = inc.kind === "alarm" ? t : undefined;
      if (inc.kind === "rollback") break;
    }
    if (start !== undefined) {
      out.push({ source: ev.source, start: iso(start), end: iso(releaseEnd), ongoing: !r.endedAt, ...(r.endedAt ? { endedBy: MOVED_ON } : {}) });
    }
  }
  return out;
}

/** The bundle's latest re-check recorded in a source (failed or passed), if any. */
export function latestRecheck(ev: Pick<SourceEvidence, "incidents">): Incident | undefined {
  return ev.incidents.filter((i) => i.kind === "recheck-failed" || i.kind === "recheck-passed").sort((a, b) => Date.parse(a.at) - Date.parse(b.at)).pop();
}

/** Whether the bundle's latest re-check in a source failed with no passing one since: availability revoked. */
function revoked(ev: SourceEvidence): Incident | undefined {
  const last = latestRecheck(ev);
  return last?.kind === "recheck-failed" ? last : undefined;
}

const ours = (req: PromotionRequest) => req.evidence.filter((e) => e.bundle?.id === req.bundle.id);

function blockedGate(req: PromotionRequest): GateDecision {
  const active = req.blocks.filter((b) => b.bundle === req.bundle.id && !b.unblockedAt);
  if (active.length === 0) return { gate: "blocked", decision: "allow", message: "not blocked", inputs: { blocks: req.blocks.filter((b) => b.bundle === req.bundle.id) } };
  const b = active[0];
  return { gate: "blocked", decision: "deny", message: `blocked by ${b.by} at ${b.at}: ${b.reason}; remedy unblock ${req.bundle.id} --reason <text> once it is safe`, inputs: { blocks: active } };
}

function verifiedGate(req: PromotionRequest): GateDecision {
  const verified = ours(req).filter((e) => e.releases.some((r) => r.completedAt) && !revoked(e)).map((e) => e.source);
  const inputs = { verifiedBy: req.policy.verifiedBy, verified, sources: req.evidence.map((e) => ({ source: e.source, ranBundle: e.bundle?.id === req.bundle.id, revokedBy: revoked(e)?.what })) };
  if (verified.length >= req.policy.verifiedBy) return { gate: "verified", decision: "allow", message: `completed in ${verified.join(", ")} (${req.policy.verifiedBy} needed)`, inputs };
  const inProgress = ours(req).filter((e) => e.releases.some((r) => !r.completedAt && !r.endedAt)).map((e) => e.source);
  const revokedIn = ours(req).flatMap((e) => (revoked(e) ? [`${e.source} (${revoked(e)?.what})`] : []));
  // A release of it that never completed because it was rolled back: say so, with why.
  const rolledBackIn = ours(req).flatMap((e) => (e.releases.some((r) => r.completedAt) ? [] : e.incidents.filter((i) => i.kind === "rollback").map((i) => `${e.source} at ${i.at} (${i.what})`)));
  const why = `${req.bundle.id} completed in ${verified.length} of the ${req.policy.verifiedBy} source(s) needed${rolledBackIn.length ? `; rolled back in ${rolledBackIn.join(", ")}` : ""}${revokedIn.length ? `; revoked by a failed re-check in ${revokedIn.join(", ")}` : ""}`;
  if (inProgress.length > 0) return { gate: "verified", decision: "wait", message: `${why}; its release is in progress in ${inProgress.join(", ")}`, inputs };
  return { gate: "verified", decision: "deny", message: `${why}; release it in ${req.policy.sources.map((s) => s.stack).join(" or ")} first`, inputs };
}

const longestOf = (segments: readonly SoakSegment[]) => segments.reduce<SoakSegment | undefined>((best, s) => (!best || Date.parse(s.end) - Date.parse(s.start) > Date.parse(best.end) - Date.parse(best.start) ? s : best), undefined);
const lengthOf = (s: SoakSegment | undefined) => (s ? Date.parse(s.end) - Date.parse(s.start) : 0);

function soakGate(req: PromotionRequest): GateDecision {
  const need = req.policy.soakMinutes * MIN;
  const segments = ours(req).filter((e) => !revoked(e)).flatMap((e) => soakSegments(e, req.nowMs));
  // A soak an alarm, rollback or failed re-check ended is reset: only one still running, or one
  // ended by the source moving on, counts.
  const longest = longestOf(segments.filter((s) => s.ongoing || s.endedBy === MOVED_ON));
  const length = lengthOf(longest);
  const inputs = { soakMinutes: req.policy.soakMinutes, longest, segments };
  if (longest && length >= need) return { gate: "soak", decision: "allow", message: `soaked ${minutes(length)} min in ${longest.source} (${longest.start} to ${longest.end}${longest.ongoing ? ", still running" : ""}); ${req.policy.soakMinutes} needed`, inputs };
  const ongoing = segments.filter((s) => s.ongoing).sort((a, b) => Date.parse(a.start) - Date.parse(b.start))[0];
  if (ongoing) {
    const until = iso(Date.parse(ongoing.start) + need);
    return { gate: "soak", decision: "wait", until, message: `soaking in ${ongoing.source} since ${ongoing.start}: ${minutes(req.nowMs - Date.parse(ongoing.start))} of ${req.policy.soakMinutes} min; promotable at ${until} if nothing fires`, inputs };
  }
  const last = longestOf(segments);
  return { gate: "soak", decision: "deny", message: `no soak of ${req.bundle.id} is running${last ? `; the longest was ${minutes(lengthOf(last))} min in ${last.source}, ended by ${last.endedBy ?? "?"}` : ""}; ${req.policy.soakMinutes} min needed: release it again where it can soak`, inputs };
}

function evidenceGate(req: PromotionRequest): GateDecision {
  const e = req.policy.evidence;
  const problems: string[] = [];
  const sources = ours(req);
  for (const ev of sources) {
    for (const u of ev.unreadable ?? []) problems.push(`${ev.source}: ${u}`);
    const age = req.nowMs - Date.parse(ev.readAt);
    if (age > e.maxAgeMinutes * MIN) problems.push(`${ev.source}'s evidence was read ${minutes(age)} min ago (at most ${e.maxAgeMinutes}): read it again (remedy promote-env renews it)`);
  }
  const measured = sources.filter((ev) => ev.metrics);
  if (measured.length === 0) problems.push("no error-rate and p99 evidence over the soak from any source");
  for (const ev of measured) {
    const m = ev.metrics as NonNullable<SourceEvidence["metrics"]>;
    if (m.errorRatePoints > e.maxErrorRatePoints) problems.push(`${ev.source}: the candidate's 5xx rate was ${m.errorRatePoints.toFixed(2)} points above the stable's (${m.from} to ${m.to}); at most ${e.maxErrorRatePoints}`);
    if (m.p99Ratio > e.maxP99Ratio) problems.push(`${ev.source}: the candidate's p99 was ${m.p99Ratio.toFixed(2)}x the stable's (${m.from} to ${m.to}); at most ${e.maxP99Ratio}x`);
  }
  if (e.drill && !sources.some((ev) => ev.drill?.passed)) problems.push(`no passed drill of ${req.bundle.id} in any source (remedy drill there)`);
  const inputs = { policy: e, sources: sources.map((ev) => ({ source: ev.source, readAt: ev.readAt, metrics: ev.metrics, drill: ev.drill })) };
  if (problems.length > 0) return { gate: "evidence", decision: "deny", message: problems.join("; "), inputs };
  return { gate: "evidence", decision: "allow", message: measured.map((ev) => `${ev.source}: 5xx ${ev.metrics?.errorRatePoints.toFixed(2)} points over stable, p99 ${ev.metrics?.p99Ratio.toFixed(2)}x`).join("; "), inputs };
}

function rechecksGate(req: PromotionRequest): GateDecision {
  const r = req.rechecks;
  if (!r) return { gate: "rechecks", decision: "deny", message: `not re-checked on ${req.target}: the database gate against its expand state and check-api against its live schema must pass first`, inputs: {} };
  const failed = (["database", "api"] as const).filter((k) => !r[k].passed).map((k) => `${k}: ${r[k].detail}`);
  const inputs = { database: r.database, api: r.api };
  if (failed.length > 0) return { gate: "rechecks", decision: "deny", message: `on ${req.target}, ${failed.join("; ")}`, inputs };
  return { gate: "rechecks", decision: "allow", message: `on ${req.target}: database ${r.database.detail}; api ${r.api.detail}`, inputs };
}

const IAM_ROLE = /^arn:([\w-]+):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/;

/**
 * Whether `by` (an ARN STS verified: GetCallerIdentity's `Arn`) is one of `patterns`: a session
 * pattern ending in `/*`; an IAM role's ARN, which any session of that role is (STS names a
 * session `arn:<partition>:sts::<account>:assumed-role/<role name>/<session>`, without the role's
 * path); or an exact ARN (an IAM user's).
 */
export function approverMatches(by: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => {
    if (p.endsWith("/*")) return by.startsWith(p.slice(0, -1));
    const role = IAM_ROLE.exec(p);
    if (role) return by.startsWith(`arn:${role[1]}:sts::${role[2]}:assumed-role/${role[3]}/`) && !by.slice(`arn:${role[1]}:sts::${role[2]}:assumed-role/${role[3]}/`.length).includes("/");
    return by === p;
  });
}

function approvalsGate(req: PromotionRequest): GateDecision {
  const a = req.policy.approvals;
  if (!a) return { gate: "approvals", decision: "allow", message: "none required", inputs: {} };
  const rejected: { by: string; why: string }[] = [];
  const valid = new Map<string, Approval>();
  for (const ap of req.approvals) {
    const why =
      ap.bundle !== req.bundle.id
        ? `for another bundle (${ap.bundle})`
        : req.nowMs - Date.parse(ap.at) > a.expiresHours * 60 * MIN
          ? `expired (${ap.at}, valid ${a.expiresHours} h)`
          : ap.by === req.bundle.releaser
            ? "the releaser may not approve their own release"
            : !approverMatches(ap.by, a.approvers)
              ? "not one of the approvers"
              : undefined;
    if (why) rejected.push({ by: ap.by, why });
    else if (!valid.has(ap.by)) valid.set(ap.by, ap);
  }
  const inputs = { count: a.count, approvers: a.approvers, valid: [...valid.values()], rejected };
  if (valid.size >= a.count) return { gate: "approvals", decision: "allow", message: `approved by ${[...valid.keys()].join(", ")}`, inputs };
  const note = rejected.length ? `; not counted: ${rejected.map((r) => `${r.by} (${r.why})`).join(", ")}` : "";
  return { gate: "approvals", decision: "wait", message: `${valid.size} of ${a.count} approval(s): remedy approve ${req.bundle.id} by ${a.approvers.join(" or ")}${note}`, inputs };
}

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const weekday = (ms: number) => WEEKDAYS[(new Date(ms).getUTCDay() + 6) % 7];

function windowsGate(req: PromotionRequest): GateDecision {
  const w = req.policy.windows;
  const inputs = { allow: w.allow, deny: w.deny, kind: req.kind };
  if (req.kind !== "promotion") return { gate: "windows", decision: "allow", message: `windows never block a ${req.kind}`, inputs };
  const denied = (t: number) => w.deny.find((d) => Date.parse(d.from) <= t && t < Date.parse(d.to));
  const allowed = (t: number) => w.allow.length === 0 || w.allow.some((a) => a.days.includes(weekday(t)) && a.from <= hhmm(t) && hhmm(t) < a.to);
  if (!denied(req.nowMs) && allowed(req.nowMs)) return { gate: "windows", decision: "allow", message: w.allow.length || w.deny.length ? "inside an allowed window" : "no windows", inputs };
  // The earliest time both say yes: a deny window's end, or an allow window's start, in the next two weeks.
  const day0 = Math.floor(req.nowMs / (1440 * MIN)) * 1440 * MIN;
  const candidates = [
    ...w.deny.map((d) => Date.parse(d.to)),
    ...Array.from({ length: 15 }, (_, i) => day0 + i * 1440 * MIN).flatMap((d) => w.allow.map((a) => d + (Number(a.from.slice(0, 2)) * 60 + Number(a.from.slice(3))) * MIN)),
  ]
    .filter((t) => t > req.nowMs && !denied(t) && allowed(t))
    .sort((a, b) => a - b);
  const why = denied(req.nowMs) ? `inside a deny window (${denied(req.nowMs)?.reason}, until ${denied(req.nowMs)?.to})` : "outside the allowed windows";
  if (candidates.length === 0) return { gate: "windows", decision: "deny", message: `${why}, and no allowed time in the next two weeks; change remedy:promotion.windows`, inputs };
  return { gate: "windows", decision: "wait", until: iso(candidates[0]), message: `${why}; next allowed at ${iso(candidates[0])}`, inputs };
}

/** Every gate's decision, and the promotion's: deny if any denies, else wait if any waits, else allow. */
export function decidePromotion(req: PromotionRequest): PromotionDecision {
  const gates = [blockedGate(req), verifiedGate(req), soakGate(req), evidenceGate(req), rechecksGate(req), approvalsGate(req), windowsGate(req)];
  if (gates.some((g) => g.decision === "deny")) return { decision: "deny", gates };
  const waits = gates.filter((g) => g.decision === "wait");
  if (waits.length === 0) return { decision: "allow", gates };
  const untils = waits.map((g) => g.until);
  const known = untils.every((u): u is string => u !== undefined);
  return { decision: "wait", ...(known ? { until: untils.sort().at(-1) as string } : {}), gates };
}
