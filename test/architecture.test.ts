/**
 * The layers (docs/architecture.md): imports only go down, and pure code stays pure.
 *   cli -> stacks -> components | lambdas | database -> core
 * A file over ~500 lines states why at its top ("Why this file is long:").
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..");

/** Which top-level folders each layer may import from (itself included). */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  core: ["core"],
  database: ["database", "core"],
  lambdas: ["lambdas", "core"],
  components: ["components", "database", "core"],
  stacks: ["stacks", "components", "lambdas", "database", "core"],
  cli: ["cli", "stacks", "components", "lambdas", "database", "core", "samples"],
  // A service's own code (docs/rehearsal.md): knows nothing of remedy; the rehearsal runs it.
  samples: ["samples"],
};

/** Packages a layer must not load: core decides without Pulumi, AWS or a database. */
const FORBIDDEN_PACKAGES: Readonly<Record<string, RegExp>> = {
  core: /^(@pulumi\/|@aws-sdk\/|pg$|umzug$|node:(net|http|https|child_process)$)/,
  database: /^(@pulumi\/|@aws-sdk\/)/,
  lambdas: /^@pulumi\//,
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(rel));
    else if (entry.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

/** Every module specifier a file imports or requires, with its line number. */
export function importsOf(text: string): { spec: string; line: number }[] {
  const found: { spec: string; line: number }[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|require\("([^"]+)"\)|import\("([^"]+)"\)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const spec = m[1] ?? m[2] ?? m[3];
    found.push({ spec, line: text.slice(0, m.index + m[0].length).split("\n").length });
  }
  return found;
}

describe("architecture: one-way dependencies", () => {
  const files = Object.keys(MAY_IMPORT).flatMap(sources);

  it("finds the source files and their imports (the checks below are not vacuous)", () => {
    assert.ok(files.length > 60, `only ${files.length} files found`);
    const program = fs.readFileSync(path.join(ROOT, "stacks/program.ts"), "utf8");
    assert.ok(importsOf(program).some((i) => i.spec === "../components/delivery/blueGreenService"));
    assert.deepEqual(importsOf('import { a } from "./x";\nconst y = require("../y");\nexport * from "./z";').map((i) => i.spec), ["./x", "../y", "./z"]);
  });

  it("imports only go down the layers: no arrow back up", () => {
    const violations: string[] = [];
    for (const file of files) {
      const layer = file.split(path.sep)[0];
      for (const { spec, line } of importsOf(fs.readFileSync(path.join(ROOT, file), "utf8"))) {
        if (spec.startsWith(".") && spec.endsWith(".json")) continue; // data (package.json), not code
        if (spec.startsWith(".")) {
          const target = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), spec)).split(path.sep)[0];
          if (!MAY_IMPORT[layer].includes(target)) violations.push(`${file}:${line} (${layer}) imports ${spec} (${target})`);
        } else if (FORBIDDEN_PACKAGES[layer]?.test(spec)) {
          violations.push(`${file}:${line} (${layer}) loads ${spec}`);
        }
      }
    }
    assert.deepEqual(violations, [], `imports against the layering (docs/architecture.md):\n${violations.join("\n")}`);
  });

  it("nothing the project builds or ships loads a test-only AGPL package (@cloud-copilot/iam-simulate and its kin: dev dependencies for the IAM tests)", () => {
    const agpl = files.flatMap((f) => importsOf(fs.readFileSync(path.join(ROOT, f), "utf8")).filter((i) => i.spec.startsWith("@cloud-copilot/")).map((i) => `${f}:${i.line} loads ${i.spec}`));
    assert.deepEqual(agpl, []);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    assert.deepEqual(Object.keys(pkg.dependencies).filter((d) => d.startsWith("@cloud-copilot/")), []);
    assert.ok("@cloud-copilot/iam-simulate" in pkg.devDependencies, "the IAM tests' simulator is a dev dependency");
  });

  it("no source file passes ~500 lines without saying why at its top", () => {
    const long = files.filter((f) => {
      const text = fs.readFileSync(path.join(ROOT, f), "utf8");
      return text.split("\n").length > 520 && !/Why this file is long:/.test(text.slice(0, 3000));
    });
    assert.deepEqual(long, []);
  });

  it("no Lambda log line passes Powertools' reserved `service` key, which the Logger drops (name the service as targetService)", () => {
    const offending = files
      .filter((f) => f.startsWith(`lambdas${path.sep}`))
      .flatMap((f) => fs.readFileSync(path.join(ROOT, f), "utf8").split("\n").map((line, i) => [f, i + 1, line] as const))
      .filter(([, , line]) => /logger\.(debug|info|warn|error|critical)\([^;]*\{\s*service\b/.test(line))
      .map(([f, n]) => `${f}:${n}`);
    assert.deepEqual(offending, []);
  });
});
