/**
 * remedy versions and remedy retire against moto (issue 37, 5 and 6): CloudWatch holds the lane's
 * and the main target groups' RequestCount per day (put by the test as the ALB would publish it);
 * the commands read it through GetMetricData, show the evidence and decide the retirement, and
 * retire records the decision with its inputs in the release table.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CloudWatchClient, PutMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { CreateTableCommand, DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { motoEnv } from "../../cli/rehearsal/moto";
import { lastDays } from "../../core/legacyRetirement";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { runRemedy } from "../helpers/cli";
import { useMoto } from "../helpers/moto";

const RULE = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
const tg = (name: string) => `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/${name}/6d0ecf831eec9f09`;

describe("cli: remedy versions and remedy retire against moto (issue 37, 5 and 6)", function () {
  this.timeout(60_000);
  const suite = useMoto();
  let saved: NodeJS.ProcessEnv;
  let dir: string;
  let outputs: string;
  const days = lastDays(Date.now(), 20);

  /** One day's RequestCount of a target group, at noon UTC, as the ALB publishes it (only when there were requests). */
  async function requests(cw: CloudWatchClient, targetGroup: string, day: string, n: number) {
    await cw.send(
      new PutMetricDataCommand({
        Namespace: "AWS/ApplicationELB",
        MetricData: [{ MetricName: "RequestCount", Timestamp: new Date(`${day}T12:00:00Z`), Value: n, Unit: "Count", Dimensions: [{ Name: "TargetGroup", Value: /:(targetgroup\/.*)$/.exec(targetGroup)?.[1] }, { Name: "LoadBalancer", Value: "app/remedy/50dc6c495c0c9188" }] }],
      }),
    );
  }

  // useMoto resets moto before each test: the table and the metrics are put again each time.
  beforeEach(async () => {
    saved = { ...process.env };
    Object.assign(process.env, motoEnv(suite.moto.endpoint));
    const ddb = new DynamoDBClient({});
    await ddb.send(new CreateTableCommand({ TableName: "remedy-prod-releases", BillingMode: "PAY_PER_REQUEST", AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }, { AttributeName: "sk", AttributeType: "S" }], KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }, { AttributeName: "sk", KeyType: "RANGE" }] }));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-versions-"));
    outputs = path.join(dir, "outputs.json");
    const lane = (version: string, name: string, clients: string[]) => ({ version, targetGroupArn: tg(name), ruleArn: RULE, deprecatedAt: days[0], sunsetAt: "2027-03-01", link: "https://docs.example.com/v1-sunset", owner: "team-payments", clients });
    fs.writeFileSync(outputs, JSON.stringify({ services: {
      payments: { targetGroupArns: { blue: tg("payments-blue-1a2b3c4d"), green: tg("payments-green-5e6f7a8b") }, ruleArn: RULE, legacy: [lane("v1.9.4", "payments-legacy-0a1b2c3d", ["ios 2.0"])] },
      orders: { targetGroupArns: { blue: tg("orders-blue-1a2b3c4d"), green: tg("orders-green-5e6f7a8b") }, ruleArn: RULE, legacy: [lane("v5.0.0", "orders-legacy-0a1b2c3d", [])] },
    } }));
    const cw = new CloudWatchClient({});
    // payments: the lane served 40 requests 5 days ago, none since; the main groups every day.
    // orders: its lane quiet for all 20 days, but the main groups had no data 3 days ago (ALB down).
    for (const [i, day] of days.entries()) {
      await requests(cw, tg("payments-blue-1a2b3c4d"), day, 5000);
      if (i === days.length - 5) await requests(cw, tg("payments-legacy-0a1b2c3d"), day, 40);
      if (i !== days.length - 3) await requests(cw, tg("orders-green-5e6f7a8b"), day, 700);
    }
    // ios 2.0's operations, not (yet) retired.
    fs.mkdirSync(path.join(dir, "ops", "ios", "2.0"), { recursive: true });
    fs.writeFileSync(path.join(dir, "ops", "ios", "2.0", "pay.graphql"), "query Pay { payment(id: 1) { id } }");
  });
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("versions shows the lane, its requests per day, the last request and what blocks retiring", async () => {
    const r = await runRemedy(["versions", "payments", "--outputs", outputs, "--operations", path.join(dir, "ops"), "--days", "7"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^payments: legacy lane v1\.9\.4 \(owner team-payments\), deprecated \d{4}-\d\d-\d\d, sunset 2027-03-01; callers read https:\/\/docs\.example\.com\/v1-sunset$/m);
    assert.match(r.out, new RegExp(`^ {4}${days[15]} {2}40 request\\(s\\)$`, "m"));
    assert.match(r.out, new RegExp(`^ {4}${days[19]} {2}0 request\\(s\\)$`, "m"), "a quiet day where the main groups served: zero");
    assert.match(r.out, /^ {2}last request: 5 day\(s\) ago; quiet for 4 day\(s\)$/m);
    assert.match(r.out, /client versions it serves: ios 2\.0 \(still active: ios 2\.0\)/);
    assert.match(r.out, /^ {4}- quiet for 4 of the 14 consecutive days needed: .* had 40 request\(s\)/m);
  });

  it("retire refuses (exit 1) and records why, with every input; a dark day is never counted quiet", async () => {
    const payments = await runRemedy(["retire", "payments", "--outputs", outputs, "--operations", path.join(dir, "ops")]);
    assert.equal(payments.code, 1, payments.err);
    const orders = await runRemedy(["retire", "orders", "--outputs", outputs, "--json"]);
    assert.equal(orders.code, 1);
    const o = JSON.parse(orders.out) as { lanes: { decision: { blockers: string[]; quietStreak: number } }[] };
    assert.equal(o.lanes[0].decision.quietStreak, 2);
    assert.match(o.lanes[0].decision.blockers[0], /has no datapoints for the lane or the main target groups \(a dead ALB is not a quiet lane\)/);
    // Recorded: each decision with its inputs.
    const items = (await new DynamoDBClient({}).send(new QueryCommand({ TableName: "remedy-prod-releases", KeyConditionExpression: "pk = :p AND begins_with(sk, :s)", ExpressionAttributeValues: { ":p": { S: "payments" }, ":s": { S: "legacy-retirement#" } } }))).Items ?? [];
    assert.equal(items.length, 1);
    const decision = JSON.parse(unmarshall(items[0]).decision as string) as { allowed: boolean; inputs: { activeClients: string[]; evidence: unknown[]; quietDays: number } };
    assert.deepEqual([decision.allowed, decision.inputs.activeClients, decision.inputs.quietDays, decision.inputs.evidence.length], [false, ["ios 2.0"], 14, 30], "30 days of evidence (--days default)");
  });

  it("retire allows (exit 0) once the lane is quiet long enough and its clients are retired", async () => {
    // Its evidence: the lane has been quiet for the 4 days before today.
    fs.writeFileSync(path.join(dir, "ops", "ios", "2.0", "retired.json"), JSON.stringify({ since: days[10], reason: "forced upgrade to ios 3; no calls since" }));
    const r = await runRemedy(["retire", "payments", "--outputs", outputs, "--operations", path.join(dir, "ops"), "--quiet-days", "4"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /retire payments v1\.9\.4: allowed and recorded; remove it from services\[\]\.legacy and run pulumi up/);
  });

  it("reads the days the release driver recorded where CloudWatch has none, marks brownout days, and says where the top callers come from", async () => {
    // The driver recorded orders' dark day (CloudWatch no longer has it) and a brownout day.
    const store = new ReleaseStore(new DynamoDBClient({}), "remedy-prod-releases");
    await store.recordLaneEvidence("orders", "v5.0.0", { day: days[17], laneRequests: 0, mainRequests: 650 }, new Date().toISOString());
    await store.recordLaneEvidence("orders", "v5.0.0", { day: days[18], laneRequests: 0, mainRequests: 700, brownout: true }, new Date().toISOString());
    const out = JSON.parse(fs.readFileSync(outputs, "utf8")) as { services: Record<string, { legacy: Record<string, unknown>[] }> };
    out.services.orders.legacy[0].callersRule = "remedy-prod-orders-legacy-callers";
    fs.writeFileSync(outputs, JSON.stringify(out));
    const r = await runRemedy(["retire", "orders", "--outputs", outputs, "--json"]);
    const lane = (JSON.parse(r.out) as { lanes: { evidence: { day: string; laneRequests: number | null; brownout?: boolean }[]; decision: { allowed: boolean; quietStreak: number }; callers: string }[] }).lanes[0];
    assert.deepEqual(lane.evidence.find((e) => e.day === days[17]), { day: days[17], laneRequests: 0, mainRequests: 650 }, "the recorded day fills CloudWatch's gap");
    assert.equal(lane.evidence.find((e) => e.day === days[18])?.brownout, true);
    assert.equal(lane.decision.quietStreak, 19, "the 20 days with data, the brownout day not counted");
    assert.equal(lane.decision.allowed, true);
    assert.equal(r.code, 0);
    // The emulator has no Contributor Insights: the report says so, naming the rule (a real account shows the callers).
    assert.match(lane.callers, /^unavailable \(.*; rule remedy-prod-orders-legacy-callers\)$/);
    const text = await runRemedy(["versions", "orders", "--outputs", outputs, "--days", "3"]);
    assert.match(text.out, new RegExp(`^ {4}${days[18]} {2}0 request\\(s\\) {2}\\(brownout day: not counted as quiet\\)$`, "m"));
    assert.match(text.out, /^ {2}top callers: unavailable \(/m);
  });

  it("names usage problems with exit 2", async () => {
    assert.equal((await runRemedy(["retire", "payments"])).code, 2);
    assert.match((await runRemedy(["versions", "nope", "--outputs", outputs])).err, /no service nope in .*outputs\.json \(services: payments, orders\)/);
    assert.match((await runRemedy(["retire", "payments", "--outputs", outputs, "--quiet-days", "0"])).err, /--quiet-days must be an integer of at least 1, got "0"/);
  });
});
