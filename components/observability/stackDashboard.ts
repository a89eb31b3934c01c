/**
 * The stack's CloudWatch dashboards (core/dashboard.ts): per service, traffic, errors and
 * latency per slot, the candidate weight over time and the alarms, in pages of
 * `SERVICES_PER_DASHBOARD` services. `urls` are the console links, in page order.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { loadBalancerDimension, targetGroupDimension } from "../../core/alarms";
import { SERVICES_PER_DASHBOARD, dashboardUrl, stackDashboards, type DashboardService } from "../../core/dashboard";
import type { Slot } from "../../core/slots";

export interface StackDashboardArgs {
  /** `<project>-<stack>`: the dashboards' names (`-2`, `-3`... for later pages). */
  readonly prefix: string;
  /** The stack's name, for titles and the weight metric's `Stack` dimension. */
  readonly stack: string;
  readonly services: readonly {
    readonly name: string;
    readonly listenerArn: pulumi.Input<string>;
    /** The slots that exist (have an image). */
    readonly slots: readonly Slot[];
    readonly targetGroupArns: pulumi.Input<Record<Slot, string>>;
    readonly alarmArns: pulumi.Input<string[]>;
  }[];
}

export class StackDashboard extends pulumi.ComponentResource {
  public readonly dashboards: aws.cloudwatch.Dashboard[];
  public readonly urls: pulumi.Output<string[]>;

  constructor(name: string, args: StackDashboardArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("remedy:observability:StackDashboard", name, {}, opts);
    if (!/^[A-Za-z0-9_-]{1,250}$/.test(args.prefix)) throw new pulumi.ResourceError(`\`prefix\` ${JSON.stringify(args.prefix)} must be 1..250 of A-Z a-z 0-9 - _ (a dashboard name)`, this);
    const region = aws.getRegionOutput({}, { parent: this }).region;
    const resolved = pulumi.all(
      args.services.map((s) =>
        pulumi.all([pulumi.output(s.listenerArn), pulumi.output(s.targetGroupArns), pulumi.output(s.alarmArns)]).apply(
          ([listener, tgs, alarms]): DashboardService => ({
            name: s.name,
            loadBalancer: loadBalancerDimension(listener),
            targetGroups: Object.fromEntries(s.slots.map((slot) => [slot, targetGroupDimension(tgs[slot])])),
            alarmArns: alarms,
          }),
        ),
      ),
    );
    const pages = Math.max(1, Math.ceil(args.services.length / SERVICES_PER_DASHBOARD));
    const built = pulumi.all([resolved, region]).apply(([services, r]) => stackDashboards(args.prefix, args.stack, r, services));
    this.dashboards = Array.from({ length: pages }, (_, p) => {
      const dashboardName = pages > 1 ? `${args.prefix}-${p + 1}` : args.prefix;
      return new aws.cloudwatch.Dashboard(
        pages > 1 ? `${name}-${p + 1}` : name,
        { dashboardName, dashboardBody: built.apply((b) => b[p].body) },
        { parent: this },
      );
    });
    this.urls = pulumi.all([region, ...this.dashboards.map((d) => d.dashboardName)]).apply(([r, ...names]) => names.map((n) => dashboardUrl(r, n)));
    this.registerOutputs({ urls: this.urls });
  }
}
