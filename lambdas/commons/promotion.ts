/**
 * `remedy promote`: records the request for the release driver's next tick (alarms still
 * checked) and tells the topic, retrying a lost write race. Shared by the stack's override
 * function (the operator's path) and the CLI's direct path (emulators, break-glass).
 */
import type { SNSClient } from "@aws-sdk/client-sns";
import { applyEvent } from "../../core/releaseState";
import { publishNotice } from "./notify";
import { ConflictError, type ReleaseStore } from "./releaseStore";

export type PromotionOutcome =
  | { readonly outcome: "requested"; readonly mode: "step" | "full" }
  | { readonly outcome: "already"; readonly reason: string }
  | { readonly outcome: "refused"; readonly reason: string };

const ATTEMPTS = 4;

export async function requestPromotion(
  deps: { readonly store: ReleaseStore; readonly sns: SNSClient; readonly topicArn?: string },
  service: string,
  mode: "step" | "full",
  by: string,
  at: string,
): Promise<PromotionOutcome> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const current = await deps.store.get(service);
    if (!current) return { outcome: "refused", reason: `no release state for ${service}` };
    const t = applyEvent(current, { type: "request-promote", mode, at, by });
    if (t.kind === "refused") return { outcome: "refused", reason: `${t.reason}; remedy promote applies to a progressive release (services[].strategy)` };
    if (t.kind === "unchanged") return { outcome: "already", reason: t.reason };
    try {
      await deps.store.commit(current.revision, t.state, t.entry);
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt === ATTEMPTS) throw err;
      continue;
    }
    // Every manual override is announced: a promotion skips what the strategy would wait for.
    if (deps.topicArn) {
      await publishNotice(deps.sns, deps.topicArn, {
        subject: `remedy: ${service} promotion requested${mode === "full" ? " (--full)" : ""}`,
        lines: [
          `${by} requested the promotion of ${service} ${current.candidate?.version ?? "?"} (${current.candidate?.slot ?? "?"})${mode === "full" ? " at once (--full: remaining steps, bake and any held pre-traffic check are skipped)" : " past the current pause"}.`,
          `Traffic now: blue ${current.weights.blue}% / green ${current.weights.green}%; the release driver acts on its next tick.`,
          `Run \`remedy abort ${service} --reason <text>\` to send all traffic back to ${current.stable.version}.`,
        ],
        attributes: { service, outcome: "promote-requested", event: "promote-requested", severity: "info", mode },
      });
    }
    return { outcome: "requested", mode };
  }
  throw new Error("unreachable");
}
