/**
 * docs/pipelines.md (issue 36, 2): the workflow is valid YAML with the documented steps in order,
 * and every `remedy` command in it and in the shell version takes the options it is given. Each
 * runs through the CLI with AWS and the database pointed at nothing: a usage error would say
 * "see `remedy <command> --help`"; past the parser it fails on the environment, or passes (the
 * offline checks), which is what a parsed command line does.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { freePort } from "../../cli/rehearsal/moto";
import { runRemedy } from "../helpers/cli";

const DOC = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "pipelines.md"), "utf8");
const block = (tag: string) => {
  const m = new RegExp("```" + tag + "\\n([\\s\\S]*?)\\n```").exec(DOC);
  if (!m) throw new Error(`docs/pipelines.md has no \`\`\`${tag} block`);
  return m[1];
};

/** Every `node cli/remedy.js ...` command line in `text`, with $SERVICES and quotes resolved. */
function remedyCommands(text: string, services: string): string[][] {
  return [...text.matchAll(/node cli\/remedy\.js ([^;&|\n]+)/g)].map((m) =>
    m[1]
      .replace(/\$SERVICES/g, services)
      .replace(/"\$s"/g, services.split(" ")[0])
      .trim()
      .split(/\s+/),
  );
}

describe("docs/pipelines.md: the workflow and the shell steps", function () {
  this.timeout(120_000);

  it("is a workflow GitHub Actions can read: the steps in order, the wait after the deploy, the report on failure", () => {
    const wf = yaml.load(block("yaml pipeline-workflow")) as { on: unknown; jobs: Record<string, { "runs-on": string; env: Record<string, string>; steps: { name?: string; uses?: string; run?: string; if?: string }[] }> };
    assert.ok(wf.on && wf.jobs.release, "a release job triggered on push");
    const steps = wf.jobs.release.steps;
    const named = steps.filter((s) => s.name).map((s) => s.name);
    assert.deepEqual(named, ["Install", "Check the stack config offline", "Check the API against the live schema and known client operations", "Expand the schema (out of band, before the code that needs it)", "Deploy", "Wait for the releases", "Show what happened"]);
    assert.match(steps.find((s) => s.name === "Deploy")?.run ?? "", /pulumi up --yes --stack prod && pulumi stack output --json --stack prod > outputs\.json/);
    assert.match(steps.find((s) => s.name === "Wait for the releases")?.run ?? "", /remedy\.js wait \$SERVICES --outputs outputs\.json/);
    assert.equal(steps.find((s) => s.name === "Show what happened")?.if, "failure()");
    for (const s of steps) assert.ok((s.uses === undefined) !== (s.run === undefined), `${s.name ?? s.uses}: exactly one of uses and run`);
  });

  it("staging to prod: a scheduled workflow whose one step runs the promotion script, the script's steps in order", () => {
    const wf = yaml.load(block("yaml pipeline-promotion-workflow")) as { on: { schedule?: unknown[] }; permissions: Record<string, string>; concurrency: string; jobs: Record<string, { "timeout-minutes": number; steps: { name?: string; run?: string }[] }> };
    assert.ok(Array.isArray(wf.on.schedule) && wf.on.schedule.length === 1, "on a schedule");
    assert.equal(wf.permissions.contents, "write", "it commits the promoted versions");
    assert.equal(wf.concurrency, "release-prod", "never beside the prod release");
    assert.ok(wf.jobs.promote["timeout-minutes"] <= 360, "within a GitHub-hosted job's 6 hours");
    assert.deepEqual(wf.jobs.promote.steps.filter((s) => s.name).map((s) => [s.name, s.run]), [["Install", "npm ci"], ["Promote what soaked in staging", "bash scripts/promote-to-prod.sh"]]);
    const script = block("sh pipeline-promotion").split("\n");
    const order = [/remedy\.js wait \$SERVICES --until promotable --from staging --to prod --timeout 3000/, /"\$code" -eq 5 .*exit 0/, /promote-env "\$s" --from staging --to prod --explain/, /promote-env "\$s" --from staging --to prod --write/, /git .*commit -am/, /^pulumi up --yes --stack prod$/, /remedy\.js wait \$SERVICES --outputs outputs\.json --stack prod/];
    let at = -1;
    for (const re of order) {
      const i = script.findIndex((l, n) => n > at && re.test(l));
      assert.ok(i > at, `${re} after line ${at + 1}`);
      at = i;
    }
  });

  it("passes each promotion command line the CLI's own parser accepts, where prod's stack file has a policy", async () => {
    const lines = remedyCommands(block("sh pipeline-promotion"), "payments orders");
    assert.deepEqual([...new Set(lines.map((l) => l[0]))].sort(), ["promote-env", "wait"]);
    // Prod's stack file with the release guide's policy, in a directory of its own.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-pipeline-promotion-"));
    const guide = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "release-guide.md"), "utf8");
    const policy = yaml.load(/```yaml remedy-config\n(remedy:promotion:[\s\S]*?)\n```/.exec(guide)?.[1] ?? "") as Record<string, unknown>;
    const prod = yaml.load(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.prod.yaml"), "utf8")) as { config: Record<string, unknown> };
    fs.writeFileSync(path.join(dir, "Pulumi.prod.yaml"), yaml.dump({ config: { ...prod.config, ...policy } }));
    fs.symlinkSync(path.join(__dirname, "..", "..", "api"), path.join(dir, "api"));
    fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify({ services: { payments: { release: { releaseId: "green:v2.4.0:17" } }, orders: { release: { releaseId: "blue:v1.9.0:4" } } } }));
    const saved = { ...process.env };
    const cwd = process.cwd();
    Object.assign(process.env, { AWS_ENDPOINT_URL: `http://127.0.0.1:${await freePort()}`, AWS_REGION: "eu-west-1", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "y", AWS_MAX_ATTEMPTS: "1" });
    process.chdir(dir);
    try {
      for (const argv of lines) {
        const r = await runRemedy(argv);
        assert.doesNotMatch(`${r.out}\n${r.err}`, /see `remedy [a-z -]+--help`/, `remedy ${argv.join(" ")}: ${r.err}`);
        assert.equal(r.code, 2, `remedy ${argv.join(" ")}: past the parser, AWS is unreachable: ${r.out}${r.err}`);
        assert.match(r.err, /nothing answers at AWS_ENDPOINT_URL/, r.err);
      }
    } finally {
      process.chdir(cwd);
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("passes each remedy command line the CLI's own parser accepts", async () => {
    const services = "payments orders";
    const lines = [...remedyCommands(block("yaml pipeline-workflow"), services), ...remedyCommands(block("sh pipeline-shell"), services)];
    assert.deepEqual([...new Set(lines.map((l) => l[0]))].sort(), ["check-api", "history", "migrate", "status", "validate", "wait"]);
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ENDPOINT_URL: `http://127.0.0.1:${await freePort()}`, AWS_REGION: "eu-west-1", AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "y", DATABASE_URL: `postgres://nobody@127.0.0.1:${await freePort()}/none` });
    // What `pulumi stack output --json > outputs.json` writes, for the wait.
    const outputs = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "remedy-pipeline-")), "outputs.json");
    fs.writeFileSync(outputs, JSON.stringify({ services: { payments: { release: { releaseId: "green:v2.4.0:17" } }, orders: { release: { releaseId: "blue:v1.9.0:4" } } } }));
    try {
      for (const argv of lines) {
        const r = await runRemedy(argv.map((a) => (a === "outputs.json" ? outputs : a)));
        assert.doesNotMatch(`${r.out}\n${r.err}`, /see `remedy [a-z -]+--help`/, `remedy ${argv.join(" ")}: ${r.err}`);
        // An unreachable database is one line naming it (no stack trace, no password).
        if (argv[0] === "migrate") assert.match(r.err, /^remedy migrate: cannot use the database at postgres:\/\/nobody@127\.0\.0\.1:\d+\/none: .*ECONNREFUSED.* \(is it up, and is DATABASE_URL right\?\)$/);
      }
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
