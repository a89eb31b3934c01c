import { strict as assert } from "node:assert";
import { StackNotifications } from "../../components/notifications/stackNotifications";
import { ConfigError, parseStackConfig } from "../../core/config";
import { remedyConfig } from "../helpers/fixtures";
import { buildStack } from "../../stacks/program";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { one, ofType, recorded, settle } from "../helpers/pulumiMocks";
import { denies } from "../helpers/iamPolicy";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TOPIC = "arn:aws:sns:eu-west-1:123456789012:remedy-prod-notifications";
const KEY = "arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";

describe("components/StackNotifications: chat channels and webhooks on the stack's topic", () => {
  it("subscribes Slack and Teams through Chatbot with a role that can do nothing, and webhooks with filter policies", async () => {
    // Prepare
    const notifications = parseStackConfig({
      ...remedyConfig("prod"),
      notifications: {
        slack: [{ name: "releases", workspaceId: "T07EA123LEP", channelId: "C07EZ1ABC23" }],
        teams: [{ name: "oncall", teamId: "5d0bc8b8-2bd8-4f24-9d50-9d8f9d4f1f11", tenantId: "1b9b4b9e-aaaa-4bbb-8ccc-0123456789ab", channelId: "19:abc@thread.tacv2" }],
        webhooks: [{ url: "https://hooks.example.com/remedy/rollbacks", events: ["rolled-back", "escalated"] }, { url: "https://hooks.example.com/remedy/all" }],
      },
    }).notifications;
    // Act
    new StackNotifications("notifications", { prefix: "remedy-prod", topicArn: TOPIC, topicKeyArn: KEY, notifications });
    await settle();
    // Assess
    const role = one("aws:iam/role:Role", "notifications-chatbot").inputs as Obj;
    assert.deepEqual(JSON.parse(role.assumeRolePolicy as string).Statement[0].Principal, { Service: "chatbot.amazonaws.com" });
    assert.equal(ofType("aws:iam/rolePolicy:RolePolicy").length + ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").length, 0, "no permissions for the bot");
    assert.equal(ofType("aws:lambda/function:Function").length, 0, "no relay: no channel filters events");
    const slack = one("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration", "notifications-slack-releases").inputs as Obj;
    assert.deepEqual(
      [slack.configurationName, slack.slackTeamId, slack.slackChannelId, slack.snsTopicArns, slack.guardrailPolicyArns],
      ["remedy-prod-releases", "T07EA123LEP", "C07EZ1ABC23", [TOPIC], ["arn:aws:iam::aws:policy/AWSDenyAll"]],
    );
    const teams = one("aws:chatbot/teamsChannelConfiguration:TeamsChannelConfiguration", "notifications-teams-oncall").inputs as Obj;
    assert.deepEqual([teams.configurationName, teams.teamId, teams.channelId, teams.snsTopicArns], ["remedy-prod-oncall", "5d0bc8b8-2bd8-4f24-9d50-9d8f9d4f1f11", "19:abc@thread.tacv2", [TOPIC]]);
    const hooks = ofType("aws:sns/topicSubscription:TopicSubscription").map((r) => r.inputs as Obj);
    assert.deepEqual(
      hooks.map((h) => [h.protocol, h.endpoint, h.filterPolicy ? JSON.parse(h.filterPolicy as string) : null, h.filterPolicyScope ?? null]).sort((a, b) => String(b[1]).localeCompare(String(a[1]))),
      [
        ["https", "https://hooks.example.com/remedy/rollbacks", { event: ["rolled-back", "escalated"] }, "MessageAttributes"],
        ["https", "https://hooks.example.com/remedy/all", null, null],
      ],
    );
  });

  it("gives a chat channel that takes only some events a topic of its own, fed by a relay whose subscription filters on event", async () => {
    // Prepare
    const notifications = parseStackConfig({
      ...remedyConfig("prod"),
      notifications: { slack: [{ name: "pager", workspaceId: "T07EA123LEP", channelId: "C07EZ1ABC23", events: ["rolled-back", "escalated"] }] },
    }).notifications;
    // Act
    const n = new StackNotifications("notifications", { prefix: "remedy-prod", topicArn: TOPIC, topicKeyArn: KEY, notifications });
    await settle();
    // Assess: the channel's own topic, encrypted with the stack topic's key, is what Chatbot reads.
    const topic = one("aws:sns/topic:Topic", "notifications-pager");
    assert.equal((topic.inputs as Obj).kmsMasterKeyId, KEY);
    const slack = one("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration", "notifications-slack-pager").inputs as Obj;
    assert.deepEqual(slack.snsTopicArns, [topic.state.arn]);
    // The relay: invoked by SNS from the stack topic only, with the filter; it may publish only to the channel's topic.
    const sub = one("aws:sns/topicSubscription:TopicSubscription", "notifications-pager-relay").inputs as Obj;
    assert.deepEqual([sub.topic, sub.protocol, JSON.parse(sub.filterPolicy as string), sub.filterPolicyScope], [TOPIC, "lambda", { event: ["rolled-back", "escalated"] }, "MessageAttributes"]);
    const perm = one("aws:lambda/permission:Permission", "notifications-pager-relay").inputs as Obj;
    assert.deepEqual([perm.principal, perm.sourceArn, perm.action], ["sns.amazonaws.com", TOPIC, "lambda:InvokeFunction"]);
    const fn = one("aws:lambda/function:Function", "notifications-pager-relay").inputs as Obj;
    assert.equal(fn.environment.variables.TARGET_TOPIC_ARN, topic.state.arn);
    const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "notifications-pager-relay").inputs.policy as string) as Obj;
    const publish = (policy.Statement as Obj[]).find((st) => st.Sid === "PublishToTheChannelTopic") as Obj;
    assert.deepEqual(publish.Resource, [topic.state.arn]);
    assert.deepEqual(Object.keys(n.relays), ["pager"]);
    // Not SNS's default policy (issue 35, 7): only the relay publishes into the channel, over TLS;
    // any other principal of the account is denied, whatever its IAM policies allow.
    const tp = JSON.parse(one("aws:sns/topicPolicy:TopicPolicy", "notifications-pager").inputs.policy as string) as { Statement: unknown[] };
    assert.equal(one("aws:sns/topicPolicy:TopicPolicy", "notifications-pager").inputs.arn, topic.state.arn);
    const relayRole = one("aws:iam/role:Role", "notifications-pager-relay").state.arn as string;
    const publishBy = (who: string, tls = "true") => denies(tp, { action: "sns:Publish", resource: topic.state.arn as string, context: { "aws:PrincipalArn": who, "aws:PrincipalIsAWSService": "false", "aws:SecureTransport": tls } });
    assert.equal(await publishBy(relayRole), false, "the relay publishes");
    assert.equal(await publishBy("arn:aws:iam::123456789012:role/someone"), true, "anyone else is denied");
    assert.equal(await publishBy(relayRole, "false"), true, "TLS only");
  });

  it("refuses two channels with one name before registering anything", async () => {
    recorded.resources.length = 0;
    const notifications = { slack: [{ name: "ops", workspaceId: "T07EA123LEP", channelId: "C07EZ1ABC23" }], teams: [{ name: "ops", teamId: "5d0bc8b8-2bd8-4f24-9d50-9d8f9d4f1f11", tenantId: "1b9b4b9e-aaaa-4bbb-8ccc-0123456789ab", channelId: "19:x" }], webhooks: [] };
    assert.throws(() => new StackNotifications("n", { prefix: "remedy-prod", topicArn: TOPIC, topicKeyArn: KEY, notifications }), /`notifications`: channel name ops is used twice/);
    await settle();
    assert.deepEqual(recorded.resources.filter((r) => r.type !== "remedy:notifications:StackNotifications"), []);
  });

  it("names the field and the fix for bad destinations in config", () => {
    // Act
    let issues: string[] = [];
    try {
      parseStackConfig({
        ...remedyConfig("prod"),
        notifications: { steps: "yes", slack: [{ name: "Releases", workspaceId: "acme", channelId: "#releases" }], webhooks: [{ url: "http://hooks.example.com/x", events: ["rollback"] }] },
      });
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      issues = err.issues.map((i) => `${i.path}: ${i.message}`);
    }
    // Assess
    assert.deepEqual(issues.map((i) => i.split(":")[0]), [
      "notifications.steps",
      "notifications.slack[0].name",
      "notifications.slack[0].workspaceId",
      "notifications.slack[0].channelId",
      "notifications.webhooks[0].url",
      "notifications.webhooks[0].events[0]",
    ]);
    assert.match(issues[5], /must be one of release-started, step-advanced, paused, .*rolled-back/);
    assert.match(issues[4], /must be an https URL/);
    assert.deepEqual(parseStackConfig(remedyConfig("prod")).notifications, { steps: false, slack: [], teams: [], webhooks: [] });
  });

  describe("where the Chatbot API exists (issue 34, 4)", () => {
    const slack = { slack: [{ name: "oncall", workspaceId: "T07EA123LEP", channelId: "C07EZ1ABC23" }] };
    const build = (notifications: Obj, region: string) => {
      recorded.resources.length = 0;
      const config = parseStackConfig({ ...remedyConfig("prod"), notifications });
      buildStack(config, { alarmNamePrefix: "remedy-prod", releases: new MemoryReleaseBackend(), by: "pulumi:prod", aws: { region, assumeRoles: [] } });
    };

    it("refuses Slack and Teams channels in a region without the Chatbot API unless a Chatbot region is set, before anything is registered", () => {
      assert.throws(() => build(slack, "ap-northeast-1"), {
        message:
          "notifications.chatbotRegion: the stack's region ap-northeast-1 has no AWS Chatbot API, so its Slack and Teams channels cannot be created there; " +
          "set remedy:notifications.chatbotRegion to one of us-east-2, us-west-2, eu-west-1, ap-southeast-1 (the channels are created there and still receive this stack's topic in ap-northeast-1)",
      });
      assert.equal(recorded.resources.length, 0, "nothing registered");
      // Webhooks alone need no Chatbot: not refused.
      assert.doesNotThrow(() => build({ webhooks: [{ url: "https://hooks.example.com/remedy" }] }, "ap-northeast-1"));
      assert.throws(() => parseStackConfig({ ...remedyConfig("prod"), notifications: { ...slack, chatbotRegion: "eu-central-1" } }), /notifications\.chatbotRegion: must be one of us-east-2, us-west-2, eu-west-1, ap-southeast-1, the regions with the AWS Chatbot API/);
    });

    it("creates the channels in the Chatbot region set (or the stack's, where it has the API)", async () => {
      build({ ...slack, chatbotRegion: "eu-west-1" }, "ap-northeast-1");
      await settle();
      assert.equal((one("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration", "notifications-slack-oncall").inputs as Obj).region, "eu-west-1");
      build(slack, "us-west-2");
      await settle();
      assert.equal((one("aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration", "notifications-slack-oncall").inputs as Obj).region, "us-west-2");
    });
  });
});
