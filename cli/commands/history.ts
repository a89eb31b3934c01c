/**
 * `remedy history <service> [--limit 20] [--html <file>] [--stack prod] [--project remedy] [--json]`: a service's
 * release timeline from its recorded history (who, what, when, why, and the weights after each
 * change), newest last, aligned to the terminal (100 columns when not one; WHAT wraps in its column, or under the row when that would be thinner than 25).
 * Exit 0 shown, 2 usage or environment error (unknown stack or service, no credentials).
 */
import * as fs from "node:fs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { actorDisplayName } from "../../core/alarms";
import type { HistoryEntry } from "../../core/releaseState";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { printable } from "../../lambdas/commons/text";
import { UsageError, intOption, parseCommandArgs, usage } from "../args";
import { describeAwsError } from "../awsErrors";
import { releaseTableName } from "../../core/naming";

export interface HistoryIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  /** The terminal's width, when stdout is one; 100 otherwise. */
  readonly columns?: number;
}

/** The width the table fits when stdout is not a terminal. */
export const HISTORY_WIDTH = 100;
/** Below this, WHAT goes under its row rather than in a thin column beside it (issue 36, 6). */
const WHAT_MIN = 25;

/** `2026-12-01T10:03:07.123Z` -> `2026-12-01 10:03:07`. */
export const when = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "");

/** Who, shortened for the column: an operator's ARN after "as" is kept in JSON only. */
function who(by: string): string {
  const op = /^operator:([^ ]+) as arn:aws[a-z-]*:(?:sts|iam)::\d+:(?:assumed-role|role|user)\/([^/\s]+)/.exec(by);
  if (op) return `${op[1]} (${op[2]})`;
  // An alarm records its name, `<prefix>/<service>/<slot>/<kind>`: shown as everywhere else.
  return actorDisplayName(by);
}

/** Words of `text` in lines of at most `width` (a word longer than that is cut). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    for (let w = word; w.length > 0; ) {
      const room = line ? width - line.length - 1 : width;
      if (w.length <= room) {
        line = line ? `${line} ${w}` : w;
        w = "";
      } else if (line) {
        lines.push(line);
        line = "";
      } else {
        lines.push(w.slice(0, width));
        w = w.slice(width);
      }
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines;
}

/** The BY column's widest: a custom alarm's name may be longer, and is cut with "…". */
const BY_WIDTH = 32;
const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** The timeline as text: a title, a header, one row per entry (summary wrapped in its column). */
export function formatHistory(service: string, entries: readonly HistoryEntry[], total: number | undefined, width = HISTORY_WIDTH): string {
  const rows = entries.map((e) => [String(e.revision), when(e.at), printable(e.action), `${e.weights.blue}/${e.weights.green}`, cut(printable(who(e.by)), BY_WIDTH), printable(e.summary)]);
  const header = ["REV", "WHEN (UTC)", "ACTION", "BLUE/GREEN", "BY", "WHAT"];
  const widths = header.slice(0, 5).map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const indent = widths.reduce((n, w) => n + w + 2, 0);
  const whatWidth = width - indent;
  const pad = (r: string[]) => r.slice(0, 5).map((cell, c) => (c === 0 || c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join("  ");
  const lines = [`${service}: ${entries.length} change${entries.length === 1 ? "" : "s"}${total !== undefined && total > entries.length ? ` (the newest of ${total}; --limit for more)` : ""}, oldest first`, `${pad(header)}  WHAT`];
  for (const r of rows) {
    if (whatWidth >= WHAT_MIN) {
      const [first, ...more] = wrap(r[5], whatWidth);
      lines.push(`${pad(r)}  ${first}`.trimEnd());
      for (const m of more) lines.push(`${" ".repeat(indent)}${m}`);
    } else {
      // Too narrow beside the columns (a thin column of a few words a line): under the row instead.
      lines.push(pad(r).trimEnd());
      for (const m of wrap(r[5], width - 4)) lines.push(`    ${m}`);
    }
  }
  return lines.join("\n");
}

export async function historyCommand(argv: readonly string[], json: boolean, io: HistoryIo, ddb: DynamoDBClient = new DynamoDBClient({})): Promise<number> {
  const fail = (message: string, code: number) => {
    io.err(json ? JSON.stringify({ error: message }) : `remedy history: ${message}`);
    return code;
  };
  let service: string;
  let limit: number;
  let stack: string;
  let prefix: string;
  let html: string | undefined;
  try {
    const { values, positionals } = parseCommandArgs("history", argv, { stack: { type: "string" }, project: { type: "string" }, limit: { type: "string" }, html: { type: "string" } }, 1);
    if (positionals[0] === undefined) usage("history", "name the service, e.g. `remedy history payments`");
    service = positionals[0];
    html = values.html as string | undefined;
    limit = intOption("history", "limit", values.limit as string | undefined, 1, 1000) ?? (html ? 1000 : 20);
    stack = String(values.stack ?? "prod");
    prefix = `${String(values.project ?? "remedy")}-${stack}`;
  } catch (e) {
    if (e instanceof UsageError) return fail(e.message, 2);
    throw e;
  }
  const store = new ReleaseStore(ddb, releaseTableName(prefix));
  try {
    const state = await store.get(service);
    if (!state) {
      const known = (await store.list()).map((s) => s.service);
      return fail(`unknown service ${service} in stack ${stack} (known: ${known.join(", ") || "none"})`, 2);
    }
    const entries = await store.recentHistory(service, limit);
    // Promotion between environments (issue 38, 8): decisions, approvals, blocks and re-checks of bundles.
    const promotions = await store.promotionRecords(service);
    if (html) {
      const { historyHtml } = await import("./historyHtml");
      try {
        fs.writeFileSync(html, historyHtml(service, stack, entries, promotions));
      } catch (e) {
        return fail(`cannot write ${html}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 2);
      }
      io.out(json ? JSON.stringify({ stack, service, html, entries: entries.length }) : `wrote ${html}: the last ${entries.length} changes of ${service}, weights over time with releases, rollbacks and promotions marked${promotions.length ? `, and ${promotions.length} promotion record(s) of its bundles` : ""}`);
      return 0;
    }
    if (json) io.out(JSON.stringify({ stack, service, revision: state.revision, entries, ...(promotions.length ? { promotions } : {}) }, null, 2));
    else {
      io.out(formatHistory(service, entries, state.revision, io.columns ?? HISTORY_WIDTH));
      if (promotions.length) io.out(["", "promotions (bundles into or out of this stack):", ...promotions.map((p) => printable(`  ${p.at.replace("T", " ").slice(0, 19)}  ${p.bundle}  ${p.text}`))].join("\n"));
    }
    return 0;
  } catch (err) {
    return fail(describeAwsError(err, releaseTableName(prefix), stack), 2);
  }
}
