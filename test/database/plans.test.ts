import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { JsonTextError, lineColumn, parseJson } from "../../core/jsonText";
import { PlanInputError, loadPlans, readWindow } from "../../database/plans";
import { runRemedy } from "../helpers/cli";

describe("database/plans: plan files and the rollback window, read with their errors located", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-plans-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("names file, line and column of a plan that is not valid JSON", () => {
    // Prepare: a missing comma on line 5.
    const file = path.join(dir, "0001-x.json");
    fs.writeFileSync(file, '{\n  "id": "0001-x",\n  "description": "d",\n  "operations": [\n    { "op": "renameColumn" "table": "x" }\n  ]\n}\n');
    // Act + Assess
    assert.throws(() => loadPlans(dir), (err: Error) => err instanceof PlanInputError && err.message === `${file}:5:28: not valid JSON: Expected ',' or '}' after property value`);
  });

  it("places errors by offset, at the end for truncated text, and keeps V8's own line/column form", () => {
    assert.deepEqual(lineColumn("ab\ncd\nef", 4), { line: 2, column: 2 });
    assert.throws(() => parseJson('{"a": ', "t.json"), (e: Error) => e instanceof JsonTextError && e.line === 1 && e.column === 7 && e.message === "t.json:1:7: not valid JSON: Unexpected end of JSON input");
    assert.throws(() => parseJson("[1,\n 2,,3]", "u.json"), (e: Error) => e instanceof JsonTextError && e.line === 2 && e.column === 4 && e.message === "u.json:2:4: not valid JSON: Unexpected token ','");
    assert.deepEqual(parseJson('{"a": [1]}', "ok.json"), { a: [1] });
  });

  it("locates a rollback window that is not valid JSON, by file or in REMEDY_ROLLBACK_WINDOW", () => {
    const file = path.join(dir, "window.json");
    fs.writeFileSync(file, '[{"service": "payments",\n  "version": 2.4}');
    assert.throws(() => readWindow(file), (e: Error) => e instanceof PlanInputError && e.message.startsWith(`the rollback window: ${file}:2:18: not valid JSON: `));
  });

  it("remedy migrate plan says so when the directory has no plans", async () => {
    // Act
    const text = await runRemedy(["migrate", "plan", "--dir", dir]);
    const json = await runRemedy(["migrate", "plan", "--dir", dir, "--json"]);
    // Assess
    assert.equal(text.code, 0);
    assert.equal(text.out, "");
    assert.equal(text.err, `remedy migrate: no plans in ${dir} (a plan is a <id>.json file there; see docs/database.md)`);
    assert.equal(json.out, "[]");
  });
});
