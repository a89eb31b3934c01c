/**
 * Pages when someone changes the paging path itself (issue 35, 13): EventBridge rules on the
 * CloudTrail records of the stack topic's subscriptions and settings and of its key, sending a
 * plain-text notice to the topic. The resource policies deny the worst of it to all but the
 * deployers (topicPolicies.ts); what they cannot deny (an email recipient's unauthenticated
 * unsubscribe link, a subscription's owner unsubscribing, a deployer's own change) is told here.
 *
 * AWS: "AWS API Call via CloudTrail" events reach EventBridge only for management events a trail
 * with logging enabled records ("AWS service events delivered via AWS CloudTrail", EventBridge
 * User Guide); KMS records carry the key's ARN in `resources`, SNS ones the topic or subscription
 * ARN in `requestParameters`, KMS ones the key as the caller named it. A deleted topic or disabled key cannot carry its own page: the
 * policies keep those to the deployers, and the rule still records the attempt in its metrics.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { pagingRuleName } from "./topicPolicies";

/** SNS calls that change who is paged, or whether. */
export const WATCHED_SNS_CALLS = ["DeleteTopic", "SetTopicAttributes", "Subscribe", "Unsubscribe", "SetSubscriptionAttributes", "AddPermission", "RemovePermission", "PutDataProtectionPolicy"] as const;
/** KMS calls that stop the topic's encryption, or change who may use the key. */
export const WATCHED_KMS_CALLS = ["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "CreateGrant", "RevokeGrant"] as const;

/** The event patterns of the two rules, for a topic and its key (its ARN and id). */
export function pagingWatchPatterns(topicArn: string, keyArn: string, keyId: string): { readonly sns: object; readonly kms: object } {
  const call = (source: string, eventSource: string, names: readonly string[]) => ({ source: [source], "detail-type": ["AWS API Call via CloudTrail"], detail: { eventSource: [eventSource], eventName: [...names] } });
  const sns = call("aws.sns", "sns.amazonaws.com", WATCHED_SNS_CALLS);
  const kms = call("aws.kms", "kms.amazonaws.com", WATCHED_KMS_CALLS);
  return {
    // A subscription's ARN is the topic's followed by ":<id>".
    sns: { ...sns, detail: { ...sns.detail, $or: [{ requestParameters: { topicArn: [topicArn] } }, { requestParameters: { subscriptionArn: [{ prefix: `${topicArn}:` }] } }] } },
    // The key as the caller named it (its id or ARN), or as CloudTrail resolved it in `resources`
    // (EventBridge matches a field inside an array of objects; moto does not, so that branch is
    // unproven here). A call naming the key by an alias matches the second branch only.
    kms: { ...kms, detail: { ...kms.detail, $or: [{ requestParameters: { keyId: [keyArn, keyId] } }, { resources: { ARN: [keyArn] } }] } },
  };
}

/** The notice each rule sends: what was called on what, by whom, from where; plain text. */
const NOTICE = {
  inputPaths: { call: "$.detail.eventName", by: "$.detail.userIdentity.arn", at: "$.time", from: "$.detail.sourceIPAddress", account: "$.account", region: "$.region" },
  inputTemplate: '"remedy: the paging path was changed: <call> by <by> at <at> (from <from>, account <account>, <region>). If this was not a planned change, check the stack topic\'s subscriptions and its key (docs/security.md) and run pulumi up."',
};

export function watchPaging(name: string, args: { readonly alarmNamePrefix: string; readonly topic: aws.sns.Topic; readonly key: aws.kms.Key; readonly tags: Record<string, string> }, parent: pulumi.Resource): aws.cloudwatch.EventRule[] {
  const patterns = pulumi.all([args.topic.arn, args.key.arn, args.key.keyId]).apply(([t, k, id]) => pagingWatchPatterns(t, k, id));
  return (["sns", "kms"] as const).map((kind) => {
    const rule = new aws.cloudwatch.EventRule(
      `${name}-paging-${kind}`,
      { name: pagingRuleName(args.alarmNamePrefix, kind), description: `remedy ${args.alarmNamePrefix}: pages when the notification ${kind === "sns" ? "topic or its subscriptions" : "topic's key"} change`, eventPattern: patterns.apply((p) => JSON.stringify(p[kind])), tags: args.tags },
      { parent },
    );
    new aws.cloudwatch.EventTarget(`${name}-paging-${kind}`, { rule: rule.name, arn: args.topic.arn, inputTransformer: NOTICE }, { parent });
    return rule;
  });
}
