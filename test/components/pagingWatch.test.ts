/**
 * Pages when the paging path changes (issue 35, 13): the RollbackFunction's EventBridge rules on
 * CloudTrail's records of its topic, subscriptions and key, their target and notice, and the
 * topic's and key's policies letting exactly those rules publish. The patterns are judged by
 * moto's EventBridge matcher against CloudTrail records shaped as AWS documents them.
 */
import { strict as assert } from "node:assert";
import { RollbackFunction } from "../../components/rollback/rollbackFunction";
import { WATCHED_KMS_CALLS, WATCHED_SNS_CALLS, pagingWatchPatterns } from "../../components/rollback/pagingWatch";
import { pagingRuleName } from "../../components/rollback/topicPolicies";
import { MOCK_ACCOUNT, MOCK_REGION, ofType, one, settle } from "../helpers/pulumiMocks";
import { eventPatternMatches } from "../helpers/eventPattern";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TOPIC = `arn:aws:sns:eu-west-1:123456789012:rollback-notifications-1a2b3c`;
const KEY_ID = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
const KEY = `arn:aws:kms:eu-west-1:123456789012:key/${KEY_ID}`;

/** A CloudTrail management event as EventBridge delivers it ("AWS API Call via CloudTrail"). */
function cloudTrail(source: "sns" | "kms", eventName: string, requestParameters: Obj, resources: Obj[] = []): Obj {
  return {
    version: "0",
    id: "6f8f2f4c-1d3b-4c55-9d8e-2f1e0a9b7c6d",
    "detail-type": "AWS API Call via CloudTrail",
    source: `aws.${source}`,
    account: "123456789012",
    time: "2026-12-07T10:00:00Z",
    region: "eu-west-1",
    resources: [],
    detail: {
      eventVersion: "1.09",
      userIdentity: { type: "AssumedRole", arn: "arn:aws:sts::123456789012:assumed-role/dev/mallory" },
      eventTime: "2026-12-07T10:00:00Z",
      eventSource: `${source}.amazonaws.com`,
      eventName,
      awsRegion: "eu-west-1",
      sourceIPAddress: "203.0.113.7",
      requestParameters,
      resources,
    },
  };
}

describe("components/rollback: the paging path watches itself (issue 35, 13)", function () {
  this.timeout(60_000);

  it("matches each change to this topic, its subscriptions and its key, and nothing else (moto's EventBridge matcher)", () => {
    const p = pagingWatchPatterns(TOPIC, KEY, KEY_ID);
    const subscription = `${TOPIC}:9a1b2c3d-0000-4000-8000-000000000001`;
    const cases: [string, object, Obj, boolean][] = [
      // Each watched SNS call on this topic or one of its subscriptions.
      ...WATCHED_SNS_CALLS.map((call): [string, object, Obj, boolean] => [call, p.sns, cloudTrail("sns", call, { topicArn: TOPIC }), true]),
      ["an unsubscribe", p.sns, cloudTrail("sns", "Unsubscribe", { subscriptionArn: subscription }), true],
      ["a filter that drops pages", p.sns, cloudTrail("sns", "SetSubscriptionAttributes", { subscriptionArn: subscription, attributeName: "FilterPolicy" }), true],
      // Not another topic (even one whose name starts the same), not a publish.
      ["another topic's subscription", p.sns, cloudTrail("sns", "Unsubscribe", { subscriptionArn: `${TOPIC}-other:9a1b2c3d-0000-4000-8000-000000000001` }), false],
      ["another topic", p.sns, cloudTrail("sns", "DeleteTopic", { topicArn: `${TOPIC}-other` }), false],
      ["a publish", p.sns, cloudTrail("sns", "Publish", { topicArn: TOPIC }), false],
      // The key, named by id or ARN.
      ...WATCHED_KMS_CALLS.map((call): [string, object, Obj, boolean] => [call, p.kms, cloudTrail("kms", call, { keyId: KEY_ID }), true]),
      ["the key by ARN", p.kms, cloudTrail("kms", "ScheduleKeyDeletion", { keyId: KEY, pendingWindowInDays: 7 }), true],
      ["another key", p.kms, cloudTrail("kms", "DisableKey", { keyId: "1111aaaa-4b5a-6978-8a9b-0c1d2e3f4a5b" }), false],
      ["use, not a change", p.kms, cloudTrail("kms", "Decrypt", { keyId: KEY }), false],
      ["a KMS call in an SNS rule", p.sns, cloudTrail("kms", "DisableKey", { keyId: KEY_ID }), false],
    ];
    const got = eventPatternMatches(cases.map(([, pattern, event]) => [pattern, event] as const));
    assert.deepEqual(
      cases.map(([what], i) => [what, got[i]]),
      cases.map(([what, , , want]) => [what, want]),
    );
  });

  it("sends a plain-text notice to the stack's topic, which (and whose key) lets exactly these rules publish", async () => {
    // Act
    new RollbackFunction("rollback", { alarmNamePrefix: "remedy-prod" });
    await settle();

    // Assess: two rules, named within EventBridge's 64 characters, each targeting the topic.
    const topic = one("aws:sns/topic:Topic", "rollback-notifications").state.arn as string;
    const rules = ofType("aws:cloudwatch/eventRule:EventRule").filter((r) => r.name.startsWith("rollback-paging-"));
    assert.deepEqual(rules.map((r) => r.inputs.name).sort(), ["remedy-prod-paging-kms", "remedy-prod-paging-sns"]);
    const sns = JSON.parse(rules.find((r) => r.name === "rollback-paging-sns")?.inputs.eventPattern as string) as Obj;
    assert.deepEqual(sns.detail.$or[0], { requestParameters: { topicArn: [topic] } });
    for (const kind of ["sns", "kms"]) {
      const target = one("aws:cloudwatch/eventTarget:EventTarget", `rollback-paging-${kind}`).inputs as Obj;
      assert.equal(target.arn, topic);
      assert.match(target.inputTransformer.inputTemplate, /^"remedy: the paging path was changed: <call> by <by> at <at>/);
    }
    const ruleArn = `arn:aws:events:${MOCK_REGION}:${MOCK_ACCOUNT}:rule/remedy-prod-paging-`;
    const topicPolicy = JSON.parse(one("aws:sns/topicPolicy:TopicPolicy", "rollback-notifications").inputs.policy as string) as { Statement: Obj[] };
    const publish = topicPolicy.Statement.find((s) => s.Sid === "PagingWatchPublishes") as Obj;
    assert.deepEqual([publish.Principal, publish.Action, publish.Condition], [{ Service: "events.amazonaws.com" }, "sns:Publish", { ArnLike: { "aws:SourceArn": `${ruleArn}*` }, StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT } }]);
    const keyPolicy = JSON.parse(one("aws:kms/key:Key", "rollback-notifications").inputs.policy as string) as { Statement: Obj[] };
    const encrypt = keyPolicy.Statement.find((s) => s.Sid === "PagingWatchEncrypts") as Obj;
    assert.deepEqual([encrypt.Principal, encrypt.Action, encrypt.Condition.ArnLike], [{ Service: "events.amazonaws.com" }, ["kms:Decrypt", "kms:GenerateDataKey*"], { "aws:SourceArn": `${ruleArn}*` }]);
    // A prefix of 100 characters still gives names EventBridge takes.
    const long = pagingRuleName("a".repeat(100), "sns");
    assert.ok(long.length <= 64 && /^a{41}-[0-9a-f]{8}-paging-sns$/.test(long), long);
  });
});
