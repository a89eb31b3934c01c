/**
 * `remedy rehearse --stop` signals only the keeper that wrote the state file, from a directory of
 * the user's own (issue 35, 17): not a pid reused since, not a file in a directory others can
 * write. TMPDIR points at a fresh directory per test.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { processStart, stateDir, stateFile, stop } from "../../cli/rehearsal/keep";

describe("cli/rehearsal/keep: the kept rehearsal's state file (issue 35, 17)", () => {
  let tmp: string;
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.TMPDIR;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "keep-"));
    process.env.TMPDIR = tmp;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("keeps its state in a 0700 directory of the user's, and refuses one others can write", () => {
    const dir = stateDir();
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.ok(dir.startsWith(tmp));
    fs.chmodSync(dir, 0o777);
    assert.throws(() => stateDir(), /is not a private directory of this user .*mode 777/);
  });

  it("does not signal a pid that another process has since (its start time differs), and cleans up", () => {
    // This test's own process, recorded with another start time: a reused pid.
    fs.writeFileSync(stateFile(), JSON.stringify({ pid: process.pid, started: "1", endpoint: "http://127.0.0.1:1" }), { mode: 0o600 });
    let signalled = false;
    const onTerm = () => (signalled = true);
    process.once("SIGTERM", onTerm);
    const errs: string[] = [];
    const code = stop(() => undefined, (s) => errs.push(s));
    process.removeListener("SIGTERM", onTerm);
    assert.equal(code, 0);
    assert.equal(signalled, false);
    assert.match(errs.join("\n"), /that pid is another process now; not signalled/);
    assert.equal(fs.existsSync(stateFile()), false);
    assert.ok(processStart(process.pid), "this platform tells a process's start time");
  });

  it("says there is none without a state file", () => {
    const errs: string[] = [];
    assert.equal(stop(() => undefined, (s) => errs.push(s)), 2);
    assert.match(errs[0] ?? "", /no kept rehearsal of this user/);
  });
});
