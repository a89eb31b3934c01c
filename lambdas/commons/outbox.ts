/**
 * Sends a service's pending notifications from the release table's outbox (written in the same
 * transaction as the change each is about), each under a lease so two writers never both send
 * it: the release driver after each change it records, `pulumi up` after its own. A failed send
 * stays pending; the next delivery for the service (the driver's or the rollback Lambda's, which
 * sends every pending message of a service) sends it.
 */
import { randomUUID } from "node:crypto";
import type { SNSClient } from "@aws-sdk/client-sns";
import * as defaults from "../../core/defaults";
import { publishNotice } from "./notify";
import type { ReleaseStore } from "./releaseStore";

export interface Outbox {
  readonly sns: SNSClient;
  readonly topicArn: string;
}

export interface DeliveryResult {
  readonly sent: number;
  /** Messages whose send failed (left pending), with why. */
  readonly failed: readonly string[];
}

export async function deliverPending(store: ReleaseStore, outbox: Outbox, service: string, now: () => number = Date.now): Promise<DeliveryResult> {
  const failed: string[] = [];
  const rejected: string[] = [];
  let sent = 0;
  const pending = await store.pendingNotifications(service, rejected);
  // An item that is not a notice remedy writes is rejected and said, never sent (issue 35, 15).
  failed.push(...rejected.map((r) => `rejected, not sent: ${r}`));
  for (const n of pending) {
    const claimer = randomUUID();
    if (!(await store.claimNotification(service, n.sk, claimer, now(), defaults.NOTIFICATION_LEASE_MS))) continue;
    try {
      await publishNotice(outbox.sns, outbox.topicArn, n, AbortSignal.timeout(defaults.ROLLBACK_PUBLISH_MAX_MS));
    } catch (err) {
      failed.push(`${n.subject}: ${(err as Error).message}`);
      await store.settleNotification(service, n.sk, claimer, "pending", new Date(now()).toISOString()).catch(() => undefined);
      continue;
    }
    await store.settleNotification(service, n.sk, claimer, "sent", new Date(now()).toISOString());
    sent++;
  }
  return { sent, failed };
}
