/**
 * Who still calls a legacy lane (issue 37, 5): the top contributors of the lane's Contributor
 * Insights rule (the service's JSON logs, counted by the client field, filtered to the lane's
 * version), from GetInsightRuleReport: at most 100 contributors (default 10), ranked by `Sum`,
 * each with its keys and ApproximateAggregateValue over the whole window
 * (docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetInsightRuleReport.html).
 * The emulator has no Contributor Insights: only a real account shows the data (docs/testing.md).
 */
import { type CloudWatchClient, GetInsightRuleReportCommand } from "@aws-sdk/client-cloudwatch";

/** A caller and how many log lines (requests) it made over the window. */
export interface TopCaller {
  readonly caller: string;
  readonly requests: number;
}

/** The most frequent callers over [fromMs, toMs), most first; `count` 1..100. */
export async function topCallers(cloudwatch: CloudWatchClient, ruleName: string, fromMs: number, toMs: number, count = 10): Promise<TopCaller[]> {
  const out = await cloudwatch.send(
    new GetInsightRuleReportCommand({ RuleName: ruleName, StartTime: new Date(fromMs), EndTime: new Date(toMs), Period: 86_400, MaxContributorCount: Math.min(100, Math.max(1, count)), OrderBy: "Sum" }),
  );
  return (out.Contributors ?? [])
    .map((c) => ({ caller: (c.Keys ?? []).join(" ") || "(none)", requests: Math.round(c.ApproximateAggregateValue ?? 0) }))
    .sort((a, b) => b.requests - a.requests);
}

/** Callers as people read them: `acme-pos 1234, web 17`; or what kept them unknown. */
export async function describeTopCallers(cloudwatch: CloudWatchClient, ruleName: string | undefined, fromMs: number, toMs: number): Promise<string> {
  if (!ruleName) return "not counted (declare legacy[].callers { logGroup, clientField } to count them)";
  try {
    const top = await topCallers(cloudwatch, ruleName, fromMs, toMs);
    return top.length === 0 ? `none logged since ${new Date(fromMs).toISOString().slice(0, 10)} (rule ${ruleName})` : top.map((t) => `${t.caller} ${t.requests}`).join(", ");
  } catch (err) {
    const why = `${(err as Error).name}: ${(err as Error).message}`.replace(/\s+/g, " ").slice(0, 200);
    return `unavailable (${why}; rule ${ruleName})`;
  }
}
