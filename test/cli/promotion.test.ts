/**
 * remedy approve, block and unblock against moto (issue 38, 7): an approval is recorded in the
 * target's table bound to the bundle with the identity STS verified; a block in the bundle's
 * source table, its unblocking beside it; and the promotion gates read them as recorded.
 */
import { strict as assert } from "node:assert";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { decidePromotion } from "../../core/promotion/gates";
import { normalisePromotion } from "../../core/promotion/policy";
import { makeBundle } from "../../core/promotion/bundle";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { runRemedy } from "../helpers/cli";
import { createReleaseTables, useMoto } from "../helpers/moto";

const bundle = makeBundle(
  { service: "payments", version: "v2.4.0", image: `r.example.com/payments@sha256:${"4".repeat(64)}`, api: { schemaSha256: "none", verdict: "not-checked" }, migrations: [], configSha256: "c".repeat(64) },
  { source: "acme/remedy/staging", createdAt: "2026-12-07T08:00:00.000Z", releaser: "arn:aws:sts::123456789012:assumed-role/ci-deployer/run-1" },
);

describe("cli: remedy approve, block and unblock against moto (issue 38, 7)", function () {
  this.timeout(60_000);
  useMoto();
  beforeEach(() => createReleaseTables("remedy-prod-releases", "remedy-staging-releases"));

  it("records an approval in the target with the verified identity, and a block in the source until it is lifted; the gates read both", async () => {
    const me = (await new STSClient({}).send(new GetCallerIdentityCommand({}))).Arn as string;
    // Act: approve for prod; block, then unblock, in staging.
    const approved = await runRemedy(["approve", "payments", bundle.id]);
    assert.equal(approved.code, 0, approved.err);
    assert.match(approved.out, new RegExp(`^approved payments ${bundle.id} for prod as ${me.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} at \\d{4}-`));
    const blocked = await runRemedy(["block", "payments", bundle.id, "--reason", "INC-6001: refunds double-posted"]);
    assert.equal(blocked.code, 0, blocked.err);
    // Assess: as recorded, and as the gates take them.
    const prod = new ReleaseStore(new DynamoDBClient({}), "remedy-prod-releases");
    const staging = new ReleaseStore(new DynamoDBClient({}), "remedy-staging-releases");
    const approvals = await prod.approvals("payments", bundle.id);
    assert.deepEqual(approvals.map((a) => [a.bundle, a.by]), [[bundle.id, me]]);
    const blocks = await staging.blocks("payments", bundle.id);
    assert.deepEqual(blocks.map((b) => [b.by, b.reason, b.unblockedAt]), [[me, "INC-6001: refunds double-posted", undefined]]);
    const policy = normalisePromotion({ sources: [{ stack: "acme/remedy/staging" }], soakMinutes: 0, approvals: { count: 1, approvers: [me] } });
    const decide = async () =>
      decidePromotion({ target: "acme/remedy/prod", bundle, policy, evidence: [], approvals: await prod.approvals("payments", bundle.id), blocks: await staging.blocks("payments", bundle.id), kind: "promotion", nowMs: Date.now() }).gates;
    let gates = await decide();
    assert.equal(gates.find((g) => g.gate === "blocked")?.decision, "deny");
    assert.deepEqual([gates.find((g) => g.gate === "approvals")?.decision, gates.find((g) => g.gate === "approvals")?.message], ["allow", `approved by ${me}`]);
    // Lifted, recorded beside it; lifting again finds nothing to lift.
    const unblocked = await runRemedy(["unblock", "payments", bundle.id, "--reason", "INC-6001 fixed in v2.4.0's config"]);
    assert.equal(unblocked.code, 0, unblocked.err);
    gates = await decide();
    assert.equal(gates.find((g) => g.gate === "blocked")?.decision, "allow");
    assert.match(String((await staging.blocks("payments", bundle.id))[0].unblockedAt), /^\d{4}-\d\d-\d\dT/);
    assert.equal((await runRemedy(["unblock", "payments", bundle.id, "--reason", "again, by mistake"])).code, 1);
  });

  it("names usage problems with exit 2, before any AWS call", async () => {
    assert.match((await runRemedy(["approve", "payments"])).err, /name the service and the bundle/);
    assert.match((await runRemedy(["approve", "payments", "v2.4.0"])).err, /"v2\.4\.0" is not a bundle id \(b-<16 hex>, as remedy history shows it\)/);
    assert.match((await runRemedy(["block", "payments", bundle.id])).err, /--reason <text> is required/);
    assert.equal((await runRemedy(["block", "payments", bundle.id])).code, 2);
  });
});
