/**
 * Progressive delivery as pure step logic (issue 15's foundation): a strategy (canary, linear,
 * all-at-once, with optional pauses and a bake time) normalised to steps, and the decision one
 * driver tick makes from the release's progress, the candidate's alarms and health, and the
 * clock. No I/O: the driver that will call it reads state, acts, and records each step with a
 * conditional write. Invariants (property-tested): weights never increase while any candidate
 * alarm is in ALARM or it has no healthy targets; no promotion before the bake time has elapsed
 * (unless an operator asks for `--full`); at most one step per tick; a duplicate tick changes nothing.
 */

/** One step: hold the candidate at `weight`% for `minutes`, or wait for `remedy promote`. */
export type ProgressStep =
  | { readonly kind: "weight"; readonly weight: number; readonly minutes: number }
  | { readonly kind: "pause"; readonly reason: string };

/** How a release reaches 100%. */
export type StrategySpec =
  /** Straight to 100%, then bake. */
  | { readonly kind: "allAtOnce"; readonly bakeMinutes: number }
  /** `weight`% for `minutes`, then 100%, then bake. */
  | { readonly kind: "canary"; readonly weight: number; readonly minutes: number; readonly bakeMinutes: number; readonly pauseBeforeFull?: boolean }
  /** +`stepPercent` every `minutes` until 100%, then bake. */
  | { readonly kind: "linear"; readonly stepPercent: number; readonly minutes: number; readonly bakeMinutes: number }
  /** Explicit steps (weights non-decreasing, each 1..100), then bake. */
  | { readonly kind: "steps"; readonly steps: readonly ProgressStep[]; readonly bakeMinutes: number };

export interface NormalizedStrategy {
  /** Steps in order; the last weight step is 100. */
  readonly steps: readonly ProgressStep[];
  /** Minutes at 100% (after the last step) before promotion. */
  readonly bakeMinutes: number;
}

/** A strategy that cannot be run, with what to fix. */
export class StrategyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StrategyError";
  }
}

const isWeight = (w: number) => Number.isInteger(w) && w >= 1 && w <= 100;
const isMinutes = (m: number) => Number.isInteger(m) && m >= 0 && m <= 10_080;

/**
 * Steps of a strategy, ending at 100%.
 * @throws StrategyError naming the field: weights 1..100 and non-decreasing, minutes 0..10080.
 */
export function normalizeStrategy(s: StrategySpec): NormalizedStrategy {
  if (!isMinutes(s.bakeMinutes)) throw new StrategyError(`bakeMinutes must be an integer 0..10080, got ${s.bakeMinutes}`);
  let steps: ProgressStep[];
  switch (s.kind) {
    case "allAtOnce":
      steps = [{ kind: "weight", weight: 100, minutes: 0 }];
      break;
    case "canary":
      if (!isWeight(s.weight) || s.weight === 100) throw new StrategyError(`canary weight must be an integer 1..99, got ${s.weight}`);
      if (!isMinutes(s.minutes)) throw new StrategyError(`canary minutes must be an integer 0..10080, got ${s.minutes}`);
      steps = [
        { kind: "weight", weight: s.weight, minutes: s.minutes },
        ...(s.pauseBeforeFull ? [{ kind: "pause" as const, reason: `canary at ${s.weight}% done; waiting for remedy promote` }] : []),
        { kind: "weight", weight: 100, minutes: 0 },
      ];
      break;
    case "linear": {
      if (!Number.isInteger(s.stepPercent) || s.stepPercent < 1 || s.stepPercent > 50) throw new StrategyError(`linear stepPercent must be an integer 1..50, got ${s.stepPercent}`);
      if (!isMinutes(s.minutes) || s.minutes === 0) throw new StrategyError(`linear minutes must be an integer 1..10080, got ${s.minutes}`);
      steps = [];
      for (let w = s.stepPercent; w < 100; w += s.stepPercent) steps.push({ kind: "weight", weight: w, minutes: s.minutes });
      steps.push({ kind: "weight", weight: 100, minutes: 0 });
      break;
    }
    case "steps": {
      steps = [...s.steps];
      let last = 0;
      steps.forEach((st, i) => {
        if (st.kind === "pause") return;
        if (!isWeight(st.weight)) throw new StrategyError(`steps[${i}].weight must be an integer 1..100, got ${st.weight}`);
        if (!isMinutes(st.minutes)) throw new StrategyError(`steps[${i}].minutes must be an integer 0..10080, got ${st.minutes}`);
        if (st.weight < last) throw new StrategyError(`steps[${i}].weight ${st.weight} is below the step before (${last}); weights only go up, a rollback is the way down`);
        last = st.weight;
      });
      if (last !== 100) steps.push({ kind: "weight", weight: 100, minutes: 0 });
      break;
    }
  }
  return { steps, bakeMinutes: s.bakeMinutes };
}

