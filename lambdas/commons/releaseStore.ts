/**
 * Release state in DynamoDB: one table per stack, partition key `pk` = service name.
 * - `sk = "state"`: the current `ReleaseState`, replaced only by a conditional write on `revision`.
 * - `sk = "history#<revision>"`: one append-only entry per applied transition.
 * State and history entry are written in one transaction, so history never misses a change and
 * a lost race never half-applies.
 */
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteItemsCommand,
  TransactionCanceledException,
  ConditionalCheckFailedException,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { parseReleaseState, type HistoryEntry, type ReleaseState } from "../../core/releaseState";

export const STATE_SORT_KEY = "state";
export const historySortKey = (revision: number): string => `history#${String(revision).padStart(10, "0")}`;

function withoutKeys(item: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...item };
  delete rest.pk;
  delete rest.sk;
  return rest;
}

/** Another writer changed the state since it was read; reload and decide again. */
export class ConflictError extends Error {
  constructor(service: string, expectedRevision: number) {
    super(`release state of ${service} changed since revision ${expectedRevision}`);
    this.name = "ConflictError";
  }
}

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
  async commit(expectedRevision: number, next: ReleaseState, entry: HistoryEntry): Promise<void> {
    try {
      await this.ddb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
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
        (err.CancellationReasons ?? []).some((r) => r.Code === "ConditionalCheckFailed");
      if (conditional) throw new ConflictError(next.service, expectedRevision);
      throw err;
    }
  }

  /** Every service's state (a scan: for operator tools, not the hot path). */
  async list(): Promise<ReleaseState[]> {
    const states: ReleaseState[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: "sk = :s",
          ExpressionAttributeValues: marshall({ ":s": STATE_SORT_KEY }),
          ExclusiveStartKey: start ? marshall(start) : undefined,
          ConsistentRead: true,
        }),
      );
      for (const item of out.Items ?? []) {
        const raw = unmarshall(item);
        states.push(parseReleaseState(withoutKeys(raw), String(raw.pk)));
      }
      start = out.LastEvaluatedKey ? unmarshall(out.LastEvaluatedKey) : undefined;
    } while (start);
    return states.sort((a, b) => a.service.localeCompare(b.service));
  }

  /** History entries, oldest first. */
  async history(service: string): Promise<HistoryEntry[]> {
    const entries: HistoryEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :h)",
          ExpressionAttributeValues: marshall({ ":pk": service, ":h": "history#" }),
          ExclusiveStartKey: start ? marshall(start) : undefined,
          ConsistentRead: true,
        }),
      );
      for (const item of out.Items ?? []) {
        entries.push(withoutKeys(unmarshall(item)) as unknown as HistoryEntry);
      }
      start = out.LastEvaluatedKey ? unmarshall(out.LastEvaluatedKey) : undefined;
    } while (start);
    return entries;
  }
}
