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
import { readSourceEvidence, sourceMetrics } from "../../stacks/promotionEvidence";
import type { CloudWatchClient, GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
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

  it("a drill's rollback and its restore are the passed drill the policy may require, not a rollback that ends the release", async () => {
    const staging = await table("remedy-staging-releases");
    await staging.recordBundle("payments", { ...bundle });
    // remedy drill at 10%: the alarm flips traffic back (roll-back), the restore resumes the same release; then promoted.
    const s = await record(staging, [start("v2.4.0", -150, bundle.id), { type: "roll-back", failedSlot: "green", observedAt: at(-140), reason: "remedy drill by ops: forced ALARM", at: at(-140), by: "remedy-staging/payments/green/error-rate" }]);
    await record(staging, [{ type: "resume-after-drill", releaseId: s.releaseId as string, weight: 10, at: at(-139), by: "ops (drill restore)" }, promote(-120)]);
    const ev = await readSourceEvidence(staging, "acme/remedy/staging", "payments", bundle.id, T0);
    assert.deepEqual(ev.drill, { at: at(-140), passed: true });
    assert.deepEqual(ev.incidents, [], "the drill's flip is no incident");
    assert.equal(ev.releases[0].completedAt, at(-120));
    assert.equal(ev.releases[0].endedAt, undefined, "the release goes on after the drill");
    const drilled = normalisePromotion({ sources: [{ stack: "acme/remedy/staging" }], soakMinutes: 60, evidence: { drill: true } });
    assert.equal(decide([ev], drilled).decision, "allow");
    // Without the drill, the same policy refuses, saying so.
    const other = await table("remedy-staging-eu-releases");
    await other.recordBundle("payments", { ...bundle });
    await record(other, [start("v2.4.0", -150, bundle.id), promote(-120)]);
    const undrilled = await readSourceEvidence(other, "acme/remedy/staging", "payments", bundle.id, T0);
    assert.match(decide([undrilled], drilled).gates.find((g) => g.gate === "evidence")?.message ?? "", new RegExp(`no passed drill of ${bundle.id} in any source \\(remedy drill there\\)`));
  });

  it("a source that never recorded the bundle, or ran another, gives no evidence of it", async () => {
    const staging = await table("remedy-staging-releases");
    await record(staging, [start("v2.4.0", -150), promote(-120)]);
    const ev = await readSourceEvidence(staging, "acme/remedy/staging", "payments", bundle.id, T0);
    assert.deepEqual([ev.bundle, ev.releases], [undefined, []]);
    const d = decide([ev]);
    assert.equal(d.gates.find((g) => g.gate === "verified")?.message, `${bundle.id} completed in 0 of the 1 source(s) needed; release it in acme/remedy/staging first`);
  });

  it("measures the candidate against the version it replaced: 5xx rate over requests and p99, each over as long a window (CloudWatch stand-in)", async () => {
    // moto answers 500 to percentile statistics (and to PutMetricData with Values/Counts), so a
    // stand-in answers GetMetricData as the API reference documents it: one datapoint per query
    // when the period is the window's length.
    const sent: { start: string; end: string; queries: { id: string; metric: string; stat: string; tg: string; period: number }[] }[] = [];
    const answers: Record<string, Record<string, number>> = { green: { errors: 30, requests: 10_000, p99: 0.42 }, blue: { errors: 10, requests: 10_000, p99: 0.4 } };
    const cw = {
      send: (c: GetMetricDataCommand) => {
        const queries = (c.input.MetricDataQueries ?? []).map((q) => ({ id: q.Id as string, metric: q.MetricStat?.Metric?.MetricName as string, stat: q.MetricStat?.Stat as string, tg: q.MetricStat?.Metric?.Dimensions?.find((d) => d.Name === "TargetGroup")?.Value as string, period: q.MetricStat?.Period as number }));
        sent.push({ start: (c.input.StartTime as Date).toISOString(), end: (c.input.EndTime as Date).toISOString(), queries });
        const slot = /payments-(blue|green)-/.exec(queries[0].tg)?.[1] as string;
        return Promise.resolve({ MetricDataResults: queries.map((q) => ({ Id: q.id, Values: [answers[slot][q.id]] })) });
      },
    } as unknown as CloudWatchClient;
    const release = { releaseId: "green:v2.4.0:7", startedAt: at(-150), completedAt: at(-120) };
    const m = await sourceMetrics(cw, ROUTING, release, T0);
    assert.deepEqual(m, { errorRatePoints: 0.2, p99Ratio: 1.05, from: at(-120), to: at(0) });
    assert.deepEqual(sent.map((s) => [s.start, s.end]), [[at(-120), at(0)], [at(-270), at(-150)]], "the soak, and as long before the release began");
    assert.deepEqual(sent[0].queries.map((q) => [q.id, q.metric, q.stat, q.period]), [["errors", "HTTPCode_Target_5XX_Count", "Sum", 7200], ["requests", "RequestCount", "Sum", 7200], ["p99", "TargetResponseTime", "p99", 7200]]);
    assert.ok(sent[0].queries.every((q) => q.tg === "targetgroup/payments-green-5e6f7a8b/2") && sent[1].queries.every((q) => q.tg === "targetgroup/payments-blue-1a2b3c4d/1"));
    // Nothing to compare with: no evidence (the gate then refuses, saying so).
    answers.blue.requests = 0;
    assert.equal(await sourceMetrics(cw, ROUTING, release, T0), undefined);
    assert.equal(await sourceMetrics(cw, ROUTING, { releaseId: "green:v2.4.0:7", startedAt: at(-5) }, T0), undefined, "not completed");
  });
});
