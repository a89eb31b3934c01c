/**
 * `remedy history <service> --html <file>`: the release timeline as one self-contained HTML page
 * (inline SVG, no scripts, no network): blue and green weights over time as step lines labelled
 * with the version each slot runs, a numbered marker at each rollback, promotion, release start,
 * pre-traffic failure and abort, the list of those events with who and why beside the chart, a
 * time axis with ticks, and the history table below (issue 36, 5).
 *
 * Every change gets at least {@link MIN_GAP} pixels: time runs linearly between two changes, but a
 * change two minutes after another is not a one-pixel blip beside a gap of hours. The axis ticks
 * are placed through the same mapping, so each sits at its true time (they bunch where time is
 * stretched, and only labels with room are written). Markers, ticks, labels and lines carry data
 * attributes so a browser test can check what is drawn where.
 */
import { actorDisplayName } from "../../core/alarms";
import { ABORT_REASON_PREFIX, type HistoryEntry } from "../../core/releaseState";
import type { PromotionRecord } from "../../lambdas/commons/releaseStore";

/** The least horizontal room of one change (and between two markers: their circles never touch). */
export const MIN_GAP = 18;
/** After the last change: its weights, drawn for this long. */
const TAIL = 48;
const H = 340;
const M = { left: 48, right: 24, top: 30, bottom: 52 };
const MARKER_R = 7;
/** The least room between two written tick labels. */
const LABEL_ROOM = 64;

type MarkerKind = "rollback" | "abort" | "promotion" | "release" | "pre-traffic-failed";

/** The marker kind of an entry, or undefined when it is not marked. */
export function markerKind(e: HistoryEntry): MarkerKind | undefined {
  // `remedy abort` records a rollback whose reason starts with ABORT_REASON_PREFIX.
  if (e.action === "roll-back") return e.summary.includes(ABORT_REASON_PREFIX) ? "abort" : "rollback";
  if (e.action === "promote") return "promotion";
  if (e.action === "start-release") return "release";
  if (e.action === "pre-traffic-result" && /failed/.test(e.summary)) return "pre-traffic-failed";
  return undefined;
}

const COLORS = { rollback: "#d62728", abort: "#9467bd", promotion: "#2ca02c", release: "#1f77b4", "pre-traffic-failed": "#ff7f0e" } as const;
const SLOT_COLORS = { blue: "#1f77b4", green: "#2ca02c" } as const;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");

export interface Scales {
  /** The chart's width. */
  readonly width: number;
  /** x of each entry, in order. */
  readonly points: readonly number[];
  /** x of a time (between two changes: linear; after the last: the tail's rate). */
  x(ms: number): number;
  /** The last time the axis shows. */
  readonly endMs: number;
  y(pct: number): number;
}

/**
 * Where each change goes: gaps proportional to time, none under {@link MIN_GAP}; the chart is
 * at least 960 px wide and wider when the changes need it.
 */
export function scales(times: readonly number[]): Scales {
  const n = times.length;
  const width = Math.max(960, M.left + M.right + Math.max(0, n - 1) * MIN_GAP + TAIL + 40);
  const room = width - M.left - M.right - TAIL;
  const dts = times.slice(1).map((t, i) => Math.max(0, t - times[i]));
  const total = (k: number) => dts.reduce((a, dt) => a + Math.max(MIN_GAP, k * dt), 0);
  // The scale k (px per ms) whose gaps fill the room: total(k) only grows with k.
  let lo = 0;
  let hi = 1;
  while (dts.some((d) => d > 0) && total(hi) < room && hi < 1e12) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (total(mid) < room) lo = mid;
    else hi = mid;
  }
  const k = dts.some((d) => d > 0) ? lo : 0;
  const points: number[] = [];
  times.forEach((_, i) => points.push(i === 0 ? M.left : points[i - 1] + Math.max(MIN_GAP, k * dts[i - 1])));
  const last = points[n - 1] ?? M.left;
  // The tail shows time at the rate of the widest gap (k), or ten minutes when there is no gap.
  const tailMs = k > 0 ? TAIL / k : 600_000;
  const endMs = (times[n - 1] ?? 0) + tailMs;
  return {
    width,
    points,
    endMs,
    x(ms) {
      if (n === 0) return M.left;
      if (ms <= times[0]) return points[0];
      for (let i = 1; i < n; i++) {
        if (ms <= times[i]) {
          const span = times[i] - times[i - 1];
          return span === 0 ? points[i] : points[i - 1] + ((ms - times[i - 1]) / span) * (points[i] - points[i - 1]);
        }
      }
      return Math.min(last + TAIL, last + ((ms - times[n - 1]) / tailMs) * TAIL);
    },
    y: (pct) => M.top + (1 - pct / 100) * (H - M.top - M.bottom),
  };
}