/**
 * A check the candidate must pass, through its test route, before the first step gives it
 * production traffic (CodeDeploy's BeforeAllowTraffic hook, Argo's pre-promotion analysis).
 */
export type PreTrafficCheck =
  /**
   * GET `url` with the test route's header: the answer's status must be in `expectStatus` [min,
   * max]. The header's value is a secret the release driver reads from the stack's secret store:
   * the record keeps only its SHA-256 (`valueSha256`), since anyone who reads the table would
   * otherwise reach the candidate (issue 35, 12). `value` is in records written before that.
   */
  | {
      readonly kind: "http";
      readonly url: string;
      readonly header: string;
      readonly valueSha256?: string;
      readonly value?: string;
      readonly expectStatus: readonly [number, number];
      readonly timeoutSeconds: number;
    }
  /** Invoke a Lambda with the release; it answers `{ "status": "Succeeded" | "Failed", "reason"?: string }`. */
  | { readonly kind: "lambda"; readonly functionArn: string; readonly timeoutSeconds: number };

/** A release's pre-traffic check and how it went. */
export interface PreTrafficState {
  readonly check: PreTrafficCheck;
  /** Failed runs after which the release is held until an operator acts. */
  readonly maxAttempts: number;
  /** Failed runs so far (reset by `remedy promote`). */
  readonly attempts: number;
  /** When it passed; the first step may then be taken. */
  readonly passedAt?: string;
  /** What the last run said. */
  readonly lastResult?: string;
}

/**
 * What a pre-traffic check means for the first step: `run` it now, it `passed`, or `hold` (it
 * failed `maxAttempts` times and waits for an operator). `undefined` state: no check configured.
 */
export function preTrafficGate(pt: PreTrafficState | undefined, service: string): { readonly gate: "passed" | "run" } | { readonly gate: "hold"; readonly reason: string } {
  if (!pt || pt.passedAt) return { gate: "passed" };
  if (pt.attempts < pt.maxAttempts) return { gate: "run" };
  return {
    gate: "hold",
    reason:
      `pre-traffic check failed ${pt.attempts} time${pt.attempts === 1 ? "" : "s"} (last: ${pt.lastResult ?? "?"}); the candidate gets no traffic. ` +
      `Release a fixed version, \`remedy promote ${service}\` to run the check again, or \`remedy promote ${service} --full\` to promote without it`,
  };
}

/** Where a release is: the step it is on (-1 = not started) and since when. */
export interface Progress {
  readonly stepIndex: number;
  /** ISO time the current step (or the bake, past the last step) started. */
  readonly stepStartedAt: string;
  /** The candidate's weight now. */
  readonly weight: number;
  /** An operator's `remedy promote`: past a pause (`step`) or straight to promotion (`full`). */
  readonly promote?: "step" | "full";
}

export interface Signals {
  /** Candidate alarms now in ALARM. */
  readonly alarmsInAlarm: readonly string[];
  /** Healthy targets in the candidate's target group. */
  readonly healthyTargets: number;
  /** ISO time of this tick. */
  readonly now: string;
}

export type Decision =
  /** Nothing changes now; `retryAt` is when the next change may happen (absent: on a signal). */
  | { readonly action: "hold"; readonly reason: string; readonly retryAt?: string }
  /** Move to step `stepIndex` at `weight`%. */
  | { readonly action: "advance"; readonly stepIndex: number; readonly weight: number; readonly reason: string }
  /** The candidate becomes stable. */
  | { readonly action: "promote"; readonly reason: string };

