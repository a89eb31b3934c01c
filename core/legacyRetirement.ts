/**
 * Evidence of who still calls a legacy lane, and the gate that retires it (issue 37, 5 and 6).
 * Pure: the CLI reads CloudWatch and the release table, this decides, and every input of the
 * decision is kept with it.
 *
 * The database is held the other way round: while the lane runs, its version is a reader for the
 * expand/contract gate (database/gates.ts, role `legacy`), so no contract step drops what it
 * reads; retiring a reader never breaks the schema, it is what lets that contract run.
 *
 * A day with no RequestCount datapoint for the lane's target group counts as zero requests only
 * when the main target groups have datapoints that day: CloudWatch publishes ALB target group
 * metrics only when there are requests, so silence on both sides may be a dead ALB or a missing
 * metric, not a quiet lane (docs.aws.amazon.com/elasticloadbalancing/latest/application/
 * load-balancer-cloudwatch-metrics.html: "reported if there are requests").
 */

const DAY_MS = 86_400_000;

/** One UTC day of evidence: the lane's requests, or null when that day cannot say. */
export interface DayEvidence {
  /** YYYY-MM-DD (UTC). */
  readonly day: string;
  readonly laneRequests: number | null;
  readonly mainRequests: number;
  /** A brownout answered the lane's callers 410 that day: its quiet is the brownout's, not theirs. */
  readonly brownout?: boolean;
}

/**
 * Per-day sums (YYYY-MM-DD -> count) of the lane's and the main target groups' RequestCount over
 * `days`; `brownouts`: the days a scheduled brownout answered the lane's callers 410.
 */
export function dailyEvidence(days: readonly string[], lane: ReadonlyMap<string, number>, main: ReadonlyMap<string, number>, brownouts: ReadonlySet<string> = new Set()): DayEvidence[] {
  return days.map((day) => {
    const mainRequests = main.get(day) ?? 0;
    const seen = lane.get(day);
    return { day, laneRequests: seen !== undefined ? seen : mainRequests > 0 ? 0 : null, mainRequests, ...(brownouts.has(day) ? { brownout: true } : {}) };
  });
}

/** The UTC days (YYYY-MM-DD) any of `windows` touches. */
export function brownoutDays(windows: readonly { readonly start: string; readonly end: string }[]): Set<string> {
  const out = new Set<string>();
  for (const w of windows) {
    for (let t = Math.floor(Date.parse(w.start) / DAY_MS) * DAY_MS; t < Date.parse(w.end); t += DAY_MS) out.add(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** The last `n` UTC days before `todayMs`'s day, oldest first. */
export function lastDays(todayMs: number, n: number): string[] {
  // UTC days are whole multiples of a day since the epoch (no leap seconds in JavaScript time).
  const start = Math.floor(todayMs / DAY_MS) * DAY_MS;
  return Array.from({ length: n }, (_, i) => new Date(start - (n - i) * DAY_MS).toISOString().slice(0, 10));
}

export interface RetirementInputs {
  readonly service: string;
  readonly version: string;
  /** Days of evidence, oldest first, ending yesterday. */
  readonly evidence: readonly DayEvidence[];
  /** At most this many requests a day counts as quiet. Default 0. */
  readonly threshold: number;
  /** Consecutive quiet days needed. Default 14. */
  readonly quietDays: number;
  /** Active (not retired) client versions whose operations are served by the lane's version. */
  readonly activeClients: readonly string[];
}

export interface RetirementDecision {
  readonly allowed: boolean;
  /** What blocks it, each with what to do; empty when allowed. */
  readonly blockers: readonly string[];
  /** Consecutive quiet days up to yesterday (a quiet brownout day neither counts nor breaks it). */
  readonly quietStreak: number;
  /** Quiet brownout days inside the streak, not counted. */
  readonly brownoutDaysSkipped: number;
  /** Days since the lane last served a request, when any day of the evidence did. */
  readonly daysSinceLastRequest: number | null;
  readonly inputs: RetirementInputs;
}

export const DEFAULT_QUIET_DAYS = 14;

/** Whether the lane may be retired now, and why not. */
export function retirementDecision(inputs: RetirementInputs): RetirementDecision {
  let quietStreak = 0;
  let brownoutDaysSkipped = 0;
  let i = inputs.evidence.length - 1;
  for (; i >= 0; i--) {
    const r = inputs.evidence[i].laneRequests;
    if (r === null || r > inputs.threshold) break;
    // Callers answered 410 that day went quiet because of it, not because they moved.
    if (inputs.evidence[i].brownout) brownoutDaysSkipped++;
    else quietStreak++;
  }
  const lastBusy = [...inputs.evidence].reverse().findIndex((d) => (d.laneRequests ?? 0) > 0);
  const blockers: string[] = [];
  if (quietStreak < inputs.quietDays) {
    const breaking = inputs.evidence[i];
    const why = !breaking
      ? `only ${inputs.evidence.length} day(s) of evidence${brownoutDaysSkipped ? `, ${brownoutDaysSkipped} of them brownout days (not counted)` : ""}`
      : breaking.laneRequests === null
        ? `${breaking.day} has no datapoints for the lane or the main target groups (a dead ALB is not a quiet lane)`
        : `${breaking.day} had ${breaking.laneRequests} request(s) (more than ${inputs.threshold})`;
    blockers.push(`quiet for ${quietStreak} of the ${inputs.quietDays} consecutive days needed: ${why}; move its callers (remedy versions ${inputs.service} lists them) and wait`);
  }
  if (inputs.activeClients.length > 0) blockers.push(`active client versions still served by ${inputs.version}: ${inputs.activeClients.join(", ")}; move them, or mark them retired (retired.json) once they no longer call`);
  return { allowed: blockers.length === 0, blockers, quietStreak, brownoutDaysSkipped, daysSinceLastRequest: lastBusy < 0 ? null : lastBusy + 1, inputs };
}
