/**
 * A legacy lane's sunset notices (issue 37, 7): each pulumi up that sees a lane within 30, 7 or 1
 * day(s) of its sunset tells the stack's own topic (its last export), once per lane and threshold.
 */
import { strict as assert } from "node:assert";
import { sunsetNoticeDue } from "../../core/lifecycle";
import { setReleaseBackendFactory } from "../../stacks/releases";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { day, lane, stackYaml } from "../helpers/fixtures";
import { installMocks, recorded, settle, stackReferenceOutputs } from "../helpers/pulumiMocks";
import { runStackEntry } from "../helpers/stackProgram";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const SELF_REF = "acme/remedy/prod";
const OWN_TOPIC = "arn:aws:sns:eu-west-1:123456789012:remedy-prod-notifications-1a2b3c";

describe("stacks: a legacy lane's sunset notices (issue 37, 7)", () => {
  it("says which notice is due: the nearest of 30, 7 and 1 days, none after the sunset", () => {
    const now = Date.parse("2026-12-07T12:00:00Z");
    assert.deepEqual(
      ["2027-02-01", "2027-01-06", "2026-12-14", "2026-12-08", "2026-12-07"].map((d) => sunsetNoticeDue(d, now)),
      [undefined, 30, 7, 1, undefined],
    );
  });

  it("tells the stack's own topic once per lane and threshold, with who owns it and what to do", async () => {
    const backend = new MemoryReleaseBackend();
    // Contributor Insights answers only in a real account (lambdas/commons/topCallers.ts is tested apart): which rule is asked, over which window.
    const asked: [string, number][] = [];
    Object.assign(backend, { topCallers: (rule: string, fromMs: number, toMs: number) => (asked.push([rule, Math.round((toMs - fromMs) / 86_400_000)]), Promise.resolve("acme-pos 1234, web 17")) });
    const restore = setReleaseBackendFactory(() => backend);
    const config = (sunsetInDays: number) => {
      const c = structuredClone(stackYaml("prod")) as Obj;
      c["remedy:services"][0].legacy = [lane({ deprecatedAt: day(-60), sunsetAt: day(sunsetInDays), callers: { logGroup: "/eks/prod/payments", clientField: "$.clientId" } })];
      c["remedy:services"][1].legacy = [lane({ version: "v5.0.0", priority: 150, route: { header: { name: "X-Api-Version", values: ["5"] } }, deprecatedAt: day(-60), sunsetAt: day(sunsetInDays) })];
      return c;
    };
    const up = async (c: Obj) => {
      await installMocks("prod");
      recorded.resources.length = 0;
      await runStackEntry(c);
      await settle();
      // The frozen-lane check and both notices read the stack's own outputs through one reference:
      // the engine refuses a second resource with the same URN (the mocks would not).
      assert.equal(recorded.resources.filter((r) => r.type === "pulumi:pulumi:StackReference" && r.name === "self").length, 1);
    };
    try {
      stackReferenceOutputs.set(SELF_REF, { notificationTopicArn: OWN_TOPIC, services: { payments: { legacy: [{ version: "v1.9.4", image: lane().image }] }, orders: { legacy: [{ version: "v5.0.0", image: lane().image }] } } });
      // The first up records payments' state; the later ones see the lane 5 days from its sunset.
      await up(config(5));
      await up(config(5));
      await up(config(5));
      const told = [...backend.announced.values()].filter((m) => m.attributes.service === "payments");
      assert.deepEqual(told.map((m) => [m.attributes.event, m.subject]), [["legacy-sunset", `remedy prod: payments legacy lane v1.9.4 sunsets within 7 days (${day(5)})`]], "once");
      assert.deepEqual([...backend.announced.values()].map((m) => m.attributes.service).sort(), ["orders", "payments"], "each lane told");
      assert.equal(told[0].topicArn, OWN_TOPIC);
      assert.match(told[0].lines[0], /owner team-payments\) stops on .*; callers were told at https:\/\/docs\.example\.com\/payments\/v1-sunset/);
      assert.equal(told[0].lines[1], "Top callers, last 14 days: acme-pos 1234, web 17.", "naming who to chase");
      assert.deepEqual(asked[0], ["remedy-prod-payments-legacy-callers", 14]);
      assert.ok(asked.every(([rule]) => rule === "remedy-prod-payments-legacy-callers"), "only the lane that counts its callers");
      assert.match(told[0].lines[2], /remedy versions payments .* remedy retire payments once it is quiet, or record an extension/);
      // Closer: the 1-day notice, once more.
      await up(config(1));
      assert.deepEqual([...backend.announced.values()].filter((m) => m.attributes.service === "payments").map((m) => m.subject).slice(1), [`remedy prod: payments legacy lane v1.9.4 sunsets within 1 day (${day(1)})`]);
    } finally {
      stackReferenceOutputs.delete(SELF_REF);
      restore();
    }
  });
});
