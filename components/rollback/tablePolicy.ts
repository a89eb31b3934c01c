/**
 * The release table's resource policy: release state steers production (the driver points rules
 * at what a record names, image mode deploys what it holds), so only the identities that must
 * write it may: the rollback Lambda's and release driver's roles, the identity running
 * `pulumi up`, the operators' roles (`remedy promote/abort/rollback`) and the promotion policy's
 * approvers (`remedy approve`). Every other principal
 * of the account is denied writes, whatever its IAM policies allow; and only the deployers may
 * change the policy or the table.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { approverPrincipalPatterns } from "../../core/promotion/policy";

/**
 * Every DynamoDB action that writes this table's items (TransactWriteItems is authorised per item
 * as these), among those DynamoDB accepts in a table's resource-based policy ("DynamoDB API
 * operations supported by resource-based policies", developer guide rbac-iam-actions).
 * `RestoreTableFromBackup` and `ImportTable` are not: they act on backup and import resources,
 * and PutResourcePolicy refuses a whole document naming them ("The following action names are
 * invalid", aws/aws-cdk#32230). They cannot write this table anyway: both create a new table.
 */
export const TABLE_WRITE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:PartiQLInsert",
  "dynamodb:PartiQLUpdate",
  "dynamodb:PartiQLDelete",
] as const;

/**
 * What would take the item policy away or the items with it: replacing or removing this policy,
 * changing or deleting the table, and a TTL setting (a TTL on `revision` would have DynamoDB
 * delete every state item). All among the actions DynamoDB accepts in a table's resource-based
 * policy. Only the deployers keep them; the account's root can always remove a table's policy
 * ("the root principal ... can perform DeleteResourcePolicy requests, even if your resource-based
 * policy explicitly denies", DynamoDB API reference), so this cannot lock the account out.
 */
export const TABLE_ADMIN_ACTIONS = ["dynamodb:PutResourcePolicy", "dynamodb:DeleteResourcePolicy", "dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTimeToLive"] as const;

/**
 * @internal The policy document. `approvers`: `aws:PrincipalArn` patterns (ArnLike) of the
 * promotion policy's approvers, who write their approvals here (`remedy approve`); the two
 * condition operators of one statement are ANDed, so a write is denied unless its principal is a
 * writer or matches an approver pattern.
 */
export function releaseTablePolicy(table: string, writers: readonly string[], deployers: readonly string[] = writers, approvers: readonly string[] = []) {
  const unique = [...new Set(writers)].sort();
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "OnlyReleaseWritersWrite",
        Effect: "Deny",
        Principal: "*",
        Action: [...TABLE_WRITE_ACTIONS],
        // The table itself: none of these actions has another resource type (no index or stream).
        Resource: table,
        Condition: { ArnNotEquals: { "aws:PrincipalArn": unique }, ...(approvers.length > 0 ? { ArnNotLike: { "aws:PrincipalArn": [...new Set(approvers)].sort() } } : {}) },
      },
      {
        // The policy protects itself (issue 35, 2): without this, any principal allowed
        // dynamodb:* removes it and becomes a writer.
        Sid: "OnlyDeployersAdminister",
        Effect: "Deny",
        Principal: "*",
        Action: [...TABLE_ADMIN_ACTIONS],
        Resource: table,
        Condition: { ArnNotEquals: { "aws:PrincipalArn": [...new Set(deployers)].sort() } },
      },
    ],
  };
}

/**
 * The ARN IAM evaluates as `aws:PrincipalArn` for the caller: a role's ARN (with its path) for an
 * assumed-role session, else the user's ARN.
 */
export function deployerArn(parent: pulumi.Resource): pulumi.Output<string> {
  const identity = aws.getCallerIdentityOutput({}, { parent });
  return aws.iam.getSessionContextOutput({ arn: identity.arn }, { parent }).issuerArn;
}

export function restrictTableWrites(
  name: string,
  args: {
    readonly tableArn: pulumi.Input<string>;
    readonly writers: pulumi.Input<pulumi.Input<string>[]>;
    readonly deployers: pulumi.Input<pulumi.Input<string>[]>;
    /** The promotion policy's approvers (`remedy:promotion.approvals.approvers`), as configured. */
    readonly approvers?: readonly string[];
  },
  opts: pulumi.CustomResourceOptions = {},
): aws.dynamodb.ResourcePolicy {
  return new aws.dynamodb.ResourcePolicy(
    name,
    {
      resourceArn: args.tableArn,
      policy: pulumi
        .all([pulumi.output(args.tableArn), pulumi.output(args.writers), pulumi.output(args.deployers)])
        .apply(([table, writers, deployers]) => JSON.stringify(releaseTablePolicy(table, writers, deployers, approverPrincipalPatterns(args.approvers ?? [])))),
    },
    opts,
  );
}
