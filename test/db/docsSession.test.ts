/**
 * docs/database.md's way to try a migration (issue 36, 9), as a reader follows it: the one
 * command for a throwaway PostgreSQL (`npm run postgres`'s script, started as a process), then
 * the ```sh migrate-session lines in order, each through bash with `remedy` on PATH and the
 * DATABASE_URL that command printed, each with the exit code its comment names (else 0).
 */
import { strict as assert } from "node:assert";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { REMEDY, ROOT, splitComment } from "../helpers/docSession";

const DOC = path.join(ROOT, "docs", "database.md");

/** The session's command lines, each with the exit code its comment names. */
function session(): { line: string; exit: number }[] {
  const m = /```sh migrate-session\n([\s\S]*?)\n```/.exec(fs.readFileSync(DOC, "utf8"));
  assert.ok(m, "docs/database.md has the ```sh migrate-session block");
  return m[1].split("\n").map((l) => {
    const [line, comment] = splitComment(l);
    return { line: line.trim(), exit: Number(/^\s*exit (\d+)/.exec(comment)?.[1] ?? 0) };
  });
}

describe("docs/database.md: a throwaway PostgreSQL in one command, and the migration session on it (issue 36, 9)", function () {
  // Process starts and a real cluster: no limit a loaded machine could trip.
  this.timeout(300_000);
  let server: ChildProcess;
  let banner = "";
  let url = "";
  let exited: Promise<number | null>;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-docs-db-"));

  before(async () => {
    const script = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.postgres;
    assert.ok(/npm run postgres/.test(fs.readFileSync(DOC, "utf8")) && script, "the doc's command is a package script");
    server = spawn("bash", ["-c", `exec ${script}`], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    server.stdout?.on("data", (d: Buffer) => (banner += d.toString()));
    server.stderr?.on("data", (d: Buffer) => (banner += d.toString()));
    exited = new Promise((r) => server.on("exit", r));
    while (!/Ctrl-C here/.test(banner)) {
      if (server.exitCode !== null) assert.fail(`npm run postgres exited ${server.exitCode}: ${banner}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    url = /export DATABASE_URL=(\S+)/.exec(banner)?.[1] ?? "";
    fs.mkdirSync(path.join(tmp, "bin"));
    fs.symlinkSync(REMEDY, path.join(tmp, "bin", "remedy"));
  });
  after(async () => {
    if (server?.exitCode === null) server.kill("SIGINT");
    await exited;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("starts it with the sample table and says what to export", async () => {
    assert.match(url, /^postgres:\/\/remedy@127\.0\.0\.1:\d+\/remedy$/);
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      assert.equal((await c.query("SELECT count(*)::int AS n FROM payments")).rows[0].n, 1000);
    } finally {
      await c.end();
    }
  });

  it("runs every line of the session with the exit code the doc names, ending with the refactoring applied", () => {
    const lines = session();
    assert.match(lines[0].line, /^export DATABASE_URL=/);
    const results: string[] = [];
    for (const { line, exit } of lines.slice(1)) {
      const r = spawnSync("bash", ["-c", line], { cwd: ROOT, encoding: "utf8", env: { ...process.env, DATABASE_URL: url, PATH: `${path.join(tmp, "bin")}:${process.env.PATH ?? ""}` } });
      if (r.status !== exit) results.push(`${line}\n  exit ${r.status}, the doc says ${exit}: ${r.stdout}${r.stderr}`);
      if (/migrate plan$/.test(line)) assert.match(r.stdout, /^ {2}expand \(pending\): add payments\.amount_minor beside amount/m, "plan shows the steps and where each stands");
      if (/contract$/.test(line) && exit === 1) assert.match(r.stderr, /refused|rollback window/);
      if (/migrate status$/.test(line)) assert.equal(r.stdout.trim().split("\n")[0], "applied: 0001-rename-payments-amount:expand, 0001-rename-payments-amount:backfill, 0001-rename-payments-amount:contract");
    }
    assert.deepEqual(results, []);
  });

  it("stops and removes it on Ctrl-C", async () => {
    server.kill("SIGINT");
    assert.equal(await exited, 0, banner);
    assert.match(banner, /stopped and removed/);
  });
});