const NICE_STEPS_MIN = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080];

/** Ticks at round times across [t0, t1], about eight of them. */
export function ticks(t0: number, t1: number): number[] {
  const span = Math.max(t1 - t0, 60_000);
  const week = 10080 * 60_000;
  const step = (NICE_STEPS_MIN.find((m) => span / (m * 60_000) <= 8) ?? Math.ceil(span / 8 / week) * 10080) * 60_000;
  const out: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return out;
}

/** Which version each slot runs after each entry, from what the releases recorded. */
export function slotVersions(entries: readonly HistoryEntry[]): { blue?: string; green?: string }[] {
  const now: { blue?: string; green?: string } = {};
  return entries.map((e) => {
    if (e.action === "start-release" || e.action === "adopt") {
      const stable = /stable (\S+) \((blue|green)\)/.exec(e.summary) ?? /^adopt (\S+) \((blue|green)\)/.exec(e.summary);
      if (stable) now[stable[2] as "blue" | "green"] = stable[1];
      const [slot, version] = (e.releaseId ?? "").split(":");
      if (e.action === "start-release" && (slot === "blue" || slot === "green") && version) now[slot] = version;
    }
    return { ...now };
  });
}

const hhmm = (ms: number, withDate: boolean) => new Date(ms).toISOString().slice(withDate ? 5 : 11, 16).replace("T", " ");

/**
 * The promotion side (issue 38, 8): each promote-env decision with every gate's decision and
 * message, each approval, block, unblock and re-check of a bundle, oldest first.
 */
function promotionSection(promotions: readonly PromotionRecord[]): string {
  if (promotions.length === 0) return "";
  const rows = promotions.map((p) => {
    const decision = p.decision ?? "";
    const gates = (p.gates ?? []).map((g) => `<li class="gate ${esc(g.decision)}" data-gate="${esc(g.gate)}" data-decision="${esc(g.decision)}"><strong>${esc(g.decision)}</strong> ${esc(g.gate)}: ${esc(g.message)}</li>`).join("");
    const what = gates ? `<details><summary>${esc(p.text)}</summary><ul>${gates}</ul></details>` : esc(p.text);
    return `<tr class="promotion ${esc(p.kind)}" data-kind="${esc(p.kind)}" data-bundle="${esc(p.bundle)}"${decision ? ` data-decision="${esc(decision)}"` : ""}><td>${esc(p.at.slice(0, 19).replace("T", " "))}</td><td>${esc(p.kind)}</td><td><code>${esc(p.bundle)}</code></td><td>${what}</td></tr>`;
  });
  return `<h2>Promotions</h2>
<p>Bundles promoted into this stack (each decision with every gate), approved, blocked or re-checked; open a decision for its gates.</p>
<table id="promotions"><thead><tr><th>when (UTC)</th><th>kind</th><th>bundle</th><th>what</th></tr></thead>
<tbody>
${rows.join("\n")}
</tbody></table>
`;
}

