/**
 * The target's re-checks at promotion (issue 38, 6): the database gate against the target's own
 * migration ledger on a real PostgreSQL, and check-api of the bundle's schema (the very file it
 * was made with) against the target's live version with the repository's real schemas and
 * client operations.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Pool } from "pg";
import { parseStackConfig } from "../../core/config";
import { parsePlan } from "../../database/plan";
import { MigrationRunner } from "../../database/runner";
import { apiRecheck, databaseRecheck } from "../../stacks/promotionRechecks";
import { remedyConfig } from "../helpers/fixtures";
import { type PostgresServer, startPostgres } from "../helpers/postgres";

const ROOT = path.join(__dirname, "..", "..");
const sha = (file: string) => createHash("sha256").update(fs.readFileSync(path.join(ROOT, file))).digest("hex");

describe("stacks/promotionRechecks: the target's own checks at promotion (issue 38, 6)", function () {
  this.timeout(120_000);

  describe("database: the phases the bundle's version needs, applied on the target (PostgreSQL)", () => {
    let pg: PostgresServer;
    let db: Pool;
    before(async () => {
      pg = await startPostgres();
      db = new Pool({ connectionString: pg.url, max: 4 });
    });
    after(async () => {
      await db?.end();
      await pg?.stop();
    });

    it("refuses until the target's ledger has every phase the bundle needs, naming the missing ones", async () => {
      await db.query("CREATE TABLE refunds (id bigserial PRIMARY KEY, amount bigint NOT NULL)");
      await db.query("INSERT INTO refunds (amount) SELECT g FROM generate_series(1, 100) g");
      const plan = parsePlan({ id: "0007-rename-refunds-amount", description: "rename", operations: [{ op: "renameColumn", table: "refunds", from: "amount", to: "amount_minor", type: "bigint" }] });
      const runner = new MigrationRunner(db, [plan]);
      const bundle = { version: "v2.4.0", migrations: [{ plan: plan.id, needs: ["expand", "backfill"], applied: ["expand", "backfill"] }] };
      assert.deepEqual(databaseRecheck(bundle, (await runner.status()).applied, "acme/remedy/prod"), { passed: false, detail: "v2.4.0 needs 0007-rename-refunds-amount:expand, 0007-rename-refunds-amount:backfill, not applied on acme/remedy/prod: run it there first (remedy migrate apply, or database.run in its config)" });
      await runner.apply(plan.id, "expand");
      assert.match(databaseRecheck(bundle, (await runner.status()).applied, "acme/remedy/prod").detail, /needs 0007-rename-refunds-amount:backfill, not applied/);
      await runner.apply(plan.id, "backfill");
      assert.deepEqual(databaseRecheck(bundle, (await runner.status()).applied, "acme/remedy/prod"), { passed: true, detail: "0007-rename-refunds-amount:expand, 0007-rename-refunds-amount:backfill applied" });
      assert.deepEqual(databaseRecheck({ version: "v2.4.1", migrations: [] }, [], "acme/remedy/prod"), { passed: true, detail: "v2.4.1 needs no migration" });
    });
  });

  describe("api: the bundle's own schema against the target's live version (real schemas)", () => {
    // Prod runs payments v2.3.0 on blue; its config names v2.3.1's schema and the client operations.
    const prod = parseStackConfig(remedyConfig("prod"));
    const payments = prod.services[0];
    const bundleOf = (version: string, file: string) => ({ service: "payments", version, api: { schemaSha256: sha(file), verdict: "compatible" as const } });

    it("passes the bundle's schema when it is compatible with the target's live version and its clients", async () => {
      const r = await apiRecheck(bundleOf("v2.3.1", "api/payments/v2.3.1.graphql"), payments, ROOT, "acme/remedy/prod");
      assert.deepEqual(r, { passed: true, detail: "compatible with acme/remedy/prod's live v2.3.0 and its client operations" });
    });

    it("refuses another schema than the bundle's, a version the target has no schema for, and a breaking one", async () => {
      const swapped = await apiRecheck({ ...bundleOf("v2.3.1", "api/payments/v2.3.1.graphql"), api: { schemaSha256: "0".repeat(64), verdict: "compatible" } }, payments, ROOT, "acme/remedy/prod");
      assert.equal(swapped.passed, false);
      assert.match(swapped.detail, /^api\/payments\/v2\.3\.1\.graphql is not the schema the bundle was made with \(SHA-256 [0-9a-f]{12}… vs 000000000000…\): promote the bundle's schema, not another$/);
      const unknown = await apiRecheck(bundleOf("v2.4.0", "api/payments/v2.3.1.graphql"), payments, ROOT, "acme/remedy/prod");
      assert.match(unknown.detail, /^acme\/remedy\/prod's api\.schemas names no schema for v2\.4\.0: add the bundle's schema/);
      // The target running v2.3.1 live: v2.3.0's schema (it lacks Payment.reference) breaks it.
      const ahead = { ...payments, stable: "green" as const, slots: { green: { ...(payments.slots.green as NonNullable<typeof payments.slots.green>) } } };
      const breaking = await apiRecheck(bundleOf("v2.3.0", "api/payments/v2.3.0.graphql"), ahead, ROOT, "acme/remedy/prod");
      assert.equal(breaking.passed, false);
      assert.match(breaking.detail, /^breaks acme\/remedy\/prod's live v2\.3\.1: /);
      assert.match(breaking.detail, /Payment\.reference/);
      // The same from release state: config (image mode) may name v2.3.0 while v2.3.1 runs.
      const fromState = await apiRecheck(bundleOf("v2.3.0", "api/payments/v2.3.0.graphql"), payments, ROOT, "acme/remedy/prod", "v2.3.1");
      assert.match(fromState.detail, /^breaks acme\/remedy\/prod's live v2\.3\.1: /, "release state's live version, not config's stable slot (v2.3.0 here)");
    });

    it("needs an API gate on the target when the bundle's API was checked", async () => {
      const { api: _none, ...bare } = payments;
      void _none;
      assert.deepEqual(await apiRecheck(bundleOf("v2.3.1", "api/payments/v2.3.1.graphql"), bare, ROOT, "acme/remedy/prod"), { passed: false, detail: "acme/remedy/prod's payments has no api block, but the bundle's API was checked: add services[].api to acme/remedy/prod so it is checked there too" });
      assert.deepEqual(await apiRecheck({ service: "payments", version: "v2.3.1", api: { schemaSha256: "none", verdict: "not-checked" } }, bare, ROOT, "acme/remedy/prod"), { passed: true, detail: "no API gate on either side" });
    });
  });
});
