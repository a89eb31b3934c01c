/**
 * `remedy rehearse --keep` as an operator meets it (issue 36, 2 and 3), through the built binary:
 * the rehearsal is left with a release promoted inside its rollback window (payments), one paused
 * before full (orders) and one at 10% (catalog); the keeper runs the driver's schedule and the
 * alarm actions. Every command its banner suggests and docs/cli.md's session shows is run, in
 * the doc's order, and must print what the doc shows (times, durations and ports aside) with the
 * exit code it names. Then docs/pipelines.md's shell steps run against it with `pulumi` standing
 * for the rehearsal's last up: a promoted release passes, an aborted one fails with wait's code.
 */
import { strict as assert } from "node:assert";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT, REMEDY, difference, normalize, readSession, runCommand, splitComment, type Ran, writeSession } from "../helpers/docSession";
import { startPostgres, type PostgresServer } from "../helpers/postgres";
import { Pool } from "pg";

const CLI_MD = path.join(ROOT, "docs", "cli.md");
const PIPELINES_MD = path.join(ROOT, "docs", "pipelines.md");

/** This process's environment without any AWS setting: the banner's exports must be all it takes. */
const withoutAws = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_") && k !== "DATABASE_URL"));

describe("remedy rehearse --keep: every command its banner and docs/cli.md name, through the built binary (issue 36, 3)", function () {
  // A rehearsal and a dozen process starts: no limit a loaded machine could trip.
  this.timeout(600_000);
  let tmp: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let keeper: ChildProcess;
  let banner = "";
  let exited: Promise<number | null>;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-kept-"));
    work = path.join(tmp, "work");
    fs.mkdirSync(path.join(tmp, "state"));
    fs.mkdirSync(work);
    const base = { ...withoutAws(), TMPDIR: path.join(tmp, "state") };
    // From another directory: the bundle finds the repository's stack file and Lambda sources itself.
    keeper = spawn(process.execPath, [REMEDY, "rehearse", "--keep"], { cwd: work, env: base, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    keeper.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    keeper.stderr?.on("data", (d: Buffer) => (banner += d.toString()));
    exited = new Promise((resolve) => keeper.on("exit", resolve));
    const ready = await Promise.race([
      new Promise<boolean>((resolve) => keeper.stderr?.on("data", () => banner.includes("Ctrl-C here") && resolve(true))),
      exited.then(() => false),
    ]);
    assert.ok(ready, `remedy rehearse --keep ended before handing over:\n${out}\n${banner}`);
    assert.match(out, /verdict: PASS/);
    assert.match(out, /ok {4}kept: pulumi up #7 .*payments v2\.3\.6 promoted \(rollback window open\), orders v5\.9\.0 paused before full, catalog 2026\.12\.1 at 10%/);
    // The legacy lane's pods tell callers (issue 37, 4): RFC 9745 and RFC 8594 forms, and the link.
    assert.match(out, /ok {4}kept: legacy lane .*payments v2\.2\.9 for \/v1 callers answers with Deprecation: @\d{10}, Sunset: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} 00:00:00 GMT, Link: <https:\/\/docs\.example\.com\/payments\/v1-sunset>; rel="deprecation"/);
    const exports = Object.fromEntries([...banner.matchAll(/^ {2}export (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    assert.deepEqual(Object.keys(exports).sort(), ["AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_SECRET_ACCESS_KEY"]);
    env = { ...base, ...exports };
    // What the banner names as the stack's outputs, where the doc's session expects it.
    const outputs = /are in (\S+outputs\.json)\. In another shell/.exec(banner)?.[1];
    assert.ok(outputs && fs.existsSync(outputs), banner);
    fs.copyFileSync(outputs, path.join(work, "outputs.json"));
  });

  const stop = () => spawnSync(process.execPath, [REMEDY, "rehearse", "--stop"], { env: { ...withoutAws(), TMPDIR: path.join(tmp, "state") }, encoding: "utf8" });
  after(async () => {
    if (keeper && keeper.exitCode === null) stop();
    await exited;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("suggests in its banner only commands docs/cli.md's session shows, and the session covers every operator command", () => {
    const session = readSession(CLI_MD, "kept-rehearsal");
    const suggested = [...banner.matchAll(/^ {2}(remedy .*)$/gm)].map((m) => normalize(splitComment(m[1])[0]));
    assert.ok(suggested.length >= 8, banner);
    const shown = new Set(session.commands.map((c) => normalize(c.line)));
    for (const s of suggested) assert.ok(shown.has(s), `the banner suggests \`${s}\`, which docs/cli.md's session does not show`);
    const verbs = new Set(session.commands.map((c) => c.line.split(" ")[1]));
    for (const v of ["status", "history", "wait", "drill", "promote", "rollback", "abort", "versions"]) assert.ok(verbs.has(v), `the session tries remedy ${v}`);
  });

  it("runs docs/cli.md's session in order: each command prints what the doc shows, with its exit code", () => {
    const session = readSession(CLI_MD, "kept-rehearsal");
    const ran: Ran[] = [];
    const problems: string[] = [];
    for (const c of session.commands) {
      const r = runCommand(c.line, work, env);
      ran.push(r);
      const d = difference(c, r);
      if (d) problems.push(`$ ${c.line}\n${d}`);
    }
    if (process.env.REMEDY_WRITE_DOCS === "1") writeSession(session, ran);
    assert.deepEqual(problems, [], "rerun with REMEDY_WRITE_DOCS=1 to write the real output into docs/cli.md, and read it");
    // What a person would check beyond the text: the page was written.
    assert.match(fs.readFileSync(path.join(work, "payments.html"), "utf8"), /<svg/);
  });

  describe("docs/pipelines.md's shell steps against it (issue 36, 2)", () => {
    let pg: PostgresServer;
    let bin: string;
    before(async () => {
      pg = await startPostgres();
      const db = new Pool({ connectionString: pg.url });
      await db.query("CREATE TABLE payments (id bigserial PRIMARY KEY, currency text NOT NULL, amount bigint NOT NULL)");
      await db.end();
      // A checkout for the script (it writes outputs.json where it runs).
      const checkout = path.join(tmp, "checkout");
      fs.mkdirSync(checkout);
      for (const f of ["cli", "dist", "node_modules", "api", "migrations", "package.json", "Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.hotfix.yaml"]) fs.symlinkSync(path.join(ROOT, f), path.join(checkout, f));
      // `pulumi` stands for the rehearsal's last up: `up` did already happen, `stack output` is its outputs.
      bin = path.join(tmp, "bin");
      fs.mkdirSync(bin);
      fs.writeFileSync(
        path.join(bin, "pulumi"),
        ['#!/bin/bash', 'case "$1 $2" in', '  "up --yes") echo "pulumi up: the kept rehearsal\'s pulumi up #7 stands for this one";;', `  "stack output") cat '${path.join(work, "outputs.json")}';;`, '  *) echo "pulumi stand-in: $*: not this" >&2; exit 2;;', "esac", ""].join("\n"),
        { mode: 0o755 },
      );
    });
    after(async () => pg?.stop());

    const script = (services: string) => {
      const m = /```sh pipeline-shell\n([\s\S]*?)\n```/.exec(fs.readFileSync(PIPELINES_MD, "utf8"));
      assert.ok(m, "docs/pipelines.md has the shell steps");
      assert.match(m[1], /^SERVICES="payments orders"$/m);
      return m[1].replace(/^SERVICES=.*$/m, `SERVICES="${services}"`).replace(/--timeout 3600/g, "--timeout 3600 --interval 1");
    };
    const runScript = (services: string) => {
      const r = spawnSync("bash", ["-c", script(services)], { cwd: path.join(tmp, "checkout"), env: { ...env, PATH: `${bin}:${process.env.PATH ?? ""}`, DATABASE_URL: pg.url }, encoding: "utf8" });
      return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
    };

    it("passes for a promoted release (orders, promoted during the session): exit 0", () => {
      const r = runScript("orders");
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /Pulumi\.prod\.yaml: valid stack config \(3 service\(s\), 1 ALB group\(s\); takes releases only from organization\/remedy\/staging/);
      assert.match(r.out, /applied: 0001-rename-payments-amount:expand/);
      assert.match(r.out, /orders {2}promoted {7}blue:v5\.9\.0:1/);
      assert.doesNotMatch(r.out, /REV {2}WHEN/, "no report when it passed");
    });

    it("fails with wait's code for a release the session aborted (catalog), after showing its status and history", () => {
      const r = runScript("catalog");
      assert.equal(r.code, 3, r.out);
      assert.match(r.out, /catalog {2}rolled-back/);
      assert.match(r.out, /catalog \(stack prod\): rolled-back/, "status <service> on failure");
      assert.match(r.out, /catalog: \d+ changes[\s\S]*roll-back[\s\S]*release aborted: trying abort/, `history on failure, with the reason:\n${r.out}`);
    });
  });

  // Last: mocha runs a suite's own tests before its nested suites, so this is a suite too.
  describe("remedy rehearse --stop", () => {
    it("ends it: the keeper stops the emulator, and a second --stop finds none", async () => {
      const r = stop();
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /asked the kept rehearsal \(pid \d+, http:\/\/127\.0\.0\.1:\d+\) to stop/);
      assert.equal(await exited, 0, banner);
      assert.match(banner, /remedy rehearse: stopped the emulator/);
      const again = stop();
      assert.deepEqual([again.status, /no kept rehearsal/.test(again.stderr)], [2, true]);
      // The exports still set: commands say the rehearsal is gone (issue 36, 10).
      const gone = runCommand("remedy status", work, env);
      assert.equal(gone.code, 2);
      assert.match(gone.output.join("\n"), /rehearse/);
    });
  });
});
