/**
 * What `pulumi up` cannot see in its own state and must check live (issue 35, 2 and 14): Pulumi
 * diffs its inputs against its state, so the release table's policy or a rule's `remedy:*` tags
 * changed outside Pulumi would stay changed. Each run compares them with what the stack deploys
 * once the resources are in place, puts them back (preview only says so) and warns; the release
 * records wait for these outputs.
 */
import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ServiceSpec } from "../core/config";
import { driverRole } from "../core/driverConfig";
import { DRIVER_RULE_TAG, ROLLBACK_RULE_TAG } from "../core/naming";
import type { ReleaseBackend } from "./releases";

/** The tags that let this stack's rollback Lambda (and its driver, stepping or watching) modify a service's rule. */
export function ruleTagsFor(spec: ServiceSpec, alarmNamePrefix: string): Record<string, string> {
  return { [ROLLBACK_RULE_TAG]: alarmNamePrefix, ...(driverRole(spec) ? { [DRIVER_RULE_TAG]: alarmNamePrefix } : {}) };
}

/**
 * The table policy's id once its live policy is the one this stack writes: one removed or edited
 * outside Pulumi (by a principal allowed dynamodb:* before this version denied it) is put back.
 */
export function tablePolicyInPlace(tablePolicy: aws.dynamodb.ResourcePolicy, releases: ReleaseBackend): pulumi.Output<string> {
  return pulumi.all([tablePolicy.id, tablePolicy.resourceArn, tablePolicy.policy]).apply(async ([id, arn, doc]) => {
    if (!releases.ensureTablePolicy) return id;
    const r = await releases.ensureTablePolicy(arn, doc, pulumi.runtime.isDryRun());
    if (r !== "in-place") {
      void pulumi.log.warn(
        `the release table's resource policy is ${r.found === "missing" ? "missing" : "not the one this stack wrote"} (changed outside Pulumi); ` +
          `${r.restored ? "put it back" : "pulumi up puts it back"}. Find who changed it in CloudTrail (dynamodb PutResourcePolicy/DeleteResourcePolicy) and check \`remedy history\` for records written meanwhile`,
      );
    }
    return id;
  });
}

/**
 * The service's rule ARN once its live `remedy:*` tags are `want`: both Lambdas' ModifyRule is
 * scoped by them, so a tag removed outside Pulumi (the AWS Load Balancer Controller's role may
 * RemoveTags on any rule) silently disables automatic rollback, and one added extends a role's reach.
 */
export function ruleTagsInPlace(service: string, ruleArn: pulumi.Output<string>, want: Readonly<Record<string, string>>, releases: ReleaseBackend): pulumi.Output<string> {
  return ruleArn.apply(async (arn) => {
    if (!releases.ensureRuleTags) return arn;
    const r = await releases.ensureRuleTags(arn, want, pulumi.runtime.isDryRun());
    if (r !== "in-place") {
      const rollbackHit = r.wrong.some((w) => w.startsWith(`${ROLLBACK_RULE_TAG} `) || w.startsWith(`${ROLLBACK_RULE_TAG}=`));
      void pulumi.log.warn(
        `service ${service}: its rule's remedy tags were changed outside Pulumi (${r.wrong.join(", ")}): automatic rollback ${rollbackHit ? "could not flip it" : "is unaffected"}; ` +
          `${r.restored ? "put them back" : "pulumi up puts them back"}. Find who in CloudTrail (elasticloadbalancing RemoveTags/AddTags) and keep remedy:* tags out of others' reach (docs/security.md, aws:TagKeys)`,
      );
    }
    return arn;
  });
}