const minutesMs = (m: number) => m * 60_000;

/**
 * The one thing a driver tick does. Alarms and health are checked first: a release never moves
 * forward while its candidate is alarming or has no healthy targets (rolling back is the
 * rollback Lambda's job, which acts on the alarm itself).
 */
export function decideTick(strategy: NormalizedStrategy, progress: Progress, signals: Signals): Decision {
  if (signals.alarmsInAlarm.length > 0) {
    return { action: "hold", reason: `candidate alarms in ALARM: ${signals.alarmsInAlarm.join(", ")}; not advancing` };
  }
  if (signals.healthyTargets < 1) {
    return { action: "hold", reason: "the candidate has no healthy targets; not sending it traffic" };
  }
  const now = Date.parse(signals.now);
  const since = Date.parse(progress.stepStartedAt);
  const { steps } = strategy;
  if (progress.promote === "full") return { action: "promote", reason: "promoted by an operator (--full)" };

  const i = progress.stepIndex;
  if (i < 0) {
    const first = steps[0];
    if (first.kind === "pause") return progress.promote === "step" ? advanceFrom(strategy, 1) : { action: "hold", reason: first.reason };
    const d = advanceFrom(strategy, 0);
    return d.action === "advance" ? { ...d, reason: `release started; ${d.reason}` } : d;
  }
  if (i >= steps.length) {
    // Past the last step: baking at 100%.
    const bakeEnds = since + minutesMs(strategy.bakeMinutes);
    if (now >= bakeEnds) return { action: "promote", reason: `baked ${strategy.bakeMinutes} min at 100% with alarms OK` };
    return { action: "hold", reason: `baking at 100% until ${new Date(bakeEnds).toISOString()}`, retryAt: new Date(bakeEnds).toISOString() };
  }
  const step = steps[i];
  if (step.kind === "pause") {
    return progress.promote === "step" ? advanceFrom(strategy, i + 1) : { action: "hold", reason: step.reason };
  }
  const ends = since + minutesMs(step.minutes);
  if (now < ends) return { action: "hold", reason: `at ${step.weight}% until ${new Date(ends).toISOString()}`, retryAt: new Date(ends).toISOString() };
  return advanceFrom(strategy, i + 1);
}

/**
 * The move onto step `j` (or into the bake, past the last one). Weight steps of 0 minutes are
 * passed through in the same move (their weight taken), so one tick is one move and a duplicate
 * tick never moves again; pauses are entered, not skipped.
 */
function advanceFrom(strategy: NormalizedStrategy, start: number): Decision {
  let j = start;
  while (j < strategy.steps.length) {
    const st = strategy.steps[j];
    if (st.kind !== "weight" || st.minutes > 0) break;
    j++;
  }
  if (j >= strategy.steps.length) {
    return { action: "advance", stepIndex: strategy.steps.length, weight: 100, reason: strategy.bakeMinutes > 0 ? `all steps done; baking ${strategy.bakeMinutes} min at 100%` : "all steps done" };
  }
  const next = strategy.steps[j];
  const weight = lastWeight(strategy, j);
  return { action: "advance", stepIndex: j, weight, reason: next.kind === "pause" ? next.reason : `step ${j + 1}/${strategy.steps.length}: ${weight}%` };
}

/** The weight in force at step `j`: its own, or (a pause) the last weight before it. */
export function lastWeight(strategy: NormalizedStrategy, j: number): number {
  for (let k = Math.min(j, strategy.steps.length - 1); k >= 0; k--) {
    const s = strategy.steps[k];
    if (s.kind === "weight") return s.weight;
  }
  return 0;
}

/** The progress after applying `decision` at `now` (what the driver records). */
export function applyDecision(progress: Progress, decision: Decision, now: string): Progress {
  if (decision.action !== "advance") return progress;
  return { stepIndex: decision.stepIndex, stepStartedAt: now, weight: decision.weight };
}
