/**
 * The staging stack (issue 38, 1): the same program as prod, from Pulumi.staging.yaml, with
 * nothing that collides with prod's in the same account and cluster: its own release table,
 * alarm prefix, target groups, namespaces and hosts, and images pinned by digest as bundles are.
 */
import { strict as assert } from "node:assert";
import { parseStackConfig } from "../../core/config";
import { bundleProblem } from "../../core/promotion/bundle";
import { bundleMigrations } from "../../stacks/bundles";
import { parsePlan } from "../../database/plan";
import { remedyConfig, stackYaml } from "../helpers/fixtures";
import { T, installMocks, recorded, settle } from "../helpers/pulumiMocks";
import { runStackEntry, useMemoryReleases } from "../helpers/stackProgram";
import { setReleaseBackendFactory } from "../../stacks/releases";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("stacks: the staging stack is the same program as prod (issue 38, 1)", () => {
  useMemoryReleases();

  async function up(stack: "staging" | "prod") {
    await installMocks(stack);
    recorded.resources.length = 0;
    await runStackEntry(stackYaml(stack));
    await settle();
    return [...recorded.resources];
  }

  it("deploys the same services under its own names: table, alarms, target groups, namespaces and hosts", async () => {
    const staging = await up("staging");
    const prod = await up("prod");
    const names = (rs: typeof staging, type: string, field: string) => new Set(rs.filter((r) => r.type === type).map((r) => String((r.inputs as Obj)[field])));
    assert.deepEqual([...names(staging, "aws:dynamodb/table:Table", "name")], ["remedy-staging-releases"]);
    for (const type of [T.tg, "aws:dynamodb/table:Table", T.alarm]) {
      const shared = [...names(staging, type, "name")].filter((n) => names(prod, type, "name").has(n));
      assert.deepEqual(shared, [], `${type}: no name in both stacks of one account`);
    }
    assert.ok([...names(staging, T.alarm, "name")].every((n) => n.startsWith("remedy-staging")), "every alarm under the stack's prefix");
    const namespaces = staging.filter((r) => r.type === T.namespace).map((r) => r.name).sort();
    assert.deepEqual(namespaces, ["orders-staging", "payments-staging", "storefront-staging"]);
    const hosts = staging.filter((r) => r.type === T.rule).flatMap((r) => ((r.inputs as Obj).conditions as Obj[]).flatMap((c) => c.hostHeader?.values ?? []));
    assert.ok(hosts.every((h: string) => h.endsWith(".staging.example.com")), hosts.join(", "));
  });

  it("names every image by digest, so each release it starts can be a bundle", () => {
    const config = parseStackConfig(remedyConfig("staging"));
    for (const s of config.services) {
      for (const slot of Object.values(s.slots)) assert.equal(bundleProblem({ service: s.name, version: slot.version, image: slot.image }), undefined, `${s.name} ${slot.version}`);
    }
  });

  it("records the bundle of each release it starts, once, and names it on the release (issue 38, 2)", async () => {
    const backend = new MemoryReleaseBackend();
    const restore = setReleaseBackendFactory(() => backend);
    try {
      const config = structuredClone(stackYaml("staging")) as Obj;
      const catalog = (config["remedy:services"] as Obj[])[2];
      await installMocks("staging");
      await runStackEntry(config);
      await settle();
      // A release of catalog 2026.12.1 (pinned by digest) at 10%.
      catalog.slots.green = { image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/catalog@sha256:${"9".repeat(64)}`, version: "2026.12.1" };
      catalog.candidate = { weight: 10 };
      await installMocks("staging");
      await runStackEntry(config);
      await settle();
      const bundles = [...backend.bundles.values()];
      assert.equal(bundles.length, 1);
      const b = bundles[0];
      assert.deepEqual(
        { ...b, id: undefined, configSha256: undefined, createdAt: undefined, releaser: undefined },
        { service: "catalog", version: "2026.12.1", image: catalog.slots.green.image, api: { schemaSha256: "none", verdict: "not-checked" }, migrations: [], source: "acme/remedy/staging", id: undefined, configSha256: undefined, createdAt: undefined, releaser: undefined },
      );
      assert.match(b.id, /^b-[0-9a-f]{16}$/);
      assert.match(b.configSha256, /^[0-9a-f]{64}$/);
      assert.match(b.releaser, /^arn:aws:/, "who ran the update, as AWS verified it");
      const s = await backend.get("catalog");
      assert.equal(s?.candidate?.bundle, b.id, "the release knows its bundle");
      assert.ok(backend.store.history.some((h) => h.service === "catalog" && h.action === "start-release" && h.summary.endsWith(`; bundle ${b.id}`)));
      // The same release again: nothing new.
      await installMocks("staging");
      await runStackEntry(config);
      await settle();
      assert.equal(backend.bundles.size, 1);
      // A tag is no bundle (said in the update's log), and the release goes on.
      catalog.slots.green = { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/catalog:2026.12.2", version: "2026.12.2" };
      await installMocks("staging");
      await runStackEntry(config);
      await settle();
      assert.equal((await backend.get("catalog"))?.candidate?.version, "2026.12.2");
      assert.equal((await backend.get("catalog"))?.candidate?.bundle, undefined);
      assert.equal(backend.bundles.size, 1);
    } finally {
      restore();
    }
  });

  it("names in a bundle the migration plans its version needs, with the phases this stack applied", () => {
    const plan = parsePlan({ id: "0001-rename-payments-amount", description: "rename", operations: [{ op: "renameColumn", table: "payments", from: "amount", to: "amount_minor", type: "bigint" }] });
    const other = parsePlan({ id: "0002-add-notes", description: "notes", operations: [{ op: "addColumn", table: "orders", column: "notes", type: "text" }] });
    assert.deepEqual(bundleMigrations(["payments.id", "payments.amount_minor"], [plan, other], ["0001-rename-payments-amount:expand", "0002-add-notes:expand"]), [
      { plan: "0001-rename-payments-amount", needs: ["expand", "backfill"], applied: ["expand"] },
    ]);
    assert.deepEqual(bundleMigrations(["payments.amount"], [plan, other], []), [], "the old shape needs no plan");
  });
});
