/**
 * Runs a release's pre-traffic check (`services[].preTraffic`) for the release driver: an HTTP
 * request through the candidate's test route, or a Lambda hook given the release. Never throws:
 * every failure (timeout, refused connection, function error, an answer of the wrong shape) is a
 * failed check with a reason a human can act on, recorded in release state.
 */
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import type { PreTrafficCheck } from "../../core/progressive";
import type { ReleaseState } from "../../core/releaseState";
import { truncate } from "./text";

export interface CheckResult {
  readonly passed: boolean;
  readonly reason: string;
}

/** What a Lambda hook receives. */
export interface PreTrafficHookEvent {
  readonly source: "remedy.release-driver";
  readonly service: string;
  readonly releaseId: string | null;
  readonly candidate: { readonly slot: string; readonly version: string; readonly image?: string };
  readonly stable: { readonly slot: string; readonly version: string };
  /** The candidate's target group: the hook may call its targets directly. */
  readonly targetGroupArn: string;
  readonly attempt: number;
}

/** Characters of a check's result kept in release state and history. */
const REASON_MAX = 300;
const cut = (s: string) => truncate(s, REASON_MAX);

/** How long a run may take: the check's own timeout, or less when the tick's deadline is nearer. */
export interface CheckBudget {
  /** Milliseconds the release driver can give the run (what is left of its tick). Default: no limit. */
  readonly budgetMs?: number;
}

/** The run's timeout and, when the tick's deadline is what limits it, how to say so. */
function limit(check: PreTrafficCheck, budget: CheckBudget): { ms: number; why: (what: string) => string } {
  const own = check.timeoutSeconds * 1000;
  const ms = Math.max(0, Math.floor(Math.min(own, budget.budgetMs ?? Infinity)));
  return ms < own
    ? { ms, why: (what) => `${what} cut short after ${ms} ms by the release driver's deadline (its timeout is ${check.timeoutSeconds} s); counted as a failed run` }
    : { ms, why: () => `no answer within ${check.timeoutSeconds} s` };
}

/** `value`: the test route's header value, from the stack's secret store (never the record). */
export async function runHttpCheck(check: Extract<PreTrafficCheck, { kind: "http" }>, value: string, budget: CheckBudget = {}): Promise<CheckResult> {
  const started = Date.now();
  const t = limit(check, budget);
  try {
    const res = await fetch(check.url, { headers: { [check.header]: value }, redirect: "manual", signal: AbortSignal.timeout(t.ms) });
    await res.body?.cancel();
    const [min, max] = check.expectStatus;
    const ms = Date.now() - started;
    return res.status >= min && res.status <= max
      ? { passed: true, reason: `GET ${check.url} (with the ${check.header} header) answered ${res.status} in ${ms} ms` }
      : { passed: false, reason: `GET ${check.url} (with the ${check.header} header) answered ${res.status}, expected ${min === max ? min : `${min}-${max}`}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === "TimeoutError" ? t.why("the request was") : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { passed: false, reason: cut(`GET ${check.url} failed: ${why}`) };
  }
}

export async function runLambdaCheck(lambda: LambdaClient, check: Extract<PreTrafficCheck, { kind: "lambda" }>, event: PreTrafficHookEvent, budget: CheckBudget = {}): Promise<CheckResult> {
  const fn = check.functionArn.split(":").slice(6, 7)[0] ?? check.functionArn;
  const t = limit(check, budget);
  try {
    const out = await lambda.send(new InvokeCommand({ FunctionName: check.functionArn, Payload: new TextEncoder().encode(JSON.stringify(event)) }), {
      abortSignal: AbortSignal.timeout(t.ms),
    });
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : "";
    if (out.FunctionError) {
      let message = text;
      try {
        message = (JSON.parse(text) as { errorMessage?: string }).errorMessage ?? text;
      } catch {
        // not JSON: keep the raw text
      }
      return { passed: false, reason: cut(`hook ${fn} failed (${out.FunctionError}): ${message}`) };
    }
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = undefined;
    }
    const a = answer as { status?: unknown; reason?: unknown } | undefined;
    const reason = typeof a?.reason === "string" ? `: ${a.reason}` : "";
    if (a?.status === "Succeeded") return { passed: true, reason: cut(`hook ${fn} succeeded${reason}`) };
    if (a?.status === "Failed") return { passed: false, reason: cut(`hook ${fn} reported Failed${reason}`) };
    return { passed: false, reason: cut(`hook ${fn} answered ${text.slice(0, 80) || "nothing"}; expected {"status": "Succeeded" | "Failed", "reason"?: "..."}`) };
  } catch (err) {
    const e = err as Error;
    const why = e.name === "TimeoutError" || e.name === "AbortError" ? t.why("the invocation was") : `${e.name}: ${e.message}`;
    return { passed: false, reason: cut(`hook ${fn} could not be invoked: ${why}`) };
  }
}

/**
 * Runs `state`'s check (it must have one) as run number `attempt`. `testRouteValue`: the test
 * route's secret for an HTTP check (a record from before issue 35, 12 carries its own).
 */
export function runPreTrafficCheck(lambda: LambdaClient, state: ReleaseState, attempt: number, budget: CheckBudget = {}, testRouteValue?: string): Promise<CheckResult> {
  const check = state.progress?.preTraffic?.check;
  const cand = state.candidate;
  if (!check || !cand) return Promise.resolve({ passed: false, reason: "internal: no pre-traffic check or candidate" });
  if (check.kind === "http") {
    const value = check.value ?? testRouteValue;
    if (value === undefined) return Promise.resolve({ passed: false, reason: `the release driver has no test-route secret for ${state.service}; run pulumi up (it writes the stack's test-route secret)` });
    return runHttpCheck(check, value, budget);
  }
  return runLambdaCheck(lambda, check, {
    source: "remedy.release-driver",
    service: state.service,
    releaseId: state.releaseId,
    candidate: { slot: cand.slot, version: cand.version, ...(cand.image ? { image: cand.image } : {}) },
    stable: { slot: state.stable.slot, version: state.stable.version },
    targetGroupArn: state.routing.targetGroupArns[cand.slot],
    attempt,
  }, budget);
}
