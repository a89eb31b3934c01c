/**
 * The stack topic's and its key's resource policies (issue 35, 7 and 13): who may publish,
 * encrypt, administer; everyone else is denied what can be denied.
 */
import { createHash } from "node:crypto";

/**
 * The name of one of the stack's EventBridge rules watching its paging path (see pagingWatch.ts):
 * `<prefix>-paging-<kind>`, within EventBridge's 64 characters (a long prefix is cut and hashed).
 */
export function pagingRuleName(prefix: string, kind: "sns" | "kms"): string {
  return `${pagingRuleBase(prefix)}-paging-${kind}`;
}
const pagingRuleBase = (prefix: string) => (prefix.length <= 50 ? prefix : `${prefix.slice(0, 41)}-${createHash("sha256").update(prefix).digest("hex").slice(0, 8)}`);
/** Every paging rule of the stack, as an ARN pattern (the topic's and key's `aws:SourceArn`). */
const pagingRules = (region: string, account: string, prefix: string) => `arn:aws:events:${region}:${account}:rule/${pagingRuleBase(prefix)}-paging-*`;

/**
 * @internal The topic key's policy: the account administers it (IAM policies then grant its use,
 * as the rollback role's does), and CloudWatch may encrypt alarm notifications with it (AWS:
 * "CloudWatch alarms ... encrypted topics need a customer managed key whose policy allows
 * cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*").
 */
export function topicKeyPolicy(account: string, o: { readonly region: string; readonly alarmNamePrefix: string; readonly administrators?: readonly string[] }) {
  const admins = [...new Set([`arn:aws:iam::${account}:root`, ...(o.administrators ?? [])])].sort();
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "AccountAdministers", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "kms:*", Resource: "*" },
      {
        // Only this account's alarms of this stack (confused deputy: CloudWatch acts for anyone).
        Sid: "CloudWatchAlarmsEncrypt",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
        Resource: "*",
        Condition: { StringEquals: { "aws:SourceAccount": account }, ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:${o.region}:${account}:alarm:${o.alarmNamePrefix}*` } },
      },
      {
        // The stack's rules watching the paging path publish to the encrypted topic ("Amazon SNS
        // encrypted topics as EventBridge targets" need events.amazonaws.com to use the key).
        Sid: "PagingWatchEncrypts",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
        Resource: "*",
        Condition: { StringEquals: { "aws:SourceAccount": account }, ArnLike: { "aws:SourceArn": pagingRules(o.region, account, o.alarmNamePrefix) } },
      },
      ...((o.administrators ?? []).length > 0
        ? [
            {
              // Pages cannot be silenced by disabling or deleting the key (issue 35, 13).
              Sid: "OnlyDeployersDisableOrRepolicy",
              Effect: "Deny",
              Principal: { AWS: "*" },
              Action: ["kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"],
              Resource: "*",
              Condition: { ArnNotEquals: { "aws:PrincipalArn": admins } },
            },
          ]
        : []),
    ],
  };
}

/**
 * @internal The notification topic's policy (replacing SNS's default, which lets every principal
 * of the account publish, subscribe and delete): this stack's alarms (CloudWatch, with
 * aws:SourceArn/aws:SourceAccount) and the named roles may publish; every other principal is
 * denied `sns:Publish` whatever its IAM policies allow; nothing without TLS.
 */
export function topicPolicy(t: { topic: string; account: string; region: string; alarmNamePrefix: string; publishers: string[]; administrators?: readonly string[] }) {
  return {
    Version: "2012-10-17",
    Statement: [
      ...((t.administrators ?? []).length > 0
        ? [
            {
              // Pages cannot be silenced by deleting the topic, changing its policy or delivery,
              // or subscribing an outside endpoint (issue 35, 13); AWS services keep what their own
              // statements grant (Chatbot's subscriptions).
              Sid: "OnlyDeployersAdminister",
              Effect: "Deny",
              Principal: "*",
              Action: ["sns:DeleteTopic", "sns:SetTopicAttributes", "sns:Subscribe", "sns:AddPermission", "sns:RemovePermission"],
              Resource: t.topic,
              Condition: { ArnNotEquals: { "aws:PrincipalArn": [...(t.administrators ?? [])].sort() }, Bool: { "aws:PrincipalIsAWSService": "false" } },
            },
          ]
        : []),
      {
        Sid: "ThisStacksAlarmsPublish",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: "sns:Publish",
        Resource: t.topic,
        Condition: { ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:${t.region}:${t.account}:alarm:${t.alarmNamePrefix}*` }, StringEquals: { "aws:SourceAccount": t.account } },
      },
      {
        Sid: "PagingWatchPublishes",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sns:Publish",
        Resource: t.topic,
        Condition: { ArnLike: { "aws:SourceArn": pagingRules(t.region, t.account, t.alarmNamePrefix) }, StringEquals: { "aws:SourceAccount": t.account } },
      },
      ...publishOnlyBy(t.topic, t.publishers),
    ],
  };
}

/**
 * The statements that keep a topic's messages remedy's: only `publishers` (roles) publish, every
 * other principal is denied (AWS services keep what their own statements grant), TLS only. The
 * stack's topic and each filtered chat channel's topic have them (issue 35, 7).
 */
export function publishOnlyBy(topic: string, publishers: readonly string[]) {
  return [
    { Sid: "StackRolesPublish", Effect: "Allow", Principal: { AWS: [...publishers] }, Action: "sns:Publish", Resource: topic },
    {
      Sid: "NobodyElsePublishes",
      Effect: "Deny",
      Principal: "*",
      Action: "sns:Publish",
      Resource: topic,
      Condition: { ArnNotEquals: { "aws:PrincipalArn": [...publishers] }, Bool: { "aws:PrincipalIsAWSService": "false" } },
    },
    { Sid: "TlsOnly", Effect: "Deny", Principal: "*", Action: "sns:*", Resource: topic, Condition: { Bool: { "aws:SecureTransport": "false" } } },
  ];
}

