import { strict as assert } from "node:assert";
import { stackYaml } from "../helpers/fixtures";
import { one, ofType, promiseOf, settle } from "../helpers/pulumiMocks";
import { runStackEntry, useMemoryReleases } from "../helpers/stackProgram";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("stacks: the prod program's CloudWatch dashboard", () => {
  useMemoryReleases();

  it("draws every service of the stack on one dashboard named after the stack, and exports its URL", async () => {
    // Act
    const outputs = await runStackEntry(stackYaml("prod"));
    await settle();
    // Assess
    assert.equal(ofType("aws:cloudwatch/dashboard:Dashboard").length, 1);
    const d = one("aws:cloudwatch/dashboard:Dashboard", "dashboard").inputs as Obj;
    assert.equal(d.dashboardName, "remedy-prod");
    const body = JSON.parse(d.dashboardBody as string) as { widgets: Obj[] };
    const alarmWidgets = body.widgets.filter((w) => w.type === "alarm").map((w) => [w.properties.title, (w.properties.alarms as string[]).length]);
    // payments and orders have both slots (4 alarms each, payments 5 with its custom one), catalog only blue.
    assert.deepEqual(alarmWidgets, [["payments: alarms", 10], ["orders: alarms", 8], ["catalog: alarms", 4]]);
    for (const w of body.widgets.filter((x) => x.type === "metric")) {
      for (const m of w.properties.metrics as unknown[][]) if (m[0] === "AWS/ApplicationELB") assert.match(String(m[3]), /^targetgroup\/(payments|orders|catalog)-(blue|green)-[0-9a-f]{8}\//);
    }
    assert.deepEqual(await promiseOf(outputs.dashboardUrls), ["https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/remedy-prod"]);
  });
});
