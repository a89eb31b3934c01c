import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { HELP, USAGE } from "../../cli/main";
import { runRemedy } from "../helpers/cli";

describe("cli: every remedy command and subcommand answers --help with exit 0", () => {
  const commands = [...USAGE.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]);
  const subcommands = [...HELP.migrate.matchAll(/^ {2}(plan|status|apply|check|abort)\b/gm)].map((m) => `migrate ${m[1]}`);

  it("documents each command USAGE lists, and each migrate subcommand", () => {
    assert.deepEqual(commands, ["status", "history", "rollback", "promote", "abort", "drill", "wait", "confirm-subscription", "versions", "retire", "promote-env", "approve", "block", "unblock", "validate", "check-api", "rehearse", "migrate"]);
    assert.deepEqual(subcommands, ["migrate plan", "migrate status", "migrate apply", "migrate check", "migrate abort"]);
    for (const c of [...commands, ...subcommands]) assert.ok(HELP[c], `help for ${c}`);
  });

  for (const c of ["status", "history", "rollback", "drill", "wait", "confirm-subscription", "versions", "retire", "promote-env", "approve", "block", "unblock", "promote", "abort", "rehearse", "validate", "check-api", "migrate", "migrate plan", "migrate status", "migrate apply", "migrate check", "migrate abort"]) {
    it(`remedy ${c} --help`, async () => {
      // Prepare: no AWS, no database: help must need neither.
      const saved = process.env.DATABASE_URL;
      delete process.env.DATABASE_URL;
      try {
        // Act
        const r = await runRemedy([...c.split(" "), "--help"]);
        // Assess
        assert.equal(r.code, 0, r.err);
        assert.ok(r.out.startsWith(`usage: remedy ${c}`), r.out.split("\n")[0]);
        assert.match(r.out, /exit codes: 0 /);
        assert.equal(r.err, "");
      } finally {
        if (saved !== undefined) process.env.DATABASE_URL = saved;
      }
    });
  }

  it("answers -h the same way, as a real process", function () {
    this.timeout(300_000); // a process start: no limit a loaded machine could trip
    const r = spawnSync(process.execPath, [path.join(__dirname, "..", "..", "cli", "remedy.js"), "migrate", "abort", "-h"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), HELP["migrate abort"]);
  });
});
