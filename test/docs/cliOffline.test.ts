/**
 * docs/cli.md's offline examples (```console offline: `remedy validate`) are real output
 * (issue 36, 3): run through the built binary in a directory holding the repository's stack files
 * and the typo'd copy the doc names, compared with what the doc shows (test/helpers/docSession.ts).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT, difference, readSession, runCommand, type Ran, writeSession } from "../helpers/docSession";

describe("docs/cli.md: the offline examples print what the doc shows", function () {
  this.timeout(120_000);

  it("validate: the repository's stack files, and a copy with a typo'd key", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-offline-"));
    try {
      for (const f of ["Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.hotfix.yaml"]) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
      const prod = fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8");
      assert.match(prod, /^ {2}remedy:rollback:$/m);
      const session = readSession(path.join(ROOT, "docs", "cli.md"), "offline");
      const ran: Ran[] = [];
      const problems: string[] = [];
      for (const c of session.commands) {
        // The typo'd copy exists for the command that names it (`remedy validate` alone checks every stack file there).
        if (c.line.includes("Pulumi.typo.yaml")) fs.writeFileSync(path.join(dir, "Pulumi.typo.yaml"), prod.replace(/^ {2}remedy:rollback:$/m, "  remedy:rolback:"));
        const r = runCommand(c.line, dir, { ...process.env, AWS_REGION: "", AWS_PROFILE: "" });
        ran.push(r);
        const d = difference(c, r);
        if (d) problems.push(`$ ${c.line}\n${d}`);
      }
      if (process.env.REMEDY_WRITE_DOCS === "1") writeSession(session, ran);
      assert.deepEqual(problems, [], "rerun with REMEDY_WRITE_DOCS=1 to write the real output into docs/cli.md, and read it");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
