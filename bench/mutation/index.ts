/**
 * `npm run mutation [module ...|all]`: mutation testing of the decision core with StrykerJS, each
 * module of core/ against its own fast unit tests, and a report of the scores per module.
 *
 * - StrykerJS 9.6.1 (10 needs Node 22) with its command runner: the project's mocha 12 is newer
 *   than the mocha runner plugin supports, so each mutant runs `mocha <the module's tests>` in a
 *   sandbox. No test is timed; the run is slow (minutes per module on 2 cores), so it is not part
 *   of `npm test`.
 * - Scores: killed (and timed out) / all valid mutants. "behaviour" leaves out string-literal
 *   mutants of message text (an original string with a space in it: error messages, reasons),
 *   which change only what a message says; strings without spaces (metric namespaces, query ids,
 *   states) count. Goals are on the behaviour score.
 * - Each module's JSON report goes to reports/mutation/<module>.json; surviving behaviour mutants
 *   are listed with their line, so whoever changes core/ sees what no test pins.
 * Exit 1 when a module is below its goal.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

/** The modules with a goal, their tests, and the goal (behaviour score, %). */
const MODULES: Record<string, { readonly tests: readonly string[]; readonly goal: number }> = {
  weights: { tests: ["test/core/weights.test.ts"], goal: 100 },
  releaseState: { tests: ["test/core/releaseState.test.ts"], goal: 90 },
  progressive: { tests: ["test/core/progressive.test.ts"], goal: 90 },
  desired: { tests: ["test/core/desired.test.ts"], goal: 90 },
  alarms: { tests: ["test/core/alarms.test.ts"], goal: 90 },
  converge: { tests: ["test/core/converge.test.ts"], goal: 90 },
};

interface Mutant {
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly status: string;
  readonly location: { readonly start: { readonly line: number; readonly column: number }; readonly end: { readonly line: number; readonly column: number } };
}

/** The text a mutant replaced, from the source and its location (lines and columns 1-based). */
function original(source: string, m: Mutant): string {
  const lines = source.split("\n");
  const { start, end } = m.location;
  if (start.line === end.line) return lines[start.line - 1].slice(start.column - 1, end.column - 1);
  return [lines[start.line - 1].slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1].slice(0, end.column - 1)].join("\n");
}

/**
 * A string-literal mutant of message text: it changes what a message says, not what the code
 * does. Text with a space in it, or an empty/"?" filler on a line that builds a template literal
 * (`${rb ? ... : ""}`, `${x ?? "?"}`).
 */
export function isMessageMutant(source: string, m: Mutant): boolean {
  if (m.mutatorName !== "StringLiteral") return false;
  const text = original(source, m);
  if (/\s/.test(text.replace(/\$\{[^}]*\}/g, ""))) return true;
  return ['""', '"?"'].includes(text) && source.split("\n")[m.location.start.line - 1].includes("`");
}

export interface Score {
  readonly module: string;
  readonly all: number;
  readonly behaviour: number;
  readonly mutants: number;
  readonly messageMutants: number;
  readonly survivors: readonly string[];
}

