/**
 * The stack's CloudWatch dashboards, as data: per service, requests per slot (stacked), the 5xx
 * rate per slot, p99 latency per slot, the candidate weight over time (`remedy`
 * `CandidateWeight`, published by `pulumi up`, the release driver and the rollback Lambda), and
 * the service's alarms with their states. The weight metric's dimensions are `Stack` (the
 * `<project>-<stack>` prefix, which every writer knows) and `Service`.
 *
 * CloudWatch allows 500 widgets per dashboard, 500 metrics per widget and 2,500 metrics per
 * dashboard (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html),
 * and a dashboard body is JSON
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html).
 * A service takes 5 widgets and 11 metrics (expressions included), so a dashboard holds
 * {@link SERVICES_PER_DASHBOARD} services and a larger stack gets numbered pages.
 */
import type { Slot } from "./slots";
import { SLOTS } from "./slots";

/** The namespace and name of the weight metric. */
export const WEIGHT_NAMESPACE = "remedy";
export const WEIGHT_METRIC = "CandidateWeight";

/** CloudWatch's limits on one dashboard. */
export const DASHBOARD_MAX_WIDGETS = 500;
export const DASHBOARD_MAX_METRICS = 2500;
export const WIDGET_MAX_METRICS = 500;
/** Widgets per service: requests, 5xx rate, p99, weight, alarms. */
export const WIDGETS_PER_SERVICE = 5;
/** One header widget per page, the rest for services. */
export const SERVICES_PER_DASHBOARD = Math.floor((DASHBOARD_MAX_WIDGETS - 1) / WIDGETS_PER_SERVICE);

export interface DashboardService {
  readonly name: string;
  /** `app/<name>/<id>` of the service's ALB. */
  readonly loadBalancer: string;
  /** `targetgroup/<name>/<id>` per slot that exists. */
  readonly targetGroups: Readonly<Partial<Record<Slot, string>>>;
  /** The service's alarm ARNs. */
  readonly alarmArns: readonly string[];
}

type MetricRow = (string | Record<string, unknown>)[];

interface Widget {
  readonly type: "metric" | "alarm" | "text";
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly properties: Record<string, unknown>;
}

const ALB = "AWS/ApplicationELB";

function serviceWidgets(s: DashboardService, prefix: string, region: string, y: number): Widget[] {
  const slots = SLOTS.filter((slot) => s.targetGroups[slot] !== undefined);
  const dims = (slot: Slot) => ["TargetGroup", s.targetGroups[slot] as string, "LoadBalancer", s.loadBalancer];
  const graph = (x: number, title: string, metrics: MetricRow[], extra: Record<string, unknown> = {}): Widget => ({
    type: "metric",
    x,
    y,
    width: 6,
    height: 6,
    properties: { title: `${s.name}: ${title}`, region, view: "timeSeries", period: 60, metrics, ...extra },
  });
  const requests = slots.map((slot): MetricRow => [ALB, "RequestCount", ...dims(slot), { stat: "Sum", label: slot }]);
  const errors = slots.flatMap((slot, i): MetricRow[] => [
    [ALB, "HTTPCode_Target_5XX_Count", ...dims(slot), { stat: "Sum", id: `e${i}`, visible: false }],
    [ALB, "RequestCount", ...dims(slot), { stat: "Sum", id: `r${i}`, visible: false }],
    [{ expression: `IF(r${i} > 0, 100 * FILL(e${i}, 0) / r${i}, 0)`, label: `${slot} 5xx %`, id: `rate${i}` }],
  ]);
  const p99 = slots.map((slot): MetricRow => [ALB, "TargetResponseTime", ...dims(slot), { stat: "p99", label: `${slot} p99` }]);
  const weight: MetricRow[] = [[WEIGHT_NAMESPACE, WEIGHT_METRIC, "Stack", prefix, "Service", s.name, { stat: "Maximum", label: "candidate %" }]];
  return [
    graph(0, "requests per slot", requests, { stacked: true }),
    graph(6, "5xx rate per slot (%)", errors, { yAxis: { left: { min: 0, max: 100 } } }),
    graph(12, "p99 latency per slot (s)", p99),
    graph(18, "candidate weight (%)", weight, { view: "timeSeries", yAxis: { left: { min: 0, max: 100 } }, setPeriodToTimeRange: false }),
    { type: "alarm", x: 0, y: y + 6, width: 24, height: 2, properties: { title: `${s.name}: alarms`, alarms: [...s.alarmArns] } },
  ];
}

/** The dashboards (name and body) for `services`, {@link SERVICES_PER_DASHBOARD} a page. */
export function stackDashboards(prefix: string, stack: string, region: string, services: readonly DashboardService[]): { name: string; body: string }[] {
  const pages: DashboardService[][] = [];
  for (let i = 0; i < services.length; i += SERVICES_PER_DASHBOARD) pages.push(services.slice(i, i + SERVICES_PER_DASHBOARD));
  return pages.map((page, p) => {
    const header: Widget = {
      type: "text",
      x: 0,
      y: 0,
      width: 24,
      height: 1,
      properties: { markdown: `remedy ${stack}: ${page.map((s) => s.name).join(", ")}${pages.length > 1 ? ` (page ${p + 1} of ${pages.length})` : ""}` },
    };
    const widgets = [header, ...page.flatMap((s, i) => serviceWidgets(s, prefix, region, 1 + i * 8))];
    return { name: pages.length > 1 ? `${prefix}-${p + 1}` : prefix, body: JSON.stringify({ start: "-PT6H", periodOverride: "inherit", widgets }) };
  });
}

/** The console URL of a dashboard. */
export function dashboardUrl(region: string, name: string): string {
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${encodeURIComponent(name)}`;
}

/** Widgets and metrics (expressions included) of a body: what CloudWatch counts against its limits. */
export function dashboardUse(body: string): { widgets: number; metrics: number; maxWidgetMetrics: number } {
  const parsed = JSON.parse(body) as { widgets: { properties: { metrics?: unknown[] } }[] };
  const perWidget = parsed.widgets.map((w) => w.properties.metrics?.length ?? 0);
  return { widgets: parsed.widgets.length, metrics: perWidget.reduce((a, b) => a + b, 0), maxWidgetMetrics: Math.max(0, ...perWidget) };
}

/** The weight metric's dimensions for a service of the stack `prefix` (`<project>-<stack>`). */
export function weightDimensions(prefix: string, service: string): { Stack: string; Service: string } {
  return { Stack: prefix, Service: service };
}
