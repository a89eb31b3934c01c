/**
 * Operator overrides, server-side (issue 35, 4): `remedy rollback`, `abort`, `promote` and `drill` ask the
 * stack's rollback function through its function URL (auth type AWS_IAM) instead of running the
 * rollback code with the operator's own credentials. Lambda authenticates the SigV4-signed request
 * and authorizes it against the caller's IAM policy (`lambda:InvokeFunctionUrl`, and since October
 * 2025 `lambda:InvokeFunction` with `lambda:InvokedViaFunctionUrl`), then passes the caller's ARN as
 * it verified it in `requestContext.authorizer.iam`. That ARN is what is recorded as `by` and
 * paged; the body cannot name anyone. So operators need only permission to call the URL and to read
 * (docs/security.md, the operator policy): never ModifyRule, SetAlarmState or table writes.
 */
import { z } from "zod";
import type { SNSClient } from "@aws-sdk/client-sns";
import { overrideReason } from "../../core/releaseState";
import { type DrillDeps, restoreDrill, startDrill } from "./drill";
import { requestPromotion } from "./promotion";
import type { ReleaseStore } from "./releaseStore";
import { Outcome, type createRollbackHandler } from "./rollbackHandler";

/** What the CLI sends (JSON body of the POST). */
const serviceName = () => z.string().regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/).max(63);
export const overrideRequestSchema = z.discriminatedUnion("action", [
  z.strictObject({ action: z.enum(["rollback", "abort"]), service: serviceName(), reason: z.string().min(1).max(500), force: z.boolean().optional() }),
  z.strictObject({ action: z.literal("promote"), service: serviceName(), mode: z.enum(["step", "full"]) }),
  // `remedy drill`: force the candidate's error-rate alarm, then restore (lambdas/commons/drill.ts).
  z.strictObject({ action: z.literal("drill"), service: serviceName(), allowStable: z.boolean().optional() }),
  z.strictObject({ action: z.literal("drill-restore"), service: serviceName() }),
]);
export type OverrideRequest = z.infer<typeof overrideRequestSchema>;

/** The parts of a function URL event (payload format 2.0) this reads. */
interface FunctionUrlEvent {
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: { readonly http?: { readonly method?: string }; readonly authorizer?: { readonly iam?: { readonly userArn?: string } } };
}

/** Whether `event` is a function URL request (not an alarm's event). */
export function isFunctionUrlEvent(event: unknown): event is FunctionUrlEvent {
  const rc = (event as FunctionUrlEvent | undefined)?.requestContext;
  return typeof rc === "object" && rc !== null && typeof rc.http === "object";
}

export interface OverrideResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const respond = (statusCode: number, body: Record<string, unknown>): OverrideResponse => ({ statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** The IAM identity AWS verified for the request, as `operator:<arn>`; undefined without one. */
export function verifiedCaller(event: FunctionUrlEvent): string | undefined {
  const arn = event.requestContext?.authorizer?.iam?.userArn;
  return typeof arn === "string" && /^arn:aws[a-z-]*:(iam|sts)::\d{12}:/.test(arn) ? `operator:${arn}` : undefined;
}

export function createOverrideHandler(deps: {
  readonly rollback: ReturnType<typeof createRollbackHandler>;
  readonly store: ReleaseStore;
  readonly sns: SNSClient;
  readonly topicArn: string;
  /** What `drill` needs: the rollback function's own clients and the stack's alarm prefix. */
  readonly drill: DrillDeps;
  readonly now?: () => number;
}) {
  const now = deps.now ?? Date.now;
  return async function override(event: FunctionUrlEvent): Promise<OverrideResponse> {
    // Only what Lambda verified names the caller: a URL of auth type NONE, or a direct invoke with
    // a made-up request context, has no IAM identity here (or one this refuses to trust).
    const by = verifiedCaller(event);
    if (!by) return respond(403, { error: "no IAM identity verified for this request: the override URL must use auth type AWS_IAM and the request must be SigV4-signed" });
    if (event.requestContext?.http?.method !== "POST") return respond(405, { error: "POST a JSON override request" });
    let parsed: OverrideRequest;
    try {
      const text = event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64").toString("utf8") : (event.body ?? "");
      const r = overrideRequestSchema.safeParse(JSON.parse(text));
      if (!r.success) return respond(400, { error: `invalid override request: ${r.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}` });
      parsed = r.data;
    } catch {
      return respond(400, { error: "the body is not JSON" });
    }
    if (parsed.action === "promote") {
      const r = await requestPromotion({ store: deps.store, sns: deps.sns, topicArn: deps.topicArn }, parsed.service, parsed.mode, by, new Date(now()).toISOString());
      return respond(r.outcome === "refused" ? 409 : 200, { action: "promote", service: parsed.service, by, ...r });
    }
    if (parsed.action === "drill") {
      const r = await startDrill(deps.drill, parsed.service, by, parsed.allowStable ?? false, now());
      return respond(r.outcome === "refused" ? 409 : 200, { action: "drill", service: parsed.service, by, ...r });
    }
    if (parsed.action === "drill-restore") {
      const r = await restoreDrill(deps.drill, parsed.service, by, new Date(now()).toISOString());
      return respond(r.outcome === "refused" ? 409 : 200, { action: "drill-restore", service: parsed.service, by, ...r });
    }
    const r = await deps.rollback.manual({ service: parsed.service, reason: overrideReason(parsed.action, parsed.reason), by, force: parsed.force ?? false });
    return respond(r.outcome === Outcome.RolledBack ? 200 : 409, { action: parsed.action, service: parsed.service, by, ...r });
  };
}
