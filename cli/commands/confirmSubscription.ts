/**
 * `remedy confirm-subscription <confirmation link>` (issue 35, 13): confirms an email (or other)
 * subscription to a stack topic with `AuthenticateOnUnsubscribe`, so the "unsubscribe" link in
 * every later message no longer works: only a signed `sns:Unsubscribe` by the topic's owner or the
 * subscription's owner does (SNS API Reference, ConfirmSubscription). Clicking the link in the
 * confirmation email confirms without it. Run it with a deployer's credentials (the topic policy
 * leaves subscriptions to them) in place of clicking.
 */
import { ConfirmSubscriptionCommand, SNSClient } from "@aws-sdk/client-sns";
import { printable } from "../../lambdas/commons/text";

/** The topic and token of an SNS confirmation link; an error string naming the fix otherwise. */
export function parseConfirmationLink(link: string): { readonly topicArn: string; readonly token: string } | string {
  let u: URL;
  try {
    u = new URL(link);
  } catch {
    return `${JSON.stringify(link)} is not a URL; copy the "Confirm subscription" link from the email (https://sns.<region>.amazonaws.com/confirmation.html?TopicArn=...&Token=...)`;
  }
  const topicArn = u.searchParams.get("TopicArn") ?? "";
  const token = u.searchParams.get("Token") ?? "";
  if (u.protocol !== "https:" || !/^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(u.hostname) || !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(topicArn) || !/^[0-9a-f]{16,2048}$/i.test(token)) {
    return `${JSON.stringify(link)} is not an SNS confirmation link (https://sns.<region>.amazonaws.com/confirmation.html?TopicArn=...&Token=...)`;
  }
  return { topicArn, token };
}

export async function confirmSubscriptionCommand(args: readonly string[], json: boolean, out: (s: string) => void, err: (s: string) => void, client?: SNSClient): Promise<number> {
  const fail = (message: string, code: number) => {
    err(json ? JSON.stringify({ error: message }) : `remedy confirm-subscription: ${message}`);
    return code;
  };
  if (args.length !== 1) return fail("give the confirmation link, quoted: remedy confirm-subscription '<link>'", 2);
  const parsed = parseConfirmationLink(args[0]);
  if (typeof parsed === "string") return fail(parsed, 2);
  const region = parsed.topicArn.split(":")[3];
  try {
    const r = await (client ?? new SNSClient({ region })).send(new ConfirmSubscriptionCommand({ TopicArn: parsed.topicArn, Token: parsed.token, AuthenticateOnUnsubscribe: "true" }));
    out(json ? JSON.stringify({ topicArn: parsed.topicArn, subscriptionArn: r.SubscriptionArn, authenticateOnUnsubscribe: true }) : printable(`confirmed ${r.SubscriptionArn ?? "?"}: unsubscribing now takes signed AWS credentials (the link in each message no longer does it)`));
    return 0;
  } catch (e) {
    return fail(`${(e as Error).name}: ${(e as Error).message}`, 1);
  }
}
