/**
 * The release table's resource policy: release state steers production (the driver points rules
 * at what a record names, image mode deploys what it holds), so only the identities that must
 * write it may: the rollback Lambda's and release driver's roles, the identity running
 * `pulumi up`, and the operators' roles (`remedy promote/abort/rollback`). Every other principal
 * of the account is denied writes, whatever its IAM policies allow.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

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

/** @internal The policy document. */
export function releaseTablePolicy(table: string, writers: readonly string[]) {
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
        Condition: { ArnNotEquals: { "aws:PrincipalArn": unique } },
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

export function restrictTableWrites(name: string, args: { readonly tableArn: pulumi.Input<string>; readonly writers: pulumi.Input<pulumi.Input<string>[]> }, opts: pulumi.CustomResourceOptions = {}): aws.dynamodb.ResourcePolicy {
  return new aws.dynamodb.ResourcePolicy(
    name,
    {
      resourceArn: args.tableArn,
      policy: pulumi.all([pulumi.output(args.tableArn), pulumi.output(args.writers)]).apply(([table, writers]) => JSON.stringify(releaseTablePolicy(table, writers))),
    },
    opts,
  );
}
