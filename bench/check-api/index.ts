/**
 * bench/check-api: remedy's compatibility check on a large real schema pair, GitHub's published
 * GraphQL schema 14.58.0 (live) against 15.25.0 (candidate), from @octokit/graphql-schema, all in
 * one process. Compared with the two libraries it builds on, on the same parsed schemas:
 *   - graphql-js findBreakingChanges + findDangerousChanges (the reference implementation: the
 *     baseline for time, and the floor for what counts as breaking);
 *   - @graphql-inspector/core diff (coordinates and categories).
 * Checks remedy finds every change graphql-js calls breaking (by schema coordinate) and prints
 * what it calls dangerous that graphql-js does not, and the time ratios.
 * (A separate CLI process would mostly measure its start-up: not compared.)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { diff } from "@graphql-inspector/core";
import { type GraphQLSchema, findBreakingChanges, findDangerousChanges } from "graphql";
import { checkCompatibility, loadSchema } from "../../core/apiCompat";

const RUNS = Number(process.env.BENCH_CHECK_API_RUNS ?? 5);
const LIVE = "14.58.0";
const CANDIDATE = "15.25.0";

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** GitHub's schema at a published version (a dev dependency aliased per version). */
export function githubSchemaFile(version: string): string {
  return path.join(__dirname, "..", "..", "node_modules", `github-schema-${version}`, "schema.graphql");
}

/**
 * The schema coordinate a graphql-js change description names (graphql-js gives only text):
 * `V was removed from enum type E.` -> `E.V`, `A was removed from T.f.` -> `T.f(A:)`,
 * `A required arg A on T.f was added.` -> `T.f(A:)`, `T.f changed type ...` -> `T.f`, `T was removed.` -> `T`.
 */
export function graphqlJsCoordinate(description: string): string {
  const patterns: Array<[RegExp, (m: RegExpExecArray) => string]> = [
    [/^(\w+) was removed from (?:enum|union) type (\w+)\./, (m) => `${m[2]}.${m[1]}`],
    [/^A required arg (\w+) on (\w+)\.(\w+) was added/, (m) => `${m[2]}.${m[3]}(${m[1]}:)`],
    [/^An optional arg (\w+) on (\w+)\.(\w+) was added/, (m) => `${m[2]}.${m[3]}(${m[1]}:)`],
    [/^A (?:required|optional) field (\w+) on input type (\w+) was added/, (m) => `${m[2]}.${m[1]}`],
    [/^(\w+)\.(\w+) arg (\w+) /, (m) => `${m[1]}.${m[2]}(${m[3]}:)`],
    [/^(\w+) was removed from (\w+)\.(\w+)\./, (m) => `${m[2]}.${m[3]}(${m[1]}:)`],
    [/^(\w+) was removed from directive (\w+)\./, (m) => `@${m[2]}(${m[1]}:)`],
    [/^(\w+) no longer implemented by (\w+)\./, (m) => m[2]],
    [/^(\w+)\.(\w+) /, (m) => `${m[1]}.${m[2]}`],
    [/^(\w+) /, (m) => m[1]],
  ];
  for (const [re, to] of patterns) {
    const m = re.exec(description);
    if (m) return to(m);
  }
  return description;
}

async function timed<T>(fn: () => T | Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

export async function run(): Promise<boolean> {
  const live: GraphQLSchema = loadSchema(fs.readFileSync(githubSchemaFile(LIVE), "utf8"), `github ${LIVE}`);
  const candidate: GraphQLSchema = loadSchema(fs.readFileSync(githubSchemaFile(CANDIDATE), "utf8"), `github ${CANDIDATE}`);
  const types = Object.keys(candidate.getTypeMap()).filter((n) => !n.startsWith("__")).length;
  console.log(`\nbench/check-api: GitHub's GraphQL schema ${LIVE} -> ${CANDIDATE} (${types} types), in process, median of ${RUNS}`);

  const js: number[] = [];
  const inspector: number[] = [];
  const ours: number[] = [];
  let jsBreaking: string[] = [];
  let jsDangerous: string[] = [];
  let inspectorCount = 0;
  let report = await checkCompatibility(live, candidate);
  for (let i = 0; i < RUNS; i++) {
    const a = await timed(() => ({ breaking: findBreakingChanges(live, candidate), dangerous: findDangerousChanges(live, candidate) }));
    js.push(a.ms);
    jsBreaking = a.value.breaking.map((c) => graphqlJsCoordinate(c.description));
    jsDangerous = a.value.dangerous.map((c) => graphqlJsCoordinate(c.description));
    const b = await timed(() => diff(live, candidate));
    inspector.push(b.ms);
    inspectorCount = b.value.length;
    const c = await timed(() => checkCompatibility(live, candidate));
    ours.push(c.ms);
    report = c.value;
  }
  const breaking = report.changes.filter((c) => c.category === "breaking");
  const dangerous = report.changes.filter((c) => c.category === "dangerous");
  // Every graphql-js breaking change is breaking in remedy's report too (same type or field).
  const covered = (coord: string) => breaking.some((c) => c.coordinate === coord);
  const missed = [...new Set(jsBreaking)].filter((coord) => !covered(coord));
  const base = median(js);
  console.log(`  graphql-js findBreaking+findDangerous   ${base.toFixed(0).padStart(6)} ms  1.00x  ${jsBreaking.length} breaking, ${jsDangerous.length} dangerous`);
  console.log(`  @graphql-inspector/core diff            ${median(inspector).toFixed(0).padStart(6)} ms  ${(median(inspector) / base).toFixed(2)}x  ${inspectorCount} changes`);
  console.log(`  remedy checkCompatibility               ${median(ours).toFixed(0).padStart(6)} ms  ${(median(ours) / base).toFixed(2)}x  ${breaking.length} breaking, ${dangerous.length} dangerous, ${report.summary.safe} safe`);
  const newInputFields = report.changes.filter((c) => c.type === "INPUT_FIELD_ADDED" && live.getType(c.coordinate.split(".")[0]) === undefined).length;
  console.log(`  fields of input types new in ${CANDIDATE}: ${newInputFields}, reported safe (a client cannot have built them)`);
  console.log(`  every graphql-js breaking change is breaking in remedy's report: ${missed.length === 0 ? "yes" : `NO: ${missed.slice(0, 5).join(", ")}`}  ${missed.length === 0 ? "PASS" : "MISS"}`);
  return missed.length === 0;
}
