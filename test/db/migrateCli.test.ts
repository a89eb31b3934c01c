import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runRemedy } from "../helpers/cli";
import { postgresSuite } from "../helpers/postgres";

describe("cli: remedy migrate against a real PostgreSQL", function () {
  this.timeout(60_000);
  const suite = postgresSuite();

  before(async () => {
    await suite.db.query("CREATE TABLE payments (id bigserial PRIMARY KEY, currency text NOT NULL, amount bigint NOT NULL)");
    await suite.db.query("INSERT INTO payments (currency, amount) SELECT 'EUR', g FROM generate_series(1, 5000) g");
  });

  it("applies the shipped plan phase by phase, reports progress, and refuses contract while v2.3.0 is in the rollback window", async () => {
    const id = "0001-rename-payments-amount";
    const expand = await runRemedy(["migrate", "apply", id, "expand"]);
    assert.equal(expand.code, 0, expand.err);
    assert.match(expand.out, /^applied: 0001-rename-payments-amount:expand\npending: 0001-rename-payments-amount:backfill, 0001-rename-payments-amount:contract$/);
    const backfill = await runRemedy(["migrate", "apply", id, "backfill", "--batch-size", "1000"]);
    assert.equal(backfill.code, 0, backfill.err);
    assert.match(backfill.err, /copy payments\.amount into amount_minor: 5000\/5000 rows \(100%\), \d+ rows\/s/);

    const window = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "remedy-window-")), "window.json");
    fs.writeFileSync(window, JSON.stringify([{ service: "payments", version: "v2.3.0", role: "previous", columns: ["payments.amount"] }]));
    const refused = await runRemedy(["migrate", "apply", id, "contract", "--window", window, "--json"]);
    assert.equal(refused.code, 1);
    assert.match(JSON.parse(refused.err).message as string, /drops payments\.amount, still used by payments v2\.3\.0 \(previous\)/);

    fs.writeFileSync(window, JSON.stringify([{ service: "payments", version: "v2.4.0", role: "stable", columns: ["payments.amount_minor"], writesNull: [] }]));
    const contract = await runRemedy(["migrate", "apply", id, "contract", "--window", window, "--json"]);
    assert.equal(contract.code, 0, contract.err);
    assert.deepEqual(JSON.parse(contract.out), { applied: [`${id}:expand`, `${id}:backfill`, `${id}:contract`], pending: [], interrupted: [] });
  });

  it("exits 2 on usage and input errors", async () => {
    assert.equal((await runRemedy(["migrate", "apply", "0009-nope", "expand"])).code, 2);
    assert.equal((await runRemedy(["migrate", "apply", "0001-rename-payments-amount", "sideways"])).code, 2);
    assert.match((await runRemedy(["migrate", "plan", "--dir", "no/such/dir"])).err, /cannot read the migrations directory no\/such\/dir/);
  });
});
