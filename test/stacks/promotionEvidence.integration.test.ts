/**
 * Promotion evidence read from source environments' release tables on moto (issue 38, 4 and 5):
 * two tables stand for two staging environments; releases are recorded there as the program and
 * the release driver record them (start with the bundle, promote, roll back, the next release
 * promoted over it), and what is read decides the gates: a completed release soaks, a rollback
 * ends it, a later promotion ends it without erasing the soak it had, and a second source is
 * needed when the policy says so.
 */
import { strict as assert } from "node:assert";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { makeBundle } from "../../core/promotion/bundle";
import { decidePromotion } from "../../core/promotion/gates";
import { normalisePromotion } from "../../core/promotion/policy";
import { type ReleaseEvent, type ReleaseState, applyEvent, initialState } from "../../core/releaseState";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { readSourceEvidence } from "../../stacks/promotionEvidence";
import { useMoto } from "../helpers/moto";
import { clientConfig } from "../helpers/rollbackWorld";

const ROUTING = {
  ruleArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
  targetGroupArns: { blue: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-blue-1a2b3c4d/1", green: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-green-5e6f7a8b/2" },
  stickinessSeconds: 0,
};
const bundle = makeBundle(
  { service: "payments", version: "v2.4.0", image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"4".repeat(64)}`, api: { schemaSha256: "a".repeat(64), verdict: "compatible" }, migrations: [], configSha256: "c".repeat(64) },
  { source: "acme/remedy/staging", createdAt: "2026-12-07T08:00:00.000Z", releaser: "arn:aws:sts::123456789012:assumed-role/ci-deployer/run-1" },
);
const T0 = Date.parse("2026-12-07T12:00:00.000Z");
const at = (m: number) => new Date(T0 + m * 60_000).toISOString();

describe("stacks/promotionEvidence: a bundle's evidence from source release tables (issue 38; moto)", function () {
  this.timeout(60_000);
  const suite = useMoto();

  async function table(name: string): Promise<ReleaseStore> {
    const ddb = new DynamoDBClient(clientConfig(suite.moto.endpoint));
    await ddb.send(new CreateTableCommand({ TableName: name, BillingMode: "PAY_PER_REQUEST", AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }, { AttributeName: "sk", AttributeType: "S" }], KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }, { AttributeName: "sk", KeyType: "RANGE" }] }));
    return new ReleaseStore(ddb, name);
  }

  /** Records `events` on payments in `store` as the program and the driver do (conditional commits, history). */
  async function record(store: ReleaseStore, events: ReleaseEvent[]): Promise<ReleaseState> {
    let s = await store.get("payments");
    if (!s) {
      s = initialState("payments", { slot: "blue", version: "v2.3.6" }, ROUTING, at(-2000));
      await store.create(s);
    }
    for (const e of events) {
      const t = applyEvent(s, e);
      if (t.kind !== "applied") throw new Error(`${e.type}: ${t.reason}`);
      await store.commit(s.revision, t.state, t.entry);
      s = t.state;
    }
    return s;
  }
  const start = (version: string, m: number, b?: string): ReleaseEvent => ({ type: "start-release", candidate: { slot: version === "v2.4.0" ? "green" : "blue", version, ...(b ? { bundle: b } : {}) }, weight: 10, at: at(m), by: "pulumi:staging" });
  const promote = (m: number): ReleaseEvent => ({ type: "promote", rollbackWindowMinutes: 60, at: at(m), by: "release-driver" });
  const policy = normalisePromotion({ sources: [{ stack: "acme/remedy/staging" }], soakMinutes: 60 });
  const decide = (evidence: Awaited<ReturnType<typeof readSourceEvidence>>[], p = policy) =>
    decidePromotion({ target: "acme/remedy/prod", bundle, policy: p, evidence: evidence.map((e) => ({ ...e, metrics: { errorRatePoints: 0, p99Ratio: 1, from: at(-120), to: at(0) } })), approvals: [], blocks: [], rechecks: { database: { passed: true, detail: "ok" }, api: { passed: true, detail: "ok" } }, kind: "promotion", nowMs: T0 });

  it("reads a completed release of the bundle, soaking since its promotion", async () => {
    const staging = await table("remedy-staging-releases");
    await staging.recordBundle("payments", { ...bundle });
    await record(staging, [start("v2.4.0", -150, bundle.id), promote(-120)]);
    const ev = await readSourceEvidence(staging, "acme/remedy/staging", "payments", bundle.id, T0);
    assert.equal(ev.bundle?.id, bundle.id);
    assert.deepEqual(ev.releases, [{ releaseId: ev.releases[0].releaseId, startedAt: at(-150), completedAt: at(-120), completedBy: "release-driver" }]);
    assert.match(ev.releases[0].releaseId, /^green:v2\.4\.0:\d+$/);
    assert.deepEqual(ev.incidents, []);
    assert.equal(decide([ev]).decision, "allow");
  });

  it("a rollback after the promotion ends the soak; a later release promoted over it keeps the soak it had", async () => {
    const staging = await table("remedy-staging-releases");
    await staging.recordBundle("payments", { ...bundle });
    // Promoted 120 min ago, rolled back 90 min ago (inside its rollback window).
    await record(staging, [start("v2.4.0", -150, bundle.id), promote(-120), { type: "roll-back", failedSlot: "green", observedAt: at(-90), reason: "5xx rate 12%", at: at(-90), by: "remedy-staging/payments/green/error-rate" }]);
    const rolled = await readSourceEvidence(staging, "acme/remedy/staging", "payments", bundle.id, T0);
    assert.deepEqual(rolled.incidents.map((i) => [i.kind, i.at]), [["rollback", at(-90)]]);
    assert.equal(rolled.releases[0].endedAt, at(-90));
    const d = decide([rolled]);
    assert.equal(d.decision, "deny");
    assert.match(d.gates.find((g) => g.gate === "soak")?.message ?? "", /the longest was 30 min in acme\/remedy\/staging, ended by rollback: roll back promoted v2\.4\.0 \(green\) to v2\.3\.6 \(blue\) inside its rollback window: 5xx rate 12%;/);

    // Another environment soaked it for 9 hours before a newer release was promoted over it.
    const other = await table("remedy-staging-eu-releases");
    await other.recordBundle("payments", { ...bundle });
    await record(other, [start("v2.4.0", -1000, bundle.id), promote(-990), start("v2.5.0", -450), promote(-450)]);
    const movedOn = await readSourceEvidence(other, "acme/remedy/staging-eu", "payments", bundle.id, T0);
    assert.equal(movedOn.releases[0].endedAt, at(-450), "ended when v2.5.0 was promoted over it");
    const two = normalisePromotion({ sources: [{ stack: "acme/remedy/staging" }, { stack: "acme/remedy/staging-eu" }], soakMinutes: 60 });
    const soak = decide([rolled, movedOn], two).gates.find((g) => g.gate === "soak");
    assert.deepEqual([soak?.decision, soak?.message], ["allow", `soaked 540 min in acme/remedy/staging-eu (${at(-990)} to ${at(-450)}); 60 needed`]);
  });

  it("a source that never recorded the bundle, or ran another, gives no evidence of it", async () => {
    const staging = await table("remedy-staging-releases");
    await record(staging, [start("v2.4.0", -150), promote(-120)]);
    const ev = await readSourceEvidence(staging, "acme/remedy/staging", "payments", bundle.id, T0);
    assert.deepEqual([ev.bundle, ev.releases], [undefined, []]);
    const d = decide([ev]);
    assert.equal(d.gates.find((g) => g.gate === "verified")?.message, `${bundle.id} completed in 0 of the 1 source(s) needed; release it in acme/remedy/staging first`);
  });
});
