/**
 * The `remedy` binary as a real process (dist/remedy.js, built by `npm test`/`npm ci`): whole
 * `--json` output through a pipe, usage errors before environment errors, environment errors
 * that name the variable, `--version`. No wall-clock limits: a loaded machine only makes it slower.
 */
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { stackYaml } from "../helpers/fixtures";

const ROOT = path.join(__dirname, "..", "..");
const REMEDY = path.join(ROOT, "cli", "remedy.js");

/** An environment with no AWS settings at all: no region, profile, credentials or config files. */
function bareEnv(home: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_")));
  return { ...env, HOME: home, AWS_CONFIG_FILE: path.join(home, "none"), AWS_SHARED_CREDENTIALS_FILE: path.join(home, "none"), DATABASE_URL: "" };
}

/** Runs `remedy <args> | (sleep 1; cat) > out`: a reader slower than the writer, as `| jq` on a busy machine. */
function throughSlowPipe(dir: string, args: readonly string[]): { status: number; out: string } {
  const out = path.join(dir, `out-${args[0]}.json`);
  const quoted = args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = spawnSync("bash", ["-c", `set -o pipefail; '${process.execPath}' '${REMEDY}' ${quoted} | (sleep 1; cat) > '${out}'`], { cwd: dir, encoding: "utf8" });
  return { status: r.status ?? -1, out: fs.readFileSync(out, "utf8") };
}

