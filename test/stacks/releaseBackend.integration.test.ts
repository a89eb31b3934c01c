/**
 * The program's release state backend against moto_server: it uses the AWS provider's settings
 * (assumed role, region) rather than the shell's, and refuses to treat a missing table as a
 * first deployment once the stack has been deployed.
 */
import { strict as assert } from "node:assert";
import { CloudWatchClient, ListMetricsCommand } from "@aws-sdk/client-cloudwatch";
import { parseAwsSettings } from "../../stacks/awsClients";
import { AddTagsCommand, DescribeTagsCommand, RemoveTagsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { DeleteResourcePolicyCommand, DescribeTableCommand, GetResourcePolicyCommand, PutResourcePolicyCommand } from "@aws-sdk/client-dynamodb";
import { releaseTablePolicy } from "../../components/rollback/tablePolicy";
import { DynamoReleaseBackend, ReleaseStateUnavailableError, samePolicy } from "../../stacks/releases";
import { useMotoBehindProxy, type FaultProxy } from "../helpers/faultProxy";
import { motoEnv, type MotoServer } from "../helpers/moto";
import { PREFIX, TABLE, createWorld, putBareAlarm } from "../helpers/rollbackWorld";

describe("stacks/releases: DynamoDB backend with the provider's settings (moto)", function () {
  this.timeout(60_000);
  const env = useMotoBehindProxy();
  let moto: MotoServer;
  let proxy: FaultProxy;
  const saved = { ...process.env };

  after(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });
  beforeEach(() => {
    ({ moto, proxy } = env);
    // Every SDK client (incl. the STS client that assumes the role) goes through the proxy.
    Object.assign(process.env, motoEnv(proxy.endpoint));
  });

  it("reads release state with the role from aws:assumeRoles, not the shell's credentials", async () => {
    // Prepare
    await createWorld(moto.endpoint, ["payments"]);
    const settings = parseAwsSettings({ region: "eu-west-1", assumeRoles: [{ roleArn: "arn:aws:iam::123456789012:role/remedy-deployer", sessionName: "ci", duration: "15m" }] });
    assert.deepEqual(settings.assumeRoles, [{ roleArn: "arn:aws:iam::123456789012:role/remedy-deployer", sessionName: "ci", durationSeconds: 900 }]);
    const backend = new DynamoReleaseBackend(TABLE, settings, PREFIX);
    // Act
    const state = await backend.get("payments");
    // Assess
    assert.equal(state?.candidate?.version, "v2");
    assert.equal(proxy.forwarded.AssumeRole, 1, "the role was assumed before reading");
    assert.equal(proxy.forwarded.GetItem, 1);
  });

  it("treats a missing table as a first deployment only while the stack has no alarms yet", async () => {
    const backend = new DynamoReleaseBackend("remedy-new-releases", parseAwsSettings({ region: "eu-west-1" }), "remedy-new");
    assert.equal(await backend.get("payments"), undefined, "first deployment");
    // The stack was deployed (its alarms exist) but the table is gone, or these settings reach another one.
    await putBareAlarm(new CloudWatchClient({ region: "eu-west-1" }), "remedy-new/payments/green/error-rate");
    await assert.rejects(backend.get("payments"), (err: Error) => {
      assert.ok(err instanceof ReleaseStateUnavailableError);
      assert.match(err.message, /release table remedy-new-releases does not exist, but this stack was deployed before \(its alarm remedy-new\/payments\/green\/error-rate exists\); refusing to treat it as a first deployment/);
      assert.match(err.message, /Check aws:region, aws:profile and aws:assumeRoles/);
      return true;
    });
  });

  it("puts the table's resource policy back when it was removed or edited outside Pulumi, and only says so in preview (issue 35, 2)", async () => {
    // Prepare: the world's table with the policy this stack writes.
    const world = await createWorld(moto.endpoint, ["payments"]);
    const ddb = world.clients.ddb;
    const tableArn = (await ddb.send(new DescribeTableCommand({ TableName: TABLE }))).Table?.TableArn as string;
    const policy = JSON.stringify(releaseTablePolicy(tableArn, ["arn:aws:iam::123456789012:role/rollback", "arn:aws:iam::123456789012:role/ci-deployer"], ["arn:aws:iam::123456789012:role/ci-deployer"]));
    await ddb.send(new PutResourcePolicyCommand({ ResourceArn: tableArn, Policy: policy }));
    const backend = new DynamoReleaseBackend(TABLE, parseAwsSettings({ region: "eu-west-1" }), PREFIX);
    const live = async () => (await ddb.send(new GetResourcePolicyCommand({ ResourceArn: tableArn }))).Policy;
    // Act + Assess: in place (however the service formats it).
    assert.equal(await backend.ensureTablePolicy(tableArn, JSON.stringify(JSON.parse(policy), null, 2), false), "in-place");
    // Removed by a dynamodb:* principal: preview says so and changes nothing; up puts it back.
    await ddb.send(new DeleteResourcePolicyCommand({ ResourceArn: tableArn }));
    assert.deepEqual(await backend.ensureTablePolicy(tableArn, policy, true), { found: "missing", restored: false });
    await assert.rejects(live(), /PolicyNotFound|not found/i);
    assert.deepEqual(await backend.ensureTablePolicy(tableArn, policy, false), { found: "missing", restored: true });
    assert.ok(samePolicy((await live()) as string, policy));
    // Edited (the attacker added itself as a writer): put back too.
    const edited = JSON.parse(policy) as { Statement: { Condition: { ArnNotEquals: { "aws:PrincipalArn": string[] } } }[] };
    edited.Statement[0].Condition.ArnNotEquals["aws:PrincipalArn"].push("arn:aws:iam::123456789012:role/attacker");
    await ddb.send(new PutResourcePolicyCommand({ ResourceArn: tableArn, Policy: JSON.stringify(edited) }));
    assert.deepEqual(await backend.ensureTablePolicy(tableArn, policy, false), { found: "changed", restored: true });
    assert.ok(samePolicy((await live()) as string, policy));
  });

  it("puts a rule's remedy tags back when they were removed or added outside Pulumi, and only says so in preview (issue 35, 14)", async () => {
    const world = await createWorld(moto.endpoint, ["payments"]);
    const rule = world.services.payments.routing.ruleArn;
    const elb = world.clients.elb;
    const want = { "remedy:rollback": PREFIX, "remedy:release-driver": PREFIX };
    await elb.send(new AddTagsCommand({ ResourceArns: [rule], Tags: [{ Key: "remedy:rollback", Value: PREFIX }, { Key: "team", Value: "payments" }] }));
    const backend = new DynamoReleaseBackend(TABLE, parseAwsSettings({ region: "eu-west-1" }), PREFIX);
    const tags = async () => Object.fromEntries(((await elb.send(new DescribeTagsCommand({ ResourceArns: [rule] }))).TagDescriptions?.[0]?.Tags ?? []).map((t) => [t.Key, t.Value]));
    assert.equal(await backend.ensureRuleTags(rule, want, false), "in-place");
    await elb.send(new RemoveTagsCommand({ ResourceArns: [rule], TagKeys: ["remedy:rollback"] }));
    await elb.send(new AddTagsCommand({ ResourceArns: [rule], Tags: [{ Key: "remedy:release-driver", Value: "someone-else" }, { Key: "remedy:scope", Value: "x" }] }));
    assert.deepEqual(await backend.ensureRuleTags(rule, want, true), { wrong: ["remedy:release-driver=someone-else (want remedy-test)", "remedy:rollback missing", "remedy:scope=x (not this stack's)"], restored: false });
    assert.equal((await tags())["remedy:rollback"], undefined, "preview changes nothing");
    assert.deepEqual(await backend.ensureRuleTags(rule, want, false), { wrong: ["remedy:release-driver=someone-else (want remedy-test)", "remedy:rollback missing", "remedy:scope=x (not this stack's)"], restored: true });
    assert.deepEqual(await tags(), { team: "payments", "remedy:rollback": PREFIX, "remedy:release-driver": PREFIX });
  });

  it("names the setting and the fix for provider settings it cannot honour", () => {
    assert.throws(() => parseAwsSettings({ assumeRoles: [{ roleArn: "deployer" }] }), /aws:assumeRoles\[0\]\.roleArn: required: the IAM role ARN to assume \(arn:aws:iam::<account>:role\/<name>\), got "deployer"/);
    assert.throws(() => parseAwsSettings({ accessKey: "AKIA..." }), /aws:secretKey: required with aws:accessKey; set both or neither/);
    assert.throws(() => parseAwsSettings({ assumeRoles: [{ roleArn: "arn:aws:iam::123456789012:role/r", duration: "soon" }] }), /aws:assumeRoles\[0\]\.duration: must be a duration such as "1h"/);
    assert.deepEqual(parseAwsSettings({ assumeRole: { roleArn: "arn:aws:iam::123456789012:role/r" } }).assumeRoles, [{ roleArn: "arn:aws:iam::123456789012:role/r" }], "the single-role form");
  });

  it("tells the stack's topic when pulumi up starts a release, once, with the deployer's credentials", async () => {
    // Prepare: payments releases v2 at 10% (the world); pulumi up now ships v3 into green.
    const world = await createWorld(moto.endpoint, ["payments"]);
    await world.notifications();
    const backend = new DynamoReleaseBackend(TABLE, parseAwsSettings({ region: "eu-west-1" }), PREFIX);
    const routing = { ...world.services.payments.routing, notifyTopicArn: world.topicArn };
    const at = new Date().toISOString();
    const events = [{ type: "start-release" as const, candidate: { slot: "green" as const, version: "v3" }, weight: 20, at, by: "pulumi:prod" }];
    // Act: the release is recorded and told; recording the same again changes nothing.
    const first = await backend.record("payments", routing, events, { blue: 80, green: 20 });
    const again = await backend.record("payments", routing, events, { blue: 80, green: 20 });
    // Assess
    assert.deepEqual([first.notices, again.notices], [1, 0]);
    const told = await world.notifications();
    assert.deepEqual(told.map((n) => n.subject), ["remedy prod: payments v3 release started"]);
    assert.match(told[0].message, /^payments: releasing v3 \(green\) over v1 \(blue\) \(manual, at 20%\)\./);
    assert.equal((await world.store.pendingNotifications("payments")).length, 0);
    // And the weight it left, for the stack dashboard.
    const listed = await new CloudWatchClient({ region: "eu-west-1" }).send(new ListMetricsCommand({ Namespace: "remedy", MetricName: "CandidateWeight" }));
    // (moto lists a metric once per datapoint; CloudWatch once per dimension set.)
    assert.deepEqual([...new Set(listed.Metrics?.map((m) => JSON.stringify(Object.fromEntries((m.Dimensions ?? []).map((d) => [d.Name, d.Value])))))], [JSON.stringify({ Stack: "remedy-test", Service: "payments" })]);
  });
});
