/**
 * The candidate-weight series as the stack dashboard reads it and as a writer published it, so a
 * test can say "this writer's metric is the one the dashboard graphs" (CloudWatch matches a
 * series by namespace, name and the exact set of dimensions: one more dimension is another series).
 */
import { WEIGHT_METRIC, WEIGHT_NAMESPACE, stackDashboards } from "../../core/dashboard";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Series {
  readonly namespace: string;
  readonly metric: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** The weight series the stack's dashboard graphs for one service. */
export function dashboardWeightSeries(prefix: string, service: string): Series {
  const [page] = stackDashboards(prefix, "test", "eu-west-1", [{ name: service, loadBalancer: "app/lb/1", targetGroups: { blue: "targetgroup/b/1", green: "targetgroup/g/1" }, alarmArns: [] }]);
  const widgets = (JSON.parse(page?.body ?? "{}") as { widgets: Obj[] }).widgets;
  for (const w of widgets) {
    for (const row of (w.properties?.metrics ?? []) as unknown[][]) {
      if (row[0] === WEIGHT_NAMESPACE && row[1] === WEIGHT_METRIC) {
        const pairs = row.slice(2).filter((x) => typeof x === "string") as string[];
        const dimensions: Record<string, string> = {};
        for (let i = 0; i + 1 < pairs.length; i += 2) dimensions[pairs[i] as string] = pairs[i + 1] as string;
        return { namespace: WEIGHT_NAMESPACE, metric: WEIGHT_METRIC, dimensions };
      }
    }
  }
  throw new Error("the dashboard has no weight graph");
}

/** The series of each metric in one EMF record (one per dimension set of its directive). */
export function emfSeries(line: string): Series[] {
  const rec = JSON.parse(line) as Obj;
  const out: Series[] = [];
  for (const d of (rec._aws?.CloudWatchMetrics ?? []) as Obj[]) {
    for (const m of d.Metrics as { Name: string }[]) {
      for (const set of d.Dimensions as string[][]) out.push({ namespace: d.Namespace, metric: m.Name, dimensions: Object.fromEntries(set.map((k) => [k, String(rec[k])])) });
    }
  }
  return out;
}
