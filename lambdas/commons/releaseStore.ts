/**
 * Release state in DynamoDB: one table per stack, partition key `pk` = service name.
 * - `sk = "state"`: the current `ReleaseState`, replaced only by a conditional write on `revision`.
 * - `sk = "history#<revision>"`: one append-only entry per applied transition.
 * - `sk = "notification#…"`, `"escalation#…"`, `"drill"`: the outbox, page claims, a running drill;
 *   pk `#release-driver` / sk `lease#tick`: the release driver's tick lease.
 * - `sk = "evidence#<lane version>#<YYYY-MM-DD>"`: a legacy lane's requests that day, written once
 *   by the release driver (issue 37, 5).
 * - `sk = "legacy-retirement#<lane version>#<time>"`: a `remedy retire` decision with its inputs.
 * - `sk = "bundle#<id>"`: a release bundle as its release started here, written once (issue 38);
 *   `"approval#<bundle>#<time>"`: an approval of it here; `"block#<bundle>#<time>"`: a block of it
 *   (its source's table), and its unblocking; `"promotion#<bundle>#<time>"`: a promote-env decision.
 * State and history entry are written in one transaction, so history never misses a change and
 * a lost race never half-applies.
 *
 * Why this file is long: it is every kind of item the release table holds, each with its key,
 * its conditional writes and its validation on read, in one place, so the keys cannot collide and
 * every writer goes through the same conditions.
 */
import {
  BatchGetItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
  TransactWriteItemsCommand,
  TransactionCanceledException,
  ConditionalCheckFailedException,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { ReleaseStateError, parseReleaseState, type HistoryEntry, type ReleaseState } from "../../core/releaseState";
import type { DayEvidence } from "../../core/legacyRetirement";

export const STATE_SORT_KEY = "state";

/** DynamoDB's limit of keys per BatchGetItem call. */
const BATCH_GET_MAX_KEYS = 100;
/** Retries of unprocessed keys before a batch read gives up. */
const BATCH_GET_MAX_RETRIES = 6;
export const historySortKey = (revision: number): string => `history#${String(revision).padStart(10, "0")}`;
/** Sort key of the notification owed for the change that produced `revision`. */
export const notificationSortKey = (revision: number): string => `notify#${String(revision).padStart(10, "0")}`;

/** DynamoDB's item size limit; a write above it fails on every attempt. */
export const MAX_ITEM_BYTES = 400 * 1024;

/**
 * A notification owed to humans, written in the same transaction as the change it is about, so
 * it is never lost: `pending` until SNS accepted it, `sending` while one copy of the handler
 * holds it (a lease, so a crashed copy does not block it forever), then `sent`.
 */
export interface OutboxMessage {
  readonly subject: string;
  readonly lines: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
}

export interface PendingNotification extends OutboxMessage {
  readonly service: string;
  readonly sk: string;
  readonly status: "pending" | "sending";
  readonly createdAt: string;
}

/**
 * A stored notification SNS will take: a subject, lines, and at most 10 message attributes with
 * names SNS accepts and non-empty values (SNS refuses the whole Publish otherwise).
 */
const pendingNotificationSchema = z.object({
  sk: z.string().regex(/^notify#/),
  status: z.enum(["pending", "sending"]),
  createdAt: z.string().min(1),
  subject: z.string().min(1).max(1000),
  lines: z.array(z.string().max(64_000)).min(1).max(200),
  attributes: z
    .record(z.string().regex(/^[A-Za-z0-9_\-.]{1,256}$/).refine((k) => !/^(aws\.|amazon\.)/i.test(k) && !k.startsWith(".") && !k.endsWith(".") && !k.includes(".."), "not a name SNS accepts"), z.string().min(1).max(256))
    .refine((a) => Object.keys(a).length <= 10, "at most 10 attributes (SNS)"),
});

const weight = z.number().int().min(0).max(100);

const EVIDENCE_PREFIX = "evidence#";
const RETIREMENT_PREFIX = "legacy-retirement#";
const BUNDLE_PREFIX = "bundle#";
const APPROVAL_PREFIX = "approval#";
const BLOCK_PREFIX = "block#";
const RECHECK_PREFIX = "recheck#";
const dayEvidenceSchema = z.object({
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  laneRequests: z.number().min(0).nullable(),
  mainRequests: z.number().min(0),
  brownout: z.boolean().optional(),
});
const historyEntrySchema = z.object({
  service: z.string().min(1).max(63),
  revision: z.number().int().min(0),
  at: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/),
  by: z.string().max(2048),
  action: z.string().regex(/^[a-z][a-z-]{0,39}$/),
  releaseId: z.string().max(512).nullable(),
  summary: z.string().max(20_000),
  weights: z.object({ blue: weight, green: weight }),
  bundle: z.string().regex(/^b-[0-9a-f]{16}$/).optional(),
});

/**
 * A history item as remedy writes it; one that is not (written by hand into the table) becomes an
 * entry that says so, with none of its text (issue 35, 11): what `remedy history`, its HTML page
 * and `status` print is never raw table content of the wrong shape.
 */
export function checkedHistoryEntry(service: string, raw: Record<string, unknown>): HistoryEntry {
  const r = historyEntrySchema.safeParse(raw);
  if (r.success) return r.data as HistoryEntry;
  const revision = typeof raw.revision === "number" && Number.isInteger(raw.revision) ? raw.revision : 0;
  return {
    service,
    revision,
    at: "1970-01-01T00:00:00Z",
    by: "?",
    action: "update-routing",
    releaseId: null,
    summary: `(history item not written by remedy; not shown: ${r.error.issues.map((i) => i.path.join(".") || "item").join(", ")})`,
    weights: { blue: 0, green: 0 },
  };
}

/** Upper bound of an item's stored size (attribute names + values as DynamoDB JSON). */
export function itemBytes(item: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(marshall(item, { removeUndefinedValues: true })), "utf8");
}