/** Scores from a Stryker JSON report (mutation-testing-report-schema). */
export function score(module: string, report: { files: Record<string, { source: string; mutants: Mutant[] }> }): Score {
  let [killed, valid, bKilled, bValid, messages] = [0, 0, 0, 0, 0];
  const survivors: string[] = [];
  for (const [file, { source, mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      if (["CompileError", "RuntimeError", "Ignored", "Pending"].includes(m.status)) continue;
      const dead = m.status === "Killed" || m.status === "Timeout";
      valid += 1;
      killed += dead ? 1 : 0;
      if (isMessageMutant(source, m)) {
        messages += 1;
        continue;
      }
      bValid += 1;
      bKilled += dead ? 1 : 0;
      if (!dead) survivors.push(`${file}:${m.location.start.line} ${m.mutatorName}: ${JSON.stringify(original(source, m).slice(0, 60))} -> ${JSON.stringify((m.replacement ?? "").slice(0, 60))}`);
    }
  }
  const pct = (k: number, n: number) => (n === 0 ? 100 : Math.round((1000 * k) / n) / 10);
  return { module, all: pct(killed, valid), behaviour: pct(bKilled, bValid), mutants: valid, messageMutants: messages, survivors };
}

function runModule(module: string, tests: readonly string[]): Score {
  const reportFile = path.join("reports", "mutation", `${module}.json`);
  const config = {
    mutate: [`core/${module}.ts`],
    testRunner: "command",
    commandRunner: { command: `node node_modules/mocha/bin/mocha.js --no-config -r ts-node/register/transpile-only --extension ts --timeout 20000 --reporter dot ${tests.join(" ")}` },
    reporters: ["json"],
    jsonReporter: { fileName: reportFile },
    concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 2),
    tempDirName: ".stryker-tmp",
    cleanTempDir: "always",
    // The sandbox needs the code and the tests, not the reports or the benches' data.
    ignorePatterns: ["reports", "bench", ".stryker-tmp", "lambdas/dist", "*.log"],
    timeoutMS: 20000,
    logLevel: "warn",
  };
  const configFile = path.join(ROOT, ".stryker-tmp", `stryker.${module}.json`);
  fs.mkdirSync(path.dirname(configFile), { recursive: true });
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const r = spawnSync(process.execPath, [path.join(ROOT, "node_modules", "@stryker-mutator", "core", "bin", "stryker.js"), "run", configFile], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`stryker failed for core/${module}.ts (exit ${String(r.status)})`);
  return score(module, JSON.parse(fs.readFileSync(path.join(ROOT, reportFile), "utf8")) as { files: Record<string, { source: string; mutants: Mutant[] }> });
}

export function main(args: readonly string[]): number {
  const all = args.includes("all");
  const modules = all
    ? fs.readdirSync(path.join(ROOT, "core")).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).filter((m) => fs.existsSync(path.join(ROOT, "test", "core", `${m}.test.ts`)))
    : args.length > 0
      ? [...args]
      : Object.keys(MODULES);
  const scores: Score[] = [];
  for (const m of modules) {
    if (!fs.existsSync(path.join(ROOT, "core", `${m}.ts`))) throw new Error(`no module core/${m}.ts (modules with goals: ${Object.keys(MODULES).join(", ")}, or all)`);
    console.log(`mutation: core/${m}.ts`);
    scores.push(runModule(m, MODULES[m]?.tests ?? [`test/core/${m}.test.ts`]));
  }
  console.log("\nmutation scores (killed / valid mutants; behaviour leaves out message-text strings)");
  console.log(`  ${"module".padEnd(14)} ${"mutants".padStart(7)} ${"messages".padStart(8)} ${"all".padStart(6)} ${"behaviour".padStart(9)} ${"goal".padStart(5)}`);
  let missed = 0;
  for (const s of scores) {
    const goal = MODULES[s.module]?.goal;
    const ok = goal === undefined || s.behaviour >= goal;
    if (!ok) missed += 1;
    console.log(`  ${s.module.padEnd(14)} ${String(s.mutants).padStart(7)} ${String(s.messageMutants).padStart(8)} ${`${s.all}%`.padStart(6)} ${`${s.behaviour}%`.padStart(9)} ${goal === undefined ? "    -" : `${goal}%`.padStart(5)} ${goal === undefined ? "" : ok ? "PASS" : "MISS"}`);
  }
  for (const s of scores.filter((x) => x.survivors.length > 0)) {
    console.log(`\nsurviving behaviour mutants, core/${s.module}.ts (${s.survivors.length}):`);
    for (const line of s.survivors) console.log(`  ${line}`);
  }
  return missed === 0 ? 0 : 1;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
