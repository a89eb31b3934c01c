/**
 * The operator role's policy (docs/security.md, issue 35, 4) asked of iam-simulate with every
 * request each CLI command makes: all allowed; and the requests that would move traffic, write
 * release state, silence an alarm or forge a caller: all denied. The document is also checked
 * against AWS's service authorization data (action names, resource types, condition keys).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { operatorPolicy } from "../../components/rollback/operatorPolicy";
import { allows } from "../helpers/iamPolicy";
import { iamProblems } from "../helpers/iamReference";

const ACCOUNT = "123456789012";
const FN = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:rollback-5f1c2e7`;
const DRIVER = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:release-driver-0c9d4a1`;
const TABLE = `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/remedy-prod-releases`;
const ALARMS = `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:alarm:remedy-prod/*`;
const ALARM = `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:alarm:remedy-prod/payments/green/error-rate`;
const RULE = `arn:aws:elasticloadbalancing:eu-west-1:${ACCOUNT}:listener-rule/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee`;
const TG = `arn:aws:elasticloadbalancing:eu-west-1:${ACCOUNT}:targetgroup/payments-green-c7509530/9fb3a3a74d6f1526`;

type Req = { action: string; resource: string; context?: Record<string, string> };

/** What each command sends AWS, as the operator (the overrides' writes happen in the function). */
const COMMAND_REQUESTS: Record<string, Req[]> = {
  status: [
    { action: "dynamodb:Scan", resource: TABLE },
    { action: "dynamodb:BatchGetItem", resource: TABLE },
    { action: "cloudwatch:DescribeAlarms", resource: ALARM },
  ],
  "status --outputs": [
    { action: "lambda:GetFunctionConfiguration", resource: FN },
    { action: "lambda:GetFunctionConfiguration", resource: DRIVER },
  ],
  "status <service>": [
    { action: "dynamodb:GetItem", resource: TABLE },
    { action: "dynamodb:Query", resource: TABLE },
    { action: "cloudwatch:DescribeAlarms", resource: ALARM },
  ],
  history: [{ action: "dynamodb:Query", resource: TABLE }],
  versions: [
    { action: "cloudwatch:GetMetricData", resource: "*" },
    { action: "cloudwatch:GetInsightRuleReport", resource: `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:insight-rule/remedy-prod-payments-legacy-callers` },
    { action: "dynamodb:GetItem", resource: TABLE },
    { action: "dynamodb:Query", resource: TABLE },
  ],
  ...Object.fromEntries(
    ["rollback", "abort", "promote"].map((c) => [
      c,
      [
        { action: "dynamodb:GetItem", resource: TABLE },
        { action: "lambda:InvokeFunctionUrl", resource: FN, context: { "lambda:FunctionUrlAuthType": "AWS_IAM" } },
        { action: "lambda:InvokeFunction", resource: FN, context: { "lambda:InvokedViaFunctionUrl": "true" } },
      ],
    ]),
  ),
};

/** What an operator must never be able to do. */
const NEVER: (Req & { why: string })[] = [
  { action: "elasticloadbalancing:ModifyRule", resource: RULE, why: "move traffic" },
  { action: "cloudwatch:SetAlarmState", resource: ALARM, why: "silence or fake an alarm" },
  { action: "cloudwatch:DisableAlarmActions", resource: ALARM, why: "silence an alarm" },
  { action: "cloudwatch:DeleteAlarms", resource: ALARM, why: "delete an alarm" },
  { action: "dynamodb:PutItem", resource: TABLE, why: "forge a record" },
  { action: "dynamodb:UpdateItem", resource: TABLE, why: "forge a record" },
  { action: "dynamodb:DeleteItem", resource: TABLE, why: "erase history" },
  { action: "dynamodb:PutResourcePolicy", resource: TABLE, why: "lift the table's policy" },
  { action: "lambda:InvokeFunction", resource: FN, context: { "lambda:InvokedViaFunctionUrl": "false" }, why: "invoke directly with a made-up caller" },
  { action: "lambda:InvokeFunctionUrl", resource: FN, context: { "lambda:FunctionUrlAuthType": "NONE" }, why: "call a URL without IAM auth" },
  { action: "lambda:UpdateFunctionCode", resource: FN, why: "replace the function" },
  { action: "lambda:InvokeFunction", resource: DRIVER, why: "tick the release driver (its schedule does)" },
  { action: "lambda:GetFunctionConfiguration", resource: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:another-stacks-function`, why: "read another function's configuration" },
  { action: "elasticloadbalancing:DeregisterTargets", resource: TG, why: "empty a target group" },
  { action: "dynamodb:GetItem", resource: `arn:aws:dynamodb:eu-west-1:${ACCOUNT}:table/another-stack`, why: "read another stack" },
  { action: "cloudwatch:GetInsightRuleReport", resource: `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:insight-rule/another-stacks-rule`, why: "read another stack's callers" },
  { action: "cloudwatch:DeleteInsightRules", resource: `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:insight-rule/remedy-prod-payments-legacy-callers`, why: "stop counting a lane's callers" },
];

describe("components/operatorPolicy: what an operator may do (issue 35, 4)", () => {
  const policy = operatorPolicy({ functionArn: FN, table: TABLE, alarms: ALARMS, functions: [FN, DRIVER], insightRules: `arn:aws:cloudwatch:eu-west-1:${ACCOUNT}:insight-rule/remedy-prod-*` });

  it("allows every request each CLI command makes", async () => {
    for (const [command, requests] of Object.entries(COMMAND_REQUESTS)) {
      for (const r of requests) assert.ok(await allows(policy, r), `remedy ${command}: ${r.action} on ${r.resource} ${JSON.stringify(r.context ?? {})}`);
    }
  });

  it("denies moving traffic, writing release state, silencing alarms and forging the caller", async () => {
    for (const r of NEVER) assert.equal(await allows(policy, r), false, `${r.action} (${r.why})`);
  });

  it("is valid against AWS's service authorization data", async () => {
    assert.deepEqual(await iamProblems(policy, "identity"), []);
  });

  it("is the policy docs/security.md shows", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "security.md"), "utf8");
    const shown = /```json operator-policy\n([\s\S]*?)\n```/.exec(doc)?.[1];
    assert.ok(shown, "docs/security.md has the operator policy in a ```json operator-policy block");
    const example = operatorPolicy({ functionArn: "arn:aws:lambda:<region>:<account>:function:<rollback function>", table: "arn:aws:dynamodb:<region>:<account>:table/<project>-<stack>-releases", alarms: "arn:aws:cloudwatch:<region>:<account>:alarm:<project>-<stack>/*", functions: ["arn:aws:lambda:<region>:<account>:function:<rollback function>", "arn:aws:lambda:<region>:<account>:function:<release driver function>"], insightRules: "arn:aws:cloudwatch:<region>:<account>:insight-rule/<project>-<stack>-*" });
    assert.deepEqual(JSON.parse(shown), example);
  });
});
