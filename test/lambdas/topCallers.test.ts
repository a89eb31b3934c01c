/**
 * The lane's top callers from its Contributor Insights rule (issue 37, 5): the request sent to
 * GetInsightRuleReport (one-day periods, ranked by Sum, at most 100), the contributors read most
 * first, and what people read when there are none or CloudWatch refuses. The emulator has no
 * Contributor Insights, so the client is a stand-in answering as the API reference documents
 * (Contributors[].Keys, ApproximateAggregateValue); real data only in a real account.
 */
import { strict as assert } from "node:assert";
import type { CloudWatchClient, GetInsightRuleReportCommand } from "@aws-sdk/client-cloudwatch";
import { describeTopCallers, topCallers } from "../../lambdas/commons/topCallers";

function client(answer: () => unknown, sent: unknown[] = []): CloudWatchClient {
  return { send: (c: GetInsightRuleReportCommand) => (sent.push(c.input), Promise.resolve(answer())) } as unknown as CloudWatchClient;
}

describe("lambdas/commons/topCallers: who still calls a legacy lane (issue 37, 5)", () => {
  const from = Date.parse("2026-11-23T00:00:00Z");
  const to = Date.parse("2026-12-07T00:00:00Z");

  it("asks for the window's contributors by Sum and lists them most first", async () => {
    const sent: unknown[] = [];
    const cw = client(() => ({ Contributors: [{ Keys: ["web"], ApproximateAggregateValue: 17 }, { Keys: ["acme-pos"], ApproximateAggregateValue: 1234.4 }] }), sent);
    assert.deepEqual(await topCallers(cw, "remedy-prod-payments-legacy-callers", from, to, 500), [{ caller: "acme-pos", requests: 1234 }, { caller: "web", requests: 17 }]);
    assert.deepEqual(sent, [{ RuleName: "remedy-prod-payments-legacy-callers", StartTime: new Date(from), EndTime: new Date(to), Period: 86_400, MaxContributorCount: 100, OrderBy: "Sum" }], "at most 100 contributors (the API's range)");
    assert.equal(await describeTopCallers(cw, "remedy-prod-payments-legacy-callers", from, to), "acme-pos 1234, web 17");
  });

  it("says when nothing was logged, when the lane does not count them, and why CloudWatch could not say", async () => {
    assert.equal(await describeTopCallers(client(() => ({ Contributors: [] })), "r", from, to), "none logged since 2026-11-23 (rule r)");
    assert.equal(await describeTopCallers(client(() => ({})), undefined, from, to), "not counted (declare legacy[].callers { logGroup, clientField } to count them)");
    const denied = client(() => {
      throw Object.assign(new Error("User is not authorized to perform:\n cloudwatch:GetInsightRuleReport"), { name: "AccessDenied" });
    });
    assert.equal(await describeTopCallers(denied, "r", from, to), "unavailable (AccessDenied: User is not authorized to perform: cloudwatch:GetInsightRuleReport; rule r)");
  });
});
