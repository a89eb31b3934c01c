/**
 * The operator role's IAM policy (docs/security.md): what `remedy status` (with `--outputs`), `history`, `rollback`,
 * `abort`, `promote` and `versions` need, and nothing that moves traffic, writes release state or
 * silences an alarm (so not `remedy retire`, which records its decision: a deployer's). The overrides go through the stack's override URL (lambdas/commons/overrides.ts), which
 * acts with the rollback function's own role and records the caller AWS verified.
 */

export interface OperatorPolicyArgs {
  /** The rollback function (its URL is the override endpoint). */
  readonly functionArn: string;
  /** The release table (read only). */
  readonly table: string;
  /** The stack's alarms, `arn:aws:cloudwatch:<region>:<account>:alarm:<prefix>/*` (read only). */
  readonly alarms: string;
  /** The stack's functions (rollback, release driver), whose code `status --outputs` compares. */
  readonly functions: readonly string[];
  /** The stack's Contributor Insights rules, `arn:aws:cloudwatch:<region>:<account>:insight-rule/<prefix>-*` (read only). */
  readonly insightRules: string;
}

export function operatorPolicy(a: OperatorPolicyArgs) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        // The overrides: a SigV4-signed POST to the function URL (auth type AWS_IAM only).
        Sid: "CallTheOverrideUrl",
        Effect: "Allow",
        Action: ["lambda:InvokeFunctionUrl"],
        Resource: a.functionArn,
        Condition: { StringEquals: { "lambda:FunctionUrlAuthType": "AWS_IAM" } },
      },
      {
        // Function URLs created since October 2025 also need InvokeFunction ("Control access to
        // Lambda function URLs"); only through the URL, never a direct invoke, which could carry a
        // made-up request context naming someone else.
        Sid: "InvokeOnlyThroughTheUrl",
        Effect: "Allow",
        Action: ["lambda:InvokeFunction"],
        Resource: a.functionArn,
        Condition: { Bool: { "lambda:InvokedViaFunctionUrl": "true" } },
      },
      {
        Sid: "ReadReleaseState",
        Effect: "Allow",
        Action: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable"],
        Resource: [a.table],
      },
      { Sid: "ReadTheStacksAlarms", Effect: "Allow", Action: ["cloudwatch:DescribeAlarms"], Resource: [a.alarms] },
      {
        // `remedy status --outputs`: each function's CodeSha256 (its configuration; no invoke).
        Sid: "ReadTheStacksCodeHashes",
        Effect: "Allow",
        Action: ["lambda:GetFunctionConfiguration"],
        Resource: [...a.functions],
      },
      {
        // ELB's Describe* actions support no resource-level scoping; they are read-only.
        Sid: "ReadRulesAndTargetHealth",
        Effect: "Allow",
        Action: ["elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetHealth"],
        Resource: "*",
      },
      {
        // `remedy versions`: a lane's requests per day (GetMetricData supports no resource-level scoping).
        Sid: "ReadLaneRequests",
        Effect: "Allow",
        Action: ["cloudwatch:GetMetricData"],
        Resource: "*",
      },
      // `remedy versions`: a lane's top callers, from this stack's Contributor Insights rules only.
      { Sid: "ReadLaneCallers", Effect: "Allow", Action: ["cloudwatch:GetInsightRuleReport"], Resource: [a.insightRules] },
    ],
  };
}