function withoutKeys(item: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...item };
  delete rest.pk;
  delete rest.sk;
  return rest;
}

type Page = { Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> };

/** Every item of a paged Query or Scan, unmarshalled; `page(start)` sends one request from `start`. */
async function allItems(page: (start: Record<string, unknown> | undefined) => Promise<Page>): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await page(start);
    for (const item of out.Items ?? []) items.push(unmarshall(item as Parameters<typeof unmarshall>[0]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Another writer changed the state since it was read; reload and decide again. */
export class ConflictError extends Error {
  constructor(service: string, expectedRevision: number) {
    super(`release state of ${service} changed since revision ${expectedRevision}`);
    this.name = "ConflictError";
  }
}

/** A drill's item beside the service's state. */
const DRILL_SORT_KEY = "drill";

const slotName = z.enum(["blue", "green"]);
const drillSchema = z.strictObject({
  alarm: z.string().min(1).max(255),
  slot: slotName,
  prior: z.strictObject({ blue: weight, green: weight }),
  candidate: z.strictObject({ slot: slotName, version: z.string().min(1).max(128), image: z.string().max(512).optional() }).optional(),
  by: z.string().min(1).max(512),
  startedAtMs: z.number().int().min(0),
});

/**
 * What a running `remedy drill` forced, and what its restore puts back (the candidate it may roll
 * back); `observedAtMs`: when the rollback function saw the alarm and did not flip (a stable drill).
 */
export type DrillRecord = z.infer<typeof drillSchema> & { readonly observedAtMs?: number };

/** A promotion record of a service's history (remedy history, issue 38, 8); a decision carries each gate's. */
export interface PromotionRecord {
  readonly at: string;
  readonly kind: "decision" | "approval" | "block" | "recheck";
  readonly bundle: string;
  readonly text: string;
  /** A decision's verdict (`allow`, `deny`, `wait`) and each gate's. */
  readonly decision?: string;
  readonly gates?: readonly { readonly gate: string; readonly decision: string; readonly message: string }[];
}

/** The release driver's tick lease: not a service (service names are DNS labels). */
const TICK_LEASE_KEY = { pk: "#release-driver", sk: "lease#tick" } as const;

export class ReleaseStore {
  constructor(
    private readonly ddb: DynamoDBClient,
    public readonly tableName: string,
  ) {}

  /** The current state, or `undefined` when the service has none yet. Strongly consistent. */
  async get(service: string): Promise<ReleaseState | undefined> {
    const out = await this.ddb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: marshall({ pk: service, sk: STATE_SORT_KEY }),
        ConsistentRead: true,
      }),
    );
    if (!out.Item) return undefined;
    return parseReleaseState(withoutKeys(unmarshall(out.Item)), service);
  }

  /**
   * The current states of many services, strongly consistent, in BatchGetItem calls of at most
   * 100 keys (DynamoDB's limit per call), sent together. Keys DynamoDB leaves unprocessed (its
   * throughput or 16 MB response limits) are asked again with exponential backoff, as AWS
   * recommends. A service without state is absent from the map.
   *
   * A record that fails validation goes into `invalid` (when given) and costs only its own service:
   * the others are still read. Without `invalid` it throws, as {@link get} does.
   */
  async getMany(services: readonly string[], invalid?: Map<string, ReleaseStateError>): Promise<Map<string, ReleaseState>> {
    const out = new Map<string, ReleaseState>();
    const chunks: string[][] = [];
    for (let i = 0; i < services.length; i += BATCH_GET_MAX_KEYS) chunks.push(services.slice(i, i + BATCH_GET_MAX_KEYS));
    await Promise.all(
      chunks.map(async (chunk) => {
        let keys: Record<string, unknown>[] | undefined = chunk.map((service) => marshall({ pk: service, sk: STATE_SORT_KEY }));
        for (let attempt = 0; keys && keys.length > 0; attempt++) {
          if (attempt > 0) {
            if (attempt > BATCH_GET_MAX_RETRIES) throw new Error(`DynamoDB left ${keys.length} release states unread after ${BATCH_GET_MAX_RETRIES} retries (throttled)`);
            await new Promise((r) => setTimeout(r, Math.min(1_000, 25 * 2 ** attempt) * (0.5 + Math.random() / 2)));
          }
          const res = await this.ddb.send(
            new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: keys as never, ConsistentRead: true } } }),
          );
          for (const item of res.Responses?.[this.tableName] ?? []) {
            const raw = unmarshall(item);
            try {
              out.set(String(raw.pk), parseReleaseState(withoutKeys(raw), String(raw.pk)));
            } catch (err) {
              if (!invalid || !(err instanceof ReleaseStateError)) throw err;
              invalid.set(String(raw.pk), err);
            }
          }
          keys = res.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined;
        }
      }),
    );
    return out;
  }

  /** Writes a first state; fails with `ConflictError` if the service already has one. */
  async create(state: ReleaseState): Promise<void> {
    try {
      await this.ddb.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall({ pk: state.service, sk: STATE_SORT_KEY, ...state }, { removeUndefinedValues: true }),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw new ConflictError(state.service, -1);
      throw err;
    }
  }

  /**
   * Replaces the state written at `expectedRevision` with `next`, and appends `entry`, atomically.
   * @throws ConflictError when the stored revision is not `expectedRevision`.
   */
  async commit(expectedRevision: number, next: ReleaseState, entry: HistoryEntry, notification?: OutboxMessage): Promise<void> {
    const outbox = notification
      ? [
          {
            Put: {
              TableName: this.tableName,
              Item: marshall(
                { pk: next.service, sk: notificationSortKey(next.revision), status: "pending", createdAt: next.updatedAt, ...notification },
                { removeUndefinedValues: true },
              ),
              ConditionExpression: "attribute_not_exists(sk)",
            },
          },
        ]
      : [];
    try {
      await this.ddb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            ...outbox,
            {
              Put: {
                TableName: this.tableName,
                Item: marshall({ pk: next.service, sk: STATE_SORT_KEY, ...next }, { removeUndefinedValues: true }),
                ConditionExpression: "#rev = :expected",
                ExpressionAttributeNames: { "#rev": "revision" },
                ExpressionAttributeValues: marshall({ ":expected": expectedRevision }),
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: marshall({ pk: entry.service, sk: historySortKey(entry.revision), ...entry }, { removeUndefinedValues: true }),
                ConditionExpression: "attribute_not_exists(sk)",
              },
            },
          ],
        }),
      );
    } catch (err) {
      const conditional =
        err instanceof TransactionCanceledException &&
        // TransactionConflict: another transaction on the same item was in flight; same remedy.
        (err.CancellationReasons ?? []).some((r) => r.Code === "ConditionalCheckFailed" || r.Code === "TransactionConflict");
      if (conditional) throw new ConflictError(next.service, expectedRevision);
      throw err;
    }
  }

  /** Notifications of `service` not yet accepted by SNS, oldest first. */
  /**
   * Notifications of `service` not yet accepted by SNS, oldest first; each item validated as a
   * notice SNS can publish (issue 35, 15). One that is not (written by hand, or poisoned to block
   * every later page) is marked `rejected` and reported in `rejected`, never sent, and costs only
   * itself.
   */
  async pendingNotifications(service: string, rejected: string[] = []): Promise<PendingNotification[]> {
    const items = await allItems((start) =>
      this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :n)",
          FilterExpression: "#st <> :sent AND #st <> :rejected",
          ExpressionAttributeNames: { "#st": "status" },
          ExpressionAttributeValues: marshall({ ":pk": service, ":n": "notify#", ":sent": "sent", ":rejected": "rejected" }),
          ExclusiveStartKey: start as QueryCommandInput["ExclusiveStartKey"],
          ConsistentRead: true,
        }),
      ),
    );
    const out: PendingNotification[] = [];
    for (const raw of items) {
      const r = pendingNotificationSchema.safeParse(raw);
      if (r.success) {
        out.push({ ...r.data, service });
        continue;
      }
      const why = r.error.issues.map((i) => `${i.path.join(".") || "item"}: ${i.message}`).join("; ");
      rejected.push(`${String(raw.sk)}: ${why}`);
      await this.ddb
        .send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: marshall({ pk: service, sk: String(raw.sk) }),
            UpdateExpression: "SET #st = :rejected, rejectedBecause = :why",
            ConditionExpression: "attribute_exists(sk)",
            ExpressionAttributeNames: { "#st": "status" },
            ExpressionAttributeValues: marshall({ ":rejected": "rejected", ":why": why.slice(0, 1000) }),
          }),
        )
        .catch(() => undefined);
    }
    return out;
  }

  /**
   * Takes the lease on a notification: only one copy of the handler sends it at a time. A lease
   * older than `leaseMs` (its holder crashed or timed out) can be taken over.
   * @returns false when another copy holds it or it was already sent.
   */
  async claimNotification(service: string, sk: string, claimer: string, nowMs: number, leaseMs: number): Promise<boolean> {
    try {
      await this.ddb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: service, sk }),
          UpdateExpression: "SET #st = :sending, claimedBy = :me, claimedAt = :now",
          ConditionExpression: "attribute_exists(sk) AND (#st = :pending OR (#st = :sending AND claimedAt < :expired))",
          ExpressionAttributeNames: { "#st": "status" },
          ExpressionAttributeValues: marshall({ ":sending": "sending", ":pending": "pending", ":me": claimer, ":now": nowMs, ":expired": nowMs - leaseMs }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /**
   * Claims the right to page about `key` (an escalation: service, alarm and why) unless someone
   * paged about it within `windowMs`: one conditional write, so concurrent or repeated events
   * send one page per window, not one per event.
   */
  async claimEscalation(service: string, key: string, nowMs: number, windowMs: number): Promise<boolean> {
    return this.escalationUpdate(service, key, "SET pagedAt = :now", "attribute_not_exists(pagedAt) OR pagedAt < :cutoff", { ":now": nowMs, ":cutoff": nowMs - windowMs });
  }

  /** One conditional UpdateItem on an escalation's item; false when its condition failed. */
  private escalationUpdate(service: string, key: string, update: string, condition: string, values: Record<string, number>): Promise<boolean> {
    return this.conditionalUpdate({ pk: service, sk: `escalation#${key}` }, update, condition, values);
  }

  /** One conditional UpdateItem; false when its condition failed (someone else holds, or held, the item). */
  private async conditionalUpdate(key: Readonly<Record<string, string>>, update: string, condition: string, values: Record<string, unknown>): Promise<boolean> {
    try {
      await this.ddb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall(key),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: marshall(values),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /**
   * Gives back an escalation's claim made at `nowMs` whose page could not be sent, so the next
   * event pages (only that claim: a later one by another copy is left alone).
   */
  async releaseEscalation(service: string, key: string, nowMs: number): Promise<void> {
    // UpdateItem (which the rollback role has), not DeleteItem: the claim is its pagedAt.
    await this.escalationUpdate(service, key, "REMOVE pagedAt", "pagedAt = :mine", { ":mine": nowMs });
  }

  /**
   * Takes the release driver's tick lease for `holder` until `untilMs`, unless another holder's
   * lease runs past `nowMs` (issue 35, 19): one conditional UpdateItem, so however many
   * invocations run at once (the schedule's, a flood of direct invokes) one ticks and the rest end
   * at once. Its item's key is not a service name (those are DNS labels).
   */
  claimTickLease(holder: string, nowMs: number, untilMs: number): Promise<boolean> {
    return this.conditionalUpdate(TICK_LEASE_KEY, "SET holder = :me, expiresAt = :until", "attribute_not_exists(expiresAt) OR expiresAt < :now OR holder = :me", { ":me": holder, ":until": untilMs, ":now": nowMs });
  }

  /** Gives the tick lease back when `holder` still has it (a later holder's is left alone). */
  async releaseTickLease(holder: string): Promise<void> {
    await this.conditionalUpdate(TICK_LEASE_KEY, "REMOVE holder, expiresAt", "holder = :me", { ":me": holder });
  }

  /**
   * Records a drill of `service` (what `remedy drill` forced and what to restore), unless one
   * started within `windowMs`: one drill at a time per service. False when one is running.
   */
  startDrill(service: string, drill: DrillRecord, windowMs: number): Promise<boolean> {
    return this.conditionalUpdate({ pk: service, sk: DRILL_SORT_KEY }, "SET drill = :d, startedAtMs = :now, alarmName = :alarm REMOVE observedAtMs", "attribute_not_exists(startedAtMs) OR startedAtMs < :cutoff", {
      ":d": JSON.stringify(drill),
      ":alarm": drill.alarm,
      ":now": drill.startedAtMs,
      ":cutoff": drill.startedAtMs - windowMs,
    });
  }

  /** The running drill of `service`, if any. */
  async drill(service: string): Promise<DrillRecord | undefined> {
    const out = await this.ddb.send(new GetItemCommand({ TableName: this.tableName, Key: marshall({ pk: service, sk: DRILL_SORT_KEY }), ConsistentRead: true }));
    const item = out.Item ? (unmarshall(out.Item) as { drill?: unknown; observedAtMs?: unknown }) : undefined;
    const raw = item?.drill;
    if (raw === undefined) return undefined;
    // Data like any item: one remedy did not write is refused, never acted on.
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(raw));
    } catch {
      parsed = undefined;
    }
    const r = drillSchema.safeParse(parsed);
    if (!r.success) throw new Error(`the drill item of ${service} in ${this.tableName} is not one remedy writes; remove it (sk "${DRILL_SORT_KEY}") and start the drill again`);
    return typeof item?.observedAtMs === "number" ? { ...r.data, observedAtMs: item.observedAtMs } : r.data;
  }

  /**
   * Records a legacy lane's day of evidence once (issue 37, 5): false when that day was already
   * recorded (by another tick). What the retirement gate reads even after the lane's target group
   * was replaced or CloudWatch no longer keeps the day.
   */
  async recordLaneEvidence(service: string, version: string, e: DayEvidence, recordedAt: string): Promise<boolean> {
    try {
      await this.ddb.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: marshall({ pk: service, sk: `${EVIDENCE_PREFIX}${version}#${e.day}`, ...e, recordedAt }, { removeUndefinedValues: true }),
          ConditionExpression: "attribute_not_exists(sk)",
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** Whether the lane's evidence of `day` is recorded. */
  async hasLaneEvidence(service: string, version: string, day: string): Promise<boolean> {
    const out = await this.ddb.send(new GetItemCommand({ TableName: this.tableName, Key: marshall({ pk: service, sk: `${EVIDENCE_PREFIX}${version}#${day}` }), ProjectionExpression: "sk" }));
    return out.Item !== undefined;
  }

  /** The lane's recorded days, oldest first; an item of another shape is left out. */
  async laneEvidence(service: string, version: string): Promise<DayEvidence[]> {
    return (await this.queryPrefix(service, `${EVIDENCE_PREFIX}${version}#`)).flatMap((raw) => {
      const r = dayEvidenceSchema.safeParse(raw);
      return r.success ? [r.data] : [];
    });
  }

  /**
   * Records a release bundle once (issue 38, 2): a bundle is its content, so a second record of
   * the same id changes nothing; false when it was already recorded.
   */
  async recordBundle(service: string, bundle: { readonly id: string } & Record<string, unknown>): Promise<boolean> {
    try {
      await this.ddb.send(new PutItemCommand({ TableName: this.tableName, Item: marshall({ pk: service, sk: `${BUNDLE_PREFIX}${bundle.id}`, bundle: JSON.stringify(bundle) }), ConditionExpression: "attribute_not_exists(sk)" }));
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  /** A recorded bundle's JSON, as written. */
  async bundle(service: string, id: string): Promise<unknown> {
    const out = await this.ddb.send(new GetItemCommand({ TableName: this.tableName, Key: marshall({ pk: service, sk: `${BUNDLE_PREFIX}${id}` }), ConsistentRead: true }));
    const raw = out.Item ? unmarshall(out.Item).bundle : undefined;
    return typeof raw === "string" ? (JSON.parse(raw) as unknown) : undefined;
  }

  /** Records a promotion decision about `bundle` with every gate and its inputs (remedy promote-env). */
  async recordPromotionDecision(service: string, bundle: string, at: string, decision: Record<string, unknown>): Promise<void> {
    // Two decisions in the same millisecond are two records, not one overwritten.
    await this.ddb.send(new PutItemCommand({ TableName: this.tableName, Item: marshall({ pk: service, sk: `promotion#${bundle}#${at}#${randomUUID().slice(0, 8)}`, bundle, at, decision: JSON.stringify(decision) }), ConditionExpression: "attribute_not_exists(sk)" }));
  }

  /**
   * The promotion side of a service's history (issue 38, 8), oldest first: each promote-env
   * decision recorded in this table, each approval, each block with its unblocking, and each
   * re-check a target recorded of a bundle made here.
   */
  async promotionRecords(service: string): Promise<PromotionRecord[]> {
    const decisions = (await this.queryPrefix(service, "promotion#")).flatMap((i) => {
      try {
        const d = JSON.parse(String(i.decision)) as { decision?: string; until?: string; from?: string; gates?: { gate: string; decision: string; message?: string }[] };
        const held = (d.gates ?? []).filter((g) => g.decision !== "allow").map((g) => g.gate);
        const gates = (d.gates ?? []).map((g) => ({ gate: String(g.gate), decision: String(g.decision), message: String(g.message ?? "") }));
        return [{ at: String(i.at), kind: "decision" as const, bundle: String(i.bundle), text: `promote-env from ${d.from ?? "?"}: ${String(d.decision).toUpperCase()}${d.until ? ` until ${d.until}` : ""}${held.length ? ` (held by ${held.join(", ")})` : ""}`, decision: String(d.decision), gates }];
      } catch {
        return [];
      }
    });
    const approvals = (await this.queryPrefix(service, APPROVAL_PREFIX)).map((i) => ({ at: String(i.at), kind: "approval" as const, bundle: String(i.bundle), text: `approved by ${String(i.by)}` }));
    const blocks = (await this.queryPrefix(service, BLOCK_PREFIX)).flatMap((i) => [
      { at: String(i.at), kind: "block" as const, bundle: String(i.bundle), text: `blocked by ${String(i.by)}: ${String(i.reason)}` },
      ...(typeof i.unblockedAt === "string" ? [{ at: i.unblockedAt, kind: "block" as const, bundle: String(i.bundle), text: `unblocked by ${String(i.unblockedBy)}: ${String(i.unblockReason)}` }] : []),
    ]);
    const rechecks = (await this.queryPrefix(service, RECHECK_PREFIX)).map((i) => ({ at: String(i.at), kind: "recheck" as const, bundle: String(i.bundle), text: `re-checked on ${String(i.target)}: ${i.passed === true ? "passed" : "FAILED"}: ${String(i.detail)}` }));
    return [...decisions, ...approvals, ...blocks, ...rechecks].sort((a, b) => a.at.localeCompare(b.at));
  }

  /**
   * Records a target's re-check of `bundle` in this (its source's) table (issue 38, 5): a failed
   * one revokes the bundle's availability downstream, until a later one passes.
   */
  async recordRecheck(service: string, bundle: string, at: string, r: { readonly passed: boolean; readonly target: string; readonly detail: string }): Promise<void> {
    await this.ddb.send(new PutItemCommand({ TableName: this.tableName, Item: marshall({ pk: service, sk: `${RECHECK_PREFIX}${bundle}#${at}#${randomUUID().slice(0, 8)}`, bundle, at, passed: r.passed, target: r.target, detail: r.detail }), ConditionExpression: "attribute_not_exists(sk)" }));
  }

  /** The re-checks of `bundle` recorded here, oldest first. */
  async rechecks(service: string, bundle: string): Promise<{ at: string; passed: boolean; target: string; detail: string }[]> {
    return (await this.queryPrefix(service, `${RECHECK_PREFIX}${bundle}#`)).flatMap((i) =>
      typeof i.at === "string" && typeof i.passed === "boolean" ? [{ at: i.at, passed: i.passed, target: String(i.target), detail: String(i.detail) }] : [],
    );
  }

  /** Records an approval of `bundle` by `by` (the identity AWS verified), at `at`. */
  async recordApproval(service: string, bundle: string, by: string, at: string): Promise<void> {
    await this.ddb.send(new PutItemCommand({ TableName: this.tableName, Item: marshall({ pk: service, sk: `${APPROVAL_PREFIX}${bundle}#${at}`, bundle, by, at }) }));
  }

  /** The approvals of `bundle` recorded here, oldest first. */
  async approvals(service: string, bundle: string): Promise<{ bundle: string; by: string; at: string }[]> {
    return (await this.queryPrefix(service, `${APPROVAL_PREFIX}${bundle}#`)).flatMap((i) => (typeof i.by === "string" && typeof i.at === "string" ? [{ bundle, by: i.by, at: i.at }] : []));
  }

  /** Blocks `bundle`'s promotion everywhere (recorded in its source's table) until unblocked. */
  async recordBlock(service: string, bundle: string, by: string, at: string, reason: string): Promise<void> {
    await this.ddb.send(new PutItemCommand({ TableName: this.tableName, Item: marshall({ pk: service, sk: `${BLOCK_PREFIX}${bundle}#${at}`, bundle, by, at, reason }) }));
  }

  /** Records the unblocking of every active block of `bundle`; how many there were. */
  async recordUnblock(service: string, bundle: string, by: string, at: string, reason: string): Promise<number> {
    const active = (await this.queryPrefix(service, `${BLOCK_PREFIX}${bundle}#`)).filter((i) => i.unblockedAt === undefined);
    for (const b of active) {
      await this.ddb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: service, sk: String(b.sk) }),
          UpdateExpression: "SET unblockedAt = :at, unblockedBy = :by, unblockReason = :why",
          ConditionExpression: "attribute_not_exists(unblockedAt)",
          ExpressionAttributeValues: marshall({ ":at": at, ":by": by, ":why": reason }),
        }),
      );
    }
    return active.length;
  }

  /** The blocks of `bundle` recorded here, with their unblocking, oldest first. */
  async blocks(service: string, bundle: string): Promise<{ bundle: string; by: string; at: string; reason: string; unblockedAt?: string }[]> {
    return (await this.queryPrefix(service, `${BLOCK_PREFIX}${bundle}#`)).flatMap((i) =>
      typeof i.by === "string" && typeof i.at === "string" && typeof i.reason === "string" ? [{ bundle, by: i.by, at: i.at, reason: i.reason, ...(typeof i.unblockedAt === "string" ? { unblockedAt: i.unblockedAt } : {}) }] : [],
    );
  }

  /** Every item of `service` whose sort key starts with `prefix`, unmarshalled, in key order (consistent reads). */
  private async queryPrefix(service: string, prefix: string): Promise<Record<string, unknown>[]> {
    return allItems((start) =>
      this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
          ExpressionAttributeValues: marshall({ ":pk": service, ":p": prefix }),
          ExclusiveStartKey: start as QueryCommandInput["ExclusiveStartKey"],
          ConsistentRead: true,
        }),
      ),
    );
  }

  /** Records a `remedy retire` decision about a lane, with every input it was made on (issue 37, 6). */
  async recordRetirementDecision(service: string, version: string, at: string, decision: { readonly allowed: boolean } & Record<string, unknown>): Promise<void> {
    await this.ddb.send(new PutItemCommand({ TableName: this.tableName, Item: marshall({ pk: service, sk: `${RETIREMENT_PREFIX}${version}#${at}`, allowed: decision.allowed, decision: JSON.stringify(decision) }) }));
  }

  /** The latest `remedy retire` decision about the lane: when, and whether it allowed the retirement. */
  async latestRetirementDecision(service: string, version: string): Promise<{ readonly at: string; readonly allowed: boolean } | undefined> {
    const out = await this.ddb.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :r)",
        ExpressionAttributeValues: marshall({ ":pk": service, ":r": `${RETIREMENT_PREFIX}${version}#` }),
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const item = out.Items?.[0] ? unmarshall(out.Items[0]) : undefined;
    if (!item) return undefined;
    const at = String(item.sk).slice(`${RETIREMENT_PREFIX}${version}#`.length);
    let allowed = false;
    try {
      allowed = (JSON.parse(String(item.decision)) as { allowed?: unknown }).allowed === true;
    } catch {
      allowed = false;
    }
    return { at, allowed };
  }

  /** Marks the running drill of `alarm` as seen by the rollback function; false when none runs. */
  markDrillObserved(service: string, alarm: string, nowMs: number): Promise<boolean> {
    return this.conditionalUpdate({ pk: service, sk: DRILL_SORT_KEY }, "SET observedAtMs = :now", "attribute_exists(drill) AND alarmName = :alarm", { ":now": nowMs, ":alarm": alarm });
  }

  /** Ends the drill started at `startedAtMs` (UpdateItem, which the rollback role has). */
  async endDrill(service: string, startedAtMs: number): Promise<void> {
    await this.conditionalUpdate({ pk: service, sk: DRILL_SORT_KEY }, "REMOVE drill, startedAtMs, alarmName, observedAtMs", "startedAtMs = :mine", { ":mine": startedAtMs });
  }

  /** Marks a claimed notification sent (`sent`) or gives it back (`pending`) for a retry. */
  async settleNotification(service: string, sk: string, claimer: string, outcome: "sent" | "pending", at: string): Promise<void> {
    try {
      await this.ddb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: marshall({ pk: service, sk }),
          UpdateExpression: outcome === "sent" ? "SET #st = :st, sentAt = :at" : "SET #st = :st, lastFailureAt = :at REMOVE claimedBy, claimedAt",
          ConditionExpression: "claimedBy = :me",
          ExpressionAttributeNames: { "#st": "status" },
          ExpressionAttributeValues: marshall({ ":st": outcome, ":at": at, ":me": claimer }),
        }),
      );
    } catch (err) {
      // Our lease expired and another copy took the notification over: it is theirs now.
      if (err instanceof ConditionalCheckFailedException) return;
      throw err;
    }
  }

  /** Every service's state (a scan: for operator tools, not the hot path). */
  async list(): Promise<ReleaseState[]> {
    const items = await allItems((start) =>
      this.ddb.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: "sk = :s",
          ExpressionAttributeValues: marshall({ ":s": STATE_SORT_KEY }),
          ExclusiveStartKey: start as ScanCommandInput["ExclusiveStartKey"],
          ConsistentRead: true,
        }),
      ),
    );
    return items.map((raw) => parseReleaseState(withoutKeys(raw), String(raw.pk))).sort((a, b) => a.service.localeCompare(b.service));
  }

  /** The newest `limit` history entries, oldest first (one Query read backwards). */
  async recentHistory(service: string, limit: number): Promise<HistoryEntry[]> {
    const out = await this.ddb.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :h)",
        ExpressionAttributeValues: marshall({ ":pk": service, ":h": "history#" }),
        ScanIndexForward: false,
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map((raw) => checkedHistoryEntry(service, withoutKeys(unmarshall(raw)))).reverse();
  }

  /** History entries, oldest first. */
  async history(service: string): Promise<HistoryEntry[]> {
    return (await this.queryPrefix(service, "history#")).map((raw) => checkedHistoryEntry(service, withoutKeys(raw)));
  }
}