describe("cli: remedy as a process", function () {
  // Process starts: no limit a loaded machine could trip (a hang still ends at 5 minutes).
  this.timeout(300_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-process-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe("--json output through a pipe arrives whole, however large", () => {
    it("check-api: a 1 MB+ report", () => {
      // Prepare: 5,000 types, each losing a field in the candidate: one breaking change each (5,000).
      const types = Array.from({ length: 5000 }, (_, i) => i);
      const live = `type Query {\n${types.map((i) => `  t${i}: T${i}`).join("\n")}\n}\n${types.map((i) => `type T${i} { kept: String, removedFieldWithALongName${i}: String }`).join("\n")}`;
      const candidate = `type Query {\n${types.map((i) => `  t${i}: T${i}`).join("\n")}\n}\n${types.map((i) => `type T${i} { kept: String }`).join("\n")}`;
      fs.writeFileSync(path.join(dir, "live.graphql"), live);
      fs.writeFileSync(path.join(dir, "candidate.graphql"), candidate);
      // Act
      const r = throughSlowPipe(dir, ["check-api", "--live", "live.graphql", "--candidate", "candidate.graphql", "--json"]);
      // Assess: exit 1 (breaking), and the whole report parses.
      assert.equal(r.status, 1);
      assert.ok(r.out.length > 1_000_000, `${r.out.length} bytes`);
      const report = JSON.parse(r.out) as { compatible: boolean; changes: { category: string; type: string }[] };
      assert.equal(report.compatible, false);
      assert.equal(report.changes.filter((c) => c.category === "breaking" && c.type === "FIELD_REMOVED").length, 5000);
    });

    it("migrate plan: 600 plans", () => {
      // Prepare
      const plans = path.join(dir, "plans");
      fs.mkdirSync(plans);
      for (let i = 0; i < 600; i++) {
        const id = `${String(i).padStart(4, "0")}-rename-a-rather-long-column-name-${i}`;
        fs.writeFileSync(path.join(plans, `${id}.json`), JSON.stringify({ id, description: `rename orders.amount_${i} to orders.total_${i}`, operations: [{ op: "renameColumn", table: "orders", from: `amount_${i}`, to: `total_${i}`, type: "bigint" }] }));
      }
      // Act
      const r = throughSlowPipe(dir, ["migrate", "plan", "--dir", plans, "--json"]);
      // Assess
      assert.equal(r.status, 0);
      assert.ok(r.out.length > 200_000, `${r.out.length} bytes`);
      assert.equal((JSON.parse(r.out) as unknown[]).length, 600);
    });

    it("validate: 2,000 problems", () => {
      // Prepare
      fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
      const config = stackYaml("prod") as Record<string, Record<string, unknown>[]>;
      const base = config["remedy:services"][0];
      const services = Array.from({ length: 2000 }, (_, i) => ({ ...base, name: `svc${i}`, port: -1, routing: { paths: [`/s${i}`], priority: 10 + i } }));
      fs.writeFileSync(path.join(dir, "Pulumi.many.yaml"), yaml.dump({ config: { ...config, "remedy:services": services } }));
      // Act
      const r = throughSlowPipe(dir, ["validate", "Pulumi.many.yaml", "--json"]);
      // Assess
      assert.equal(r.status, 1);
      const report = JSON.parse(r.out) as { files: { issues: { path: string }[] }[] };
      assert.equal(report.files[0].issues.filter((i) => /^services\[\d+\]\.port$/.test(i.path)).length, 2000);
    });
  });

  it("reports a usage error before asking for AWS settings", () => {
    // Act: no --reason, and no AWS region, profile or credentials anywhere.
    const r = spawnSync(process.execPath, [REMEDY, "rollback", "payments"], { env: bareEnv(dir), encoding: "utf8" });
    // Assess
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "remedy rollback: --reason <text> is required: say why (at least 5 characters; it is recorded in release history); see `remedy rollback --help`\n");
  });

  it("names AWS_REGION / AWS_PROFILE when no region is set, and prints no AWS SDK Node version warning", () => {
    // Act
    const r = spawnSync(process.execPath, [REMEDY, "rollback", "payments", "--reason", "bad deploy of 2.4"], { env: bareEnv(dir), encoding: "utf8" });
    // Assess
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "remedy rollback: no AWS region: set AWS_REGION, or AWS_PROFILE to a profile with a region in ~/.aws/config\n");
  });

  it("words option errors itself and points at the command's help", () => {
    const cases: Array<[string[], string]> = [
      [["status", "--stak", "prod"], "remedy status: unknown option --stak; see `remedy status --help`"],
      [["drill", "payments", "--timeout"], "remedy drill: --timeout needs a value; see `remedy drill --help`"],
      [["rollback", "payments", "--force=yes", "--reason", "because"], "remedy rollback: --force takes no value; see `remedy rollback --help`"],
      [["status", "payments", "orders"], 'remedy status: unexpected argument "orders"; see `remedy status --help`'],
      [["migrate", "apply", "0001-x"], "remedy migrate: usage: remedy migrate apply <plan-id> <expand|backfill|contract>; see `remedy migrate apply --help`"],
      [["migrate", "--batch-size", "0", "status"], 'remedy migrate: --batch-size must be an integer 1..1000000, got "0"; see `remedy migrate --help`'],
      [["check-api", "--live", "a.graphql"], "remedy check-api: --live <sdl> and --candidate <sdl> are required; see `remedy check-api --help`"],
      [["frobnicate"], 'remedy: unknown command "frobnicate"; see `remedy --help`'],
      [["rehearse", "now"], 'remedy rehearse: unexpected argument "now"; see `remedy rehearse --help`'],
    ];
    for (const [args, expected] of cases) {
      const r = spawnSync(process.execPath, [REMEDY, ...args], { env: bareEnv(dir), encoding: "utf8" });
      assert.equal(r.status, 2, args.join(" "));
      assert.equal(r.stderr.trim(), expected);
    }
  });

  it("is on PATH after npm link, as docs/cli.md says: a link to this checkout's cli/remedy.js, the same program (issue 36, 11)", () => {
    // Prepare: npm's global directory is the test's own (npm_config_prefix), as ~/.local would be.
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-link-"));
    try {
      // Act
      const link = spawnSync("npm", ["link", "--no-audit", "--no-fund"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, npm_config_prefix: prefix } });
      const version = spawnSync("remedy", ["--version"], { encoding: "utf8", env: { ...process.env, PATH: `${path.join(prefix, "bin")}:${process.env.PATH ?? ""}` } });
      // Assess
      assert.equal(link.status, 0, link.stderr);
      assert.equal(fs.realpathSync(path.join(prefix, "bin", "remedy")), fs.realpathSync(REMEDY));
      assert.equal(version.status, 0, version.stderr);
      assert.equal(version.stdout, execFileSync(process.execPath, [REMEDY, "--version"], { encoding: "utf8" }));
    } finally {
      fs.rmSync(prefix, { recursive: true, force: true });
    }
  });

  it("is run as `remedy` in the docs' examples, not through npx (about 1 s more per command)", () => {
    const docs = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).map((f) => path.join("docs", f))].filter((f) => f.endsWith(".md"));
    const offenders = docs.flatMap((f) => [...fs.readFileSync(path.join(ROOT, f), "utf8").matchAll(/```[^\n]*\n([\s\S]*?)```/g)].flatMap((m) => m[1].split("\n").filter((l) => /npx (--no-install )?remedy/.test(l)).map((l) => `${f}: ${l}`)));
    assert.deepEqual(offenders, []);
  });

  it("prints its version", () => {
    const version = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    assert.equal(execFileSync(process.execPath, [REMEDY, "--version"], { encoding: "utf8" }), `remedy ${version} (node ${process.version})\n`);
    assert.deepEqual(JSON.parse(execFileSync(process.execPath, [REMEDY, "--version", "--json"], { encoding: "utf8" })), { version, node: process.version });
  });
});
