/**
 * The staging stack (issue 38, 1): the same program as prod, from Pulumi.staging.yaml, with
 * nothing that collides with prod's in the same account and cluster: its own release table,
 * alarm prefix, target groups, namespaces and hosts, and images pinned by digest as bundles are.
 */
import { strict as assert } from "node:assert";
import { parseStackConfig } from "../../core/config";
import { bundleProblem } from "../../core/promotion/bundle";
import { remedyConfig, stackYaml } from "../helpers/fixtures";
import { T, installMocks, recorded, settle } from "../helpers/pulumiMocks";
import { runStackEntry, useMemoryReleases } from "../helpers/stackProgram";

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
});