export function historyHtml(service: string, stack: string, entries: readonly HistoryEntry[], promotions: readonly PromotionRecord[] = []): string {
  // Oldest first, in revision order (recorded times never go back: core/releaseState.ts).
  const sorted = [...entries].sort((a, b) => a.revision - b.revision);
  const times = sorted.map((e) => Date.parse(e.at));
  const sc = scales(times);
  const { y, points } = sc;
  const plotRight = (points[points.length - 1] ?? M.left) + TAIL;
  const step = (slot: "blue" | "green") => {
    const pts: string[] = [];
    sorted.forEach((e, i) => {
      if (i > 0) pts.push(`${points[i].toFixed(1)},${y(sorted[i - 1].weights[slot]).toFixed(1)}`);
      pts.push(`${points[i].toFixed(1)},${y(e.weights[slot]).toFixed(1)}`);
    });
    if (sorted.length > 0) pts.push(`${plotRight.toFixed(1)},${y(sorted[sorted.length - 1].weights[slot]).toFixed(1)}`);
    return `<polyline class="weight ${slot}" data-slot="${slot}" fill="none" stroke="${SLOT_COLORS[slot]}" stroke-width="2" points="${pts.join(" ")}"/>`;
  };

  // Version labels: where a slot starts running a version, just above its line; a label that
  // would run into the previous one at that height goes one line up.
  const versions = slotVersions(sorted);
  const placed: { x0: number; x1: number; y: number }[] = [];
  const labels: string[] = [];
  sorted.forEach((e, i) => {
    for (const slot of ["blue", "green"] as const) {
      const v = versions[i][slot];
      if (!v || (i > 0 && versions[i - 1][slot] === v)) continue;
      const wide = v.length * 6.6 + 4;
      let ly = y(e.weights[slot]) - 5;
      while (placed.some((p) => Math.abs(p.y - ly) < 12 && p.x1 > points[i] + 3) && ly > M.top + 12) ly -= 12;
      placed.push({ x0: points[i] + 3, x1: points[i] + 3 + wide, y: ly });
      labels.push(`<text class="version-label" data-slot="${slot}" data-version="${esc(v)}" data-revision="${e.revision}" x="${(points[i] + 3).toFixed(1)}" y="${ly.toFixed(1)}" font-size="11" fill="${SLOT_COLORS[slot]}">${esc(v)}</text>`);
    }
  });

  const marked = sorted.map((e, i) => ({ e, i, kind: markerKind(e) })).filter((m): m is { e: HistoryEntry; i: number; kind: MarkerKind } => m.kind !== undefined);
  const markers = marked.map(({ e, i, kind }, n) => {
    const cx = points[i].toFixed(1);
    const who = actorDisplayName(e.by);
    return `<g class="marker ${kind}" data-kind="${kind}" data-number="${n + 1}" data-at="${esc(e.at)}" data-revision="${esc(String(e.revision))}" data-weight-green="${esc(String(e.weights.green))}" data-weight-blue="${esc(String(e.weights.blue))}"><line x1="${cx}" x2="${cx}" y1="${M.top}" y2="${H - M.bottom}" stroke="${COLORS[kind]}" stroke-dasharray="4 3"/><circle cx="${cx}" cy="${M.top - MARKER_R - 2}" r="${MARKER_R}" fill="${COLORS[kind]}"/><text x="${cx}" y="${M.top - MARKER_R + 1.5}" font-size="9" fill="#fff" text-anchor="middle">${n + 1}</text><title>${esc(`${e.at} ${e.action} by ${who}: ${e.summary}`)}</title></g>`;
  });
  const events = marked
    .map(({ e, kind }, n) => `<li class="event ${kind}" data-number="${n + 1}" data-revision="${e.revision}"><span class="num" style="background:${COLORS[kind]}">${n + 1}</span> <strong>${esc(kind)}</strong> ${esc(e.at.slice(0, 19).replace("T", " "))} by <strong>${esc(actorDisplayName(e.by))}</strong>: ${esc(e.summary)}</li>`)
    .join("\n");

  const grid = [0, 25, 50, 75, 100]
    .map((p) => `<line x1="${M.left}" x2="${plotRight.toFixed(1)}" y1="${y(p)}" y2="${y(p)}" stroke="#ddd"/><text class="pct" x="${M.left - 6}" y="${y(p) + 4}" text-anchor="end" font-size="11">${p}%</text>`)
    .join("");
  // The time axis: round times through the same mapping; a label only where it has room.
  const t0 = times[0] ?? 0;
  const withDate = sc.endMs - t0 >= 86_400_000 || new Date(t0).toISOString().slice(0, 10) !== new Date(sc.endMs).toISOString().slice(0, 10);
  let lastLabel = -Infinity;
  const axisY = H - M.bottom;
  const axis = ticks(t0, sc.endMs)
    .map((t) => {
      const tx = sc.x(t);
      const label = tx - lastLabel >= LABEL_ROOM;
      if (label) lastLabel = tx;
      const iso = new Date(t).toISOString();
      return `<g class="tick" data-at="${iso}" data-labelled="${label}"><line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${axisY}" y2="${axisY + 5}" stroke="#666"/>${label ? `<text class="tick-label" x="${tx.toFixed(1)}" y="${axisY + 17}" font-size="11" text-anchor="middle">${hhmm(t, withDate)}</text>` : ""}</g>`;
    })
    .join("");
  const first = sorted[0]?.at ?? "";
  const last = sorted[sorted.length - 1]?.at ?? "";
  const rows = sorted
    .map((e) => `<tr data-revision="${esc(String(e.revision))}"><td>${esc(String(e.revision))}</td><td>${esc(e.at.slice(0, 19).replace("T", " "))}</td><td>${esc(e.action)}</td><td>${esc(`${e.weights.blue}/${e.weights.green}`)}</td><td>${esc(actorDisplayName(e.by))}</td><td>${esc(e.summary)}</td></tr>`)
    .join("\n");
  const legend = Object.entries(COLORS)
    .map(([k, c]) => `<span class="legend"><span style="background:${c}"></span>${k}</span>`)
    .join(" ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>remedy ${esc(stack)}: ${esc(service)} release history</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin-top:16px}td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;vertical-align:top}td:nth-child(2){white-space:nowrap}.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}.chart{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}#events{margin:0;padding:0;list-style:none;max-width:460px;font-size:13px}#events li{margin:0 0 8px}#events .num{display:inline-block;min-width:16px;border-radius:8px;color:#fff;text-align:center;font-size:11px}tr.promotion[data-decision=deny] td:nth-child(4)>details>summary{color:#b3261e}tr.promotion[data-decision=allow] td:nth-child(4)>details>summary{color:#1b7f3b}.gate.deny{color:#b3261e}.gate.wait{color:#8a6d00}</style></head>
<body>
<h1>${esc(service)} <small>(stack ${esc(stack)})</small></h1>
<p>Blue and green weights after each recorded change, ${esc(first)} to ${esc(last)} (UTC), each line labelled with the version its slot runs. ${legend}<br>
<small>Time runs left to right; where changes crowd, the axis stretches so each gets at least ${MIN_GAP} px (the ticks stay at their true times).</small></p>
<div class="chart">
<svg id="timeline" width="${sc.width}" height="${H}" viewBox="0 0 ${sc.width} ${H}" role="img" aria-label="weights over time" data-plot-left="${M.left}" data-plot-right="${plotRight.toFixed(1)}">
${grid}
${step("blue")}
${step("green")}
${labels.join("\n")}
${markers.join("\n")}
<line x1="${M.left}" x2="${plotRight.toFixed(1)}" y1="${axisY}" y2="${axisY}" stroke="#666"/>
${axis}
<text x="${M.left}" y="${H - 8}" font-size="11" fill="#666">time (UTC${withDate ? "" : `, ${esc(first.slice(0, 10))}`})</text>
</svg>
<ol id="events" aria-label="who did what, and why">
${events}
</ol>
</div>
<table><thead><tr><th>rev</th><th>when (UTC)</th><th>action</th><th>blue/green</th><th>by</th><th>what</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${promotionSection(promotions)}</body></html>
`;
}
