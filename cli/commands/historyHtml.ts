/**
 * `remedy history <service> --html <file>`: the release timeline as one self-contained HTML page
 * (inline SVG, no scripts, no network): blue and green weights over time as step lines, and a
 * marker at each rollback, promotion, release start, pre-traffic failure and abort, with the
 * recorded who and why on hover; the history table below. Markers carry `data-kind`, `data-at`
 * and `data-weight` so a browser test can check what is drawn where.
 */
import { ABORT_REASON_PREFIX, type HistoryEntry } from "../../core/releaseState";

const W = 960;
const H = 320;
const M = { left: 48, right: 16, top: 16, bottom: 40 };

/** The marker kind of an entry, or undefined when it is not marked. */
export function markerKind(e: HistoryEntry): "rollback" | "abort" | "promotion" | "release" | "pre-traffic-failed" | undefined {
  // `remedy abort` records a rollback whose reason starts with ABORT_REASON_PREFIX.
  if (e.action === "roll-back") return e.summary.includes(ABORT_REASON_PREFIX) ? "abort" : "rollback";
  if (e.action === "promote") return "promotion";
  if (e.action === "start-release") return "release";
  if (e.action === "pre-traffic-result" && /failed/.test(e.summary)) return "pre-traffic-failed";
  return undefined;
}

const COLORS = { rollback: "#d62728", abort: "#9467bd", promotion: "#2ca02c", release: "#1f77b4", "pre-traffic-failed": "#ff7f0e" } as const;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

/** x of a time, y of a percentage, on the chart. */
export function scales(entries: readonly HistoryEntry[]): { x: (at: string) => number; y: (pct: number) => number } {
  const times = entries.map((e) => Date.parse(e.at));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const span = t1 - t0 || 1;
  return {
    x: (at) => M.left + ((Date.parse(at) - t0) / span) * (W - M.left - M.right),
    y: (pct) => M.top + (1 - pct / 100) * (H - M.top - M.bottom),
  };
}

export function historyHtml(service: string, stack: string, entries: readonly HistoryEntry[]): string {
  // Oldest first, by time (the history's order; a later record never has an earlier time's weights).
  const sorted = [...entries].sort((a, b) => a.revision - b.revision);
  const { x, y } = scales(sorted);
  const step = (slot: "blue" | "green") => {
    const pts: string[] = [];
    sorted.forEach((e, i) => {
      if (i > 0) pts.push(`${x(e.at).toFixed(1)},${y(sorted[i - 1].weights[slot]).toFixed(1)}`);
      pts.push(`${x(e.at).toFixed(1)},${y(e.weights[slot]).toFixed(1)}`);
    });
    return `<polyline class="weight ${slot}" data-slot="${slot}" fill="none" stroke="${slot === "blue" ? "#1f77b4" : "#2ca02c"}" stroke-width="2" points="${pts.join(" ")}"/>`;
  };
  const markers = sorted
    .map((e) => ({ e, kind: markerKind(e) }))
    .filter((m): m is { e: HistoryEntry; kind: NonNullable<ReturnType<typeof markerKind>> } => m.kind !== undefined)
    .map(({ e, kind }) => {
      const cx = x(e.at).toFixed(1);
      return `<g class="marker ${kind}" data-kind="${kind}" data-at="${esc(e.at)}" data-revision="${esc(String(e.revision))}" data-weight-green="${esc(String(e.weights.green))}" data-weight-blue="${esc(String(e.weights.blue))}"><line x1="${cx}" x2="${cx}" y1="${M.top}" y2="${H - M.bottom}" stroke="${COLORS[kind]}" stroke-dasharray="4 3"/><circle cx="${cx}" cy="${M.top + 6}" r="6" fill="${COLORS[kind]}"/><title>${esc(`${e.at} ${e.action} by ${e.by}: ${e.summary}`)}</title></g>`;
    });
  const grid = [0, 25, 50, 75, 100]
    .map((p) => `<line x1="${M.left}" x2="${W - M.right}" y1="${y(p)}" y2="${y(p)}" stroke="#ddd"/><text x="${M.left - 6}" y="${y(p) + 4}" text-anchor="end" font-size="11">${p}%</text>`)
    .join("");
  const first = sorted[0]?.at ?? "";
  const last = sorted[sorted.length - 1]?.at ?? "";
  const rows = sorted
    .map((e) => `<tr data-revision="${esc(String(e.revision))}"><td>${esc(String(e.revision))}</td><td>${esc(e.at)}</td><td>${esc(e.action)}</td><td>${esc(`${e.weights.blue}/${e.weights.green}`)}</td><td>${esc(e.by)}</td><td>${esc(e.summary)}</td></tr>`)
    .join("\n");
  const legend = Object.entries(COLORS)
    .map(([k, c]) => `<span class="legend"><span style="background:${c}"></span>${k}</span>`)
    .join(" ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>remedy ${esc(stack)}: ${esc(service)} release history</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin-top:16px}td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;vertical-align:top}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}</style></head>
<body>
<h1>${esc(service)} <small>(stack ${esc(stack)})</small></h1>
<p>Blue and green weights after each recorded change, ${esc(first)} to ${esc(last)} (UTC). Hover a marker for who and why. ${legend}</p>
<svg id="timeline" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="weights over time">
${grid}
${step("blue")}
${step("green")}
${markers.join("\n")}
<text x="${M.left}" y="${H - 12}" font-size="11">${esc(first)}</text><text x="${W - M.right}" y="${H - 12}" font-size="11" text-anchor="end">${esc(last)}</text>
</svg>
<table><thead><tr><th>rev</th><th>when (UTC)</th><th>action</th><th>blue/green</th><th>by</th><th>what</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
