/**
 * bench/check-api: remedy's compatibility check on a large generated schema pair (1,200 object
 * types, 6,000+ fields, enums and inputs; the candidate removes, retypes and adds fields, drops
 * enum values and adds required arguments) versus the `graphql-inspector diff` CLI on the same
 * files in the same run. Checks both find the same breaking set and prints the time ratio.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { checkCompatibility, loadSchema } from "../../core/apiCompat";

const TYPES = 1200;
const FIELDS = 5;
const RUNS = Number(process.env.BENCH_CHECK_API_RUNS ?? 5);

/** Deterministic schema pair. */
export function generatePair(): { live: string; candidate: string } {
  const live: string[] = [];
  const cand: string[] = [];
  const queryFields: string[] = [];
  for (let t = 0; t < TYPES; t++) {
    const fields = Array.from({ length: FIELDS }, (_, f) => `  f${f}(limit: Int): ${f % 2 === 0 ? "String" : `T${(t + 1) % TYPES}`}`);
    const c = [...fields];
    if (t % 40 === 0) c.splice(1, 1); // field removed
    if (t % 40 === 1) c[2] = "  f2(limit: Int): Int"; // field retyped
    if (t % 40 === 2) c[0] = "  f0(limit: Int, tenant: ID!): String"; // required argument added
    if (t % 20 === 3) c.push("  extra: String"); // safe addition
    live.push(`type T${t} {\n${fields.join("\n")}\n}`);
    cand.push(`type T${t} {\n${c.join("\n")}\n}`);
    if (t % 10 === 0) queryFields.push(`  t${t}: T${t}`);
  }
  for (let e = 0; e < 100; e++) {
    const values = ["A", "B", "C", "D"];
    live.push(`enum E${e} { ${values.join(" ")} }`);
    cand.push(`enum E${e} { ${(e % 10 === 0 ? values.slice(0, 3) : values).join(" ")} }`);
    live.push(`input I${e} { a: Int, b: String }`);
    cand.push(`input I${e} { a: Int, b: String${e % 25 === 0 ? ", c: Int!" : ""} }`);
    queryFields.push(`  e${e}(in: I${e}): E${e}`);
  }
  const query = `type Query {\n${queryFields.join("\n")}\n}`;
  return { live: [query, ...live].join("\n\n"), candidate: [query, ...cand].join("\n\n") };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const normalise = (m: string) => m.replace(/['"`]/g, "").trim();

export async function run(): Promise<boolean> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-check-api-"));
  try {
    const pair = generatePair();
    const liveFile = path.join(dir, "live.graphql");
    const candFile = path.join(dir, "candidate.graphql");
    const tiny = path.join(dir, "tiny.graphql");
    fs.writeFileSync(liveFile, pair.live);
    fs.writeFileSync(candFile, pair.candidate);
    fs.writeFileSync(tiny, "type Query { a: String }\n");
    const live = loadSchema(pair.live, liveFile);
    const typeCount = Object.keys(live.getTypeMap()).filter((n) => !n.startsWith("__")).length;
    const fieldCount = Object.values(live.getTypeMap()).reduce((n, t) => n + ("getFields" in t && !t.name.startsWith("__") ? Object.keys(t.getFields()).length : 0), 0);
    console.log(`bench/check-api: ${typeCount} types, ${fieldCount} fields/input fields; median of ${RUNS}`);

    const ours: number[] = [];
    let breaking = new Set<string>();
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const report = await checkCompatibility(loadSchema(fs.readFileSync(liveFile, "utf8"), liveFile), loadSchema(fs.readFileSync(candFile, "utf8"), candFile));
      ours.push(performance.now() - t);
      breaking = new Set(report.changes.filter((c) => c.category === "breaking").map((c) => normalise(c.message)));
    }

    const cli = path.resolve(__dirname, "..", "..", "node_modules", ".bin", "graphql-inspector");
    const runCli = (a: string, b: string): { ms: number; out: string } => {
      const t = performance.now();
      let out = "";
      try {
        out = execFileSync(cli, ["diff", a, b], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
      } catch (err) {
        out = String((err as { stdout?: string }).stdout ?? "");
      }
      return { ms: performance.now() - t, out };
    };
    const cliRuns = Array.from({ length: RUNS }, () => runCli(liveFile, candFile));
    const startup = median(Array.from({ length: RUNS }, () => runCli(tiny, tiny).ms));
    const cliBreaking = new Set(
      cliRuns[0].out
        .split("\n")
        .filter((l) => l.includes("✖"))
        // eslint-disable-next-line no-control-regex
        .map((l) => normalise(l.replace(/\u001b\[[0-9;]*m/g, "").replace(/^.*✖\s*/, ""))),
    );
    const missing = [...cliBreaking].filter((m) => !breaking.has(m));
    const extra = [...breaking].filter((m) => !cliBreaking.has(m));
    const same = missing.length === 0 && extra.length === 0 && breaking.size > 0;
    const oursMs = median(ours);
    const cliMs = median(cliRuns.map((r) => r.ms));
    console.log(`  remedy (in process: read, parse, build, diff)      ${oursMs.toFixed(0).padStart(6)} ms`);
    console.log(`  graphql-inspector diff (CLI process)               ${cliMs.toFixed(0).padStart(6)} ms  (of which ~${startup.toFixed(0)} ms is CLI start-up on a 1-field schema)`);
    console.log(`  ratio remedy / CLI: ${(oursMs / cliMs).toFixed(2)}x; vs CLI minus start-up: ${(oursMs / Math.max(1, cliMs - startup)).toFixed(2)}x`);
    console.log(`  breaking changes: remedy ${breaking.size}, CLI ${cliBreaking.size}; same set: ${same ? "yes" : `NO (missing ${missing.slice(0, 3).join("; ")}; extra ${extra.slice(0, 3).join("; ")})`}`);
    return same;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
