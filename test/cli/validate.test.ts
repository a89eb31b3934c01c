import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { ConfigError } from "../../core/config";
import { runRemedy } from "../helpers/cli";
import { day, lane, stackYaml } from "../helpers/fixtures";
import { recorded, settle } from "../helpers/pulumiMocks";
import { runStackEntry } from "../helpers/stackProgram";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = path.join(__dirname, "..", "..");

describe("cli: remedy validate checks stack config offline, as preview does", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-validate-"));
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Writes Pulumi.<stack>.yaml with `config`; returns its path. */
  const stackFile = (stack: string, config: Obj, text?: string): string => {
    const file = path.join(dir, `Pulumi.${stack}.yaml`);
    fs.writeFileSync(file, text ?? yaml.dump({ config }));
    return file;
  };

  /** What `pulumi preview` of the real program says about `config` (under mocks): its issues. */
  async function previewIssues(config: Obj): Promise<string[]> {
    recorded.resources.length = 0;
    try {
      await runStackEntry(config);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      await settle();
      assert.deepEqual(recorded.resources, [], "preview registered nothing");
      return err.issues.map((i) => `${i.path}: ${i.message}`);
    }
    assert.fail("preview accepted the config");
  }

  it("passes the project's own stack files (prod and hotfix), every file of the directory by default", async () => {
    // Act
    const cwd = process.cwd();
    process.chdir(ROOT);
    let r;
    try {
      r = await runRemedy(["validate", "--json"]);
    } finally {
      process.chdir(cwd);
    }
    // Assess
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as { valid: boolean; files: { file: string; kind: string; valid: boolean }[] };
    assert.deepEqual(
      report.files.map((f) => [f.file, f.kind, f.valid]),
      [
        ["Pulumi.hotfix.yaml", "hotfix", true],
        ["Pulumi.prod.yaml", "prod", true],
        // The staging stack is the same program (issue 38, 1).
        ["Pulumi.staging.yaml", "prod", true],
      ],
    );
  });

  it("names a service's legacy lanes when valid, and refuses a lane past its sunset as preview does, with the same message (issue 37, 2)", async () => {
    const config = structuredClone(stackYaml("prod")) as Obj;
    config["remedy:services"][0].legacy = [lane()];
    const ok = await runRemedy(["validate", stackFile("lanes", config)]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, new RegExp(`Pulumi\\.lanes\\.yaml: valid stack config \\(3 service\\(s\\), 1 ALB group\\(s\\), 1 legacy lane\\(s\\): payments v1\\.9\\.4 until ${day(80)}; takes releases only from organization/remedy/staging \\(soak 1440 min, 1 approval\\(s\\)\\)\\)`));
    config["remedy:services"][0].legacy = [lane({ deprecatedAt: day(-100), sunsetAt: day(-1) })];
    const late = await runRemedy(["validate", stackFile("late", config)]);
    assert.equal(late.code, 1);
    const message = `services[0].legacy[0].sunsetAt: ${day(-1)} has passed: retire the lane (remedy retire, once its retirement gate allows) or record an extension { until, reason }`;
    assert.ok(late.out.includes(message), late.out);
    assert.ok((await previewIssues(config)).includes(message), "preview says the same");
  });

  it("refuses a misspelled top-level key with did-you-mean, and so does preview, with the same message", async () => {
    // Prepare: remedy:rollback written as remedy:rolback (its on-call emails would be dropped).
    const config = stackYaml("prod");
    const misspelled = Object.fromEntries(Object.entries(config).map(([k, v]) => [k === "remedy:rollback" ? "remedy:rolback" : k, v]));
    const file = stackFile("typo", misspelled);
    // Act
    const r = await runRemedy(["validate", file]);
    const preview = await previewIssues(misspelled);
    // Assess
    assert.equal(r.code, 1);
    const expected = "remedy:rolback: unknown key, so its settings would be ignored; did you mean remedy:rollback?";
    assert.equal(r.out, `${file}: invalid (1 problem):\n  - ${expected}`);
    assert.deepEqual(preview, [expected]);
  });

  it("lists every schema problem with the key path, the value found and the fix, exactly as preview does", async () => {
    // Prepare
    const config = stackYaml("prod") as Obj;
    const services = structuredClone(config["remedy:services"]) as Obj[];
    services[2].candidate = { weight: 140 };
    services[1].port = "3000";
    services[0].stikinessSeconds = 60;
    const bad = { ...config, "remedy:services": services };
    const file = stackFile("bad", bad);
    // Act
    const cwd = process.cwd();
    process.chdir(dir);
    let cwdRun;
    try {
      cwdRun = await runRemedy(["validate", "--stack", "bad", "--json"]);
    } finally {
      process.chdir(cwd);
    }
    const preview = await previewIssues(bad);
    // Assess
    assert.equal(cwdRun.code, 1, cwdRun.err);
    const report = JSON.parse(cwdRun.out) as { files: { file: string; issues: { path: string; message: string }[] }[] };
    assert.equal(report.files[0].file, "Pulumi.bad.yaml");
    assert.deepEqual(report.files[0].issues.map((i) => `${i.path}: ${i.message}`), preview);
    assert.deepEqual(preview, [
      'services[0].stikinessSeconds: unknown key; did you mean "stickinessSeconds"?',
      'services[1].port: must be the container port the service listens on, an integer 1..65535, got "3000"',
      "services[2].candidate.weight: must be an integer 0..100, got 140",
    ]);
    assert.ok(fs.existsSync(file));
  });

  it("refuses a plain-text test route value and accepts an encrypted one, checking the encrypted file by shape", async () => {
    // Prepare
    const config = stackYaml("prod") as Obj;
    const services = structuredClone(config["remedy:services"]) as Obj[];
    services[0].testRoute = { priority: 5, value: "9f86d081884c7d659a2feaa0c55ad015" };
    const plain = stackFile("plain", { ...config, "remedy:services": services });
    services[0].testRoute = { priority: 5, value: { secure: "v1:Qm9ndXM=:c2VjcmV0IGNpcGhlcnRleHQ=" } };
    const secure = stackFile("secure", { ...config, "remedy:services": services });
    // Act
    const refused = await runRemedy(["validate", plain]);
    const accepted = await runRemedy(["validate", secure]);
    // Assess
    assert.equal(refused.code, 1);
    assert.match(refused.out, /services\[0\]\.testRoute\.value: is in plain text in the stack's config; set it as a secret: pulumi config set --secret --path 'remedy:services\[0\]\.testRoute\.value'/);
    assert.equal(accepted.code, 0, accepted.out);
    assert.match(accepted.out, /valid stack config \(3 service\(s\), 1 ALB group\(s\); takes releases only from organization\/remedy\/staging \(soak 1440 min, 1 approval\(s\)\); 1 encrypted value\(s\) checked by shape only\)/);
  });

  it("reports YAML errors with file, line and column, and a wholly encrypted section it cannot check (exit 2)", async () => {
    // Prepare
    const broken = stackFile("broken", {}, "config:\n  remedy:kubernetes:\n    cluster: a\n   bad: [\n");
    const sealed = stackFile("sealed", { ...stackYaml("prod"), "remedy:services": { secure: "v1:abc" } });
    // Act
    const a = await runRemedy(["validate", broken]);
    const b = await runRemedy(["validate", sealed]);
    // Assess
    assert.equal(a.code, 2);
    assert.match(a.err, new RegExp(`^remedy validate: ${broken.replace(/[.]/g, "\\.")}:4:\\d+: not valid YAML: `));
    assert.equal(b.code, 2);
    assert.match(b.err, /remedy:services is one encrypted value, so its structure cannot be checked offline; set secrets inside it with `pulumi config set --secret --path/);
  });

  it("names AWS quotas the config exceeds, as preview does", async () => {
    // Prepare: 60 services on one ALB (100 target groups per ALB: 50 services at most).
    const config = stackYaml("prod") as Obj;
    const base = (config["remedy:services"] as Obj[])[0];
    const services = Array.from({ length: 60 }, (_, i) => ({ ...structuredClone(base), name: `svc${i}`, routing: { paths: [`/s${i}`], priority: 10 + i } }));
    const file = stackFile("big", { ...config, "remedy:services": services });
    // Act
    const r = await runRemedy(["validate", file]);
    // Assess
    assert.equal(r.code, 1);
    assert.match(r.out, /quota Target groups per Application Load Balancer \(not adjustable\): 120 > 100 in ingress group default \(60 services\); .*move services to another ingress group/);
  });
});
