/**
 * `remedy approve <service> <bundle> [--stack prod]`, `remedy block <service> <bundle> --reason
 * <text> [--stack staging]` and `remedy unblock ...` (issue 38, 7): approvals are recorded in the
 * target's release table, bound to the bundle, with the identity AWS verified (STS
 * GetCallerIdentity); a block is recorded in the bundle's source table, where every environment
 * promoting it reads, and its unblocking is recorded beside it. The promotion gates
 * (core/promotion/gates.ts) decide what counts: who may approve, no self-approval, the expiry.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { releaseTableName } from "../../core/naming";
import { UsageError, parseCommandArgs, usage } from "../args";
import { describeAwsError } from "../awsErrors";
import { OpsError } from "./opsTypes";
import { callerArn } from "./ops";

const OPTIONS = { stack: { type: "string" }, project: { type: "string" }, reason: { type: "string" } } as const;
const BUNDLE = /^b-[0-9a-f]{16}$/;

export type PromotionCommand = "approve" | "block" | "unblock";

/** The command's exit code: 0 recorded, 1 nothing to unblock, 2 usage, credentials or AWS. */
export async function promotionCommand(command: PromotionCommand, argv: readonly string[], json: boolean, io: { out: (s: string) => void; err: (s: string) => void }, hooks: { nowMs?: number } = {}): Promise<number> {
  let service: string;
  let bundle: string;
  let values: Record<string, unknown>;
  try {
    const parsed = parseCommandArgs(command, argv, OPTIONS, 2);
    values = parsed.values as Record<string, unknown>;
    [service, bundle] = parsed.positionals as [string, string];
    if (!service || !bundle) usage(command, "name the service and the bundle (remedy history <service> shows each release's bundle)");
    if (!BUNDLE.test(bundle)) usage(command, `${JSON.stringify(bundle)} is not a bundle id (b-<16 hex>, as remedy history shows it)`);
    if (command !== "approve" && (typeof values.reason !== "string" || values.reason.trim().length < 5)) usage(command, "--reason <text> is required (at least 5 characters): it is recorded and shown where the promotion is refused");
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`remedy ${command}: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const stack = String(values.stack ?? (command === "approve" ? "prod" : "staging"));
  const table = releaseTableName(`${String(values.project ?? "remedy")}-${stack}`);
  const at = new Date(hooks.nowMs ?? Date.now()).toISOString();
  try {
    const by = await callerArn();
    const store = new ReleaseStore(new DynamoDBClient({}), table);
    const reason = String(values.reason ?? "");
    let done: string;
    if (command === "approve") {
      await store.recordApproval(service, bundle, by, at);
      done = `approved ${service} ${bundle} for ${stack} as ${by} at ${at}`;
    } else if (command === "block") {
      await store.recordBlock(service, bundle, by, at, reason);
      done = `blocked ${service} ${bundle} (recorded in ${stack}, where it is promoted from) as ${by}: ${reason}`;
    } else {
      const n = await store.recordUnblock(service, bundle, by, at, reason);
      if (n === 0) {
        io.out(json ? JSON.stringify({ command, service, bundle, stack, unblocked: 0 }) : `${service} ${bundle}: no active block in ${stack}`);
        return 1;
      }
      done = `unblocked ${service} ${bundle} in ${stack} as ${by}: ${reason}`;
    }
    io.out(json ? JSON.stringify({ command, service, bundle, stack, by, at, ...(reason ? { reason } : {}) }) : done);
    return 0;
  } catch (err) {
    io.err(`remedy ${command}: ${err instanceof OpsError ? err.message : describeAwsError(err, table, stack)}`);
    return 2;
  }
}
