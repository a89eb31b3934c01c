import { strict as assert } from "node:assert";
import {
  DASHBOARD_MAX_METRICS,
  DASHBOARD_MAX_WIDGETS,
  SERVICES_PER_DASHBOARD,
  WIDGET_MAX_METRICS,
  dashboardUrl,
  dashboardUse,
  stackDashboards,
  type DashboardService,
} from "../../core/dashboard";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The metrics CloudWatch publishes per target group with TargetGroup + LoadBalancer (ALB docs). */
const ALB_TARGET_GROUP_METRICS = new Set(["RequestCount", "HTTPCode_Target_5XX_Count", "TargetResponseTime", "HealthyHostCount", "UnHealthyHostCount", "TargetConnectionErrorCount"]);

const service = (i: number, slots: ("blue" | "green")[] = ["blue", "green"]): DashboardService => ({
  name: `svc${i}`,
  loadBalancer: "app/remedy/50dc6c495c0c9188",
  targetGroups: Object.fromEntries(slots.map((s) => [s, `targetgroup/svc${i}-${s}-0a1b2c3d/73e2d6bc24d8a067`])),
  alarmArns: slots.flatMap((s) => ["error-rate", "latency-p99"].map((k) => `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:remedy-prod/svc${i}/${s}/${k}`)),
});

describe("core/dashboard: the stack's CloudWatch dashboards", () => {
  it("draws requests, 5xx rate and p99 per slot from metrics ALB publishes per target group, the weight, and the alarms", () => {
    // Act
    const [d] = stackDashboards("remedy-prod", "prod", "eu-west-1", [service(0), service(1, ["blue"])]);
    const body = JSON.parse(d.body) as { widgets: Obj[] };
    // Assess
    assert.equal(d.name, "remedy-prod");
    const graphs = body.widgets.filter((w) => w.type === "metric");
    for (const g of graphs) {
      const ids = new Set<string>();
      for (const m of g.properties.metrics as unknown[][]) {
        const opts = (m.at(-1) ?? {}) as Obj;
        if (typeof opts.id === "string") ids.add(opts.id);
        if (typeof m[0] === "string" && m[0] === "AWS/ApplicationELB") {
          assert.ok(ALB_TARGET_GROUP_METRICS.has(m[1] as string), `${m[1]} is a target group metric`);
          assert.deepEqual([m[2], m[4]], ["TargetGroup", "LoadBalancer"], "dimensions as ALB publishes them");
          assert.match(m[3] as string, /^targetgroup\/[^/]+\/[0-9a-f]+$/);
          assert.match(m[5] as string, /^app\/[^/]+\/[0-9a-f]+$/);
        }
      }
      for (const m of g.properties.metrics as unknown[][]) {
        const e = (m[0] as Obj).expression as string | undefined;
        if (e) for (const ref of e.match(/\b[er]\d+\b/g) ?? []) assert.ok(ids.has(ref), `${e} refers to ${ref}, which is defined`);
      }
      assert.ok(g.x + g.width <= 24, "inside the 24-column grid");
    }
    assert.deepEqual(
      graphs.filter((g) => g.properties.title.startsWith("svc0:")).map((g) => g.properties.title),
      ["svc0: requests per slot", "svc0: 5xx rate per slot (%)", "svc0: p99 latency per slot (s)", "svc0: candidate weight (%)"],
    );
    const requests = graphs.find((g) => g.properties.title === "svc0: requests per slot") as Obj;
    assert.equal(requests.properties.stacked, true);
    assert.deepEqual((requests.properties.metrics as unknown[][]).map((m) => (m.at(-1) as Obj).label), ["blue", "green"]);
    const weight = graphs.find((g) => g.properties.title === "svc0: candidate weight (%)") as Obj;
    assert.deepEqual((weight.properties.metrics as unknown[][])[0].slice(0, 6), ["remedy", "CandidateWeight", "Stack", "remedy-prod", "Service", "svc0"]);
    const svc1 = graphs.find((g) => g.properties.title === "svc1: p99 latency per slot (s)") as Obj;
    assert.equal((svc1.properties.metrics as unknown[]).length, 1, "only the slot that exists");
    const alarm = body.widgets.find((w) => w.type === "alarm" && w.properties.title === "svc0: alarms") as Obj;
    assert.equal((alarm.properties.alarms as string[]).length, 4);
    // Widgets do not overlap.
    const cells = new Set<string>();
    for (const w of body.widgets) for (let x = w.x; x < w.x + w.width; x++) for (let y = w.y; y < w.y + w.height; y++) {
      assert.ok(!cells.has(`${x},${y}`), `overlap at ${x},${y}`);
      cells.add(`${x},${y}`);
    }
  });

  it("stays within CloudWatch's dashboard limits at 500 services, in numbered pages", () => {
    // Act
    const dashboards = stackDashboards("remedy-prod", "prod", "eu-west-1", Array.from({ length: 500 }, (_, i) => service(i)));
    // Assess
    assert.equal(dashboards.length, Math.ceil(500 / SERVICES_PER_DASHBOARD));
    assert.deepEqual(dashboards.map((d) => d.name).slice(0, 2), ["remedy-prod-1", "remedy-prod-2"]);
    for (const d of dashboards) {
      const use = dashboardUse(d.body);
      assert.ok(use.widgets <= DASHBOARD_MAX_WIDGETS, `${d.name}: ${use.widgets} widgets`);
      assert.ok(use.metrics <= DASHBOARD_MAX_METRICS, `${d.name}: ${use.metrics} metrics`);
      assert.ok(use.maxWidgetMetrics <= WIDGET_MAX_METRICS);
    }
    const names = dashboards.flatMap((d) => (JSON.parse(d.body) as { widgets: Obj[] }).widgets.filter((w) => w.type === "alarm").map((w) => w.properties.title));
    assert.equal(new Set(names).size, 500, "every service on exactly one page");
    assert.equal(dashboardUrl("eu-west-1", "remedy-prod-2"), "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/remedy-prod-2");
  });
});
