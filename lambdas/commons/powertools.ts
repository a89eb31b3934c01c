/**
 * Where Powertools prints. Logger and Metrics write through a private `console` (EMF metrics and
 * JSON logs on stdout in Lambda); tests capture it and the operator CLI discards it. Metrics'
 * `singleMetric()` builds a fresh instance with its own console, so it is routed too.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import { MetricUnit, Metrics } from "@aws-lambda-powertools/metrics";
import { WEIGHT_METRIC, weightDimensions } from "../../core/dashboard";

export function redirectOutput(target: Logger | Metrics, console: Console): void {
  (target as unknown as { console: Console }).console = console;
  if (target instanceof Metrics) {
    const single = target.singleMetric.bind(target);
    target.singleMetric = () => {
      const m = single();
      (m as unknown as { console: Console }).console = console;
      return m;
    };
  }
}

/**
 * Publishes the candidate's weight (`remedy` `CandidateWeight`) with exactly the dimensions the
 * stack dashboard reads and `pulumi up` writes ({@link weightDimensions}: Stack, Service).
 * Powertools adds its `service` default dimension (the function's serviceName) to every metric,
 * single metrics included, which made the Lambdas publish a series the dashboard never read: the
 * default dimensions are cleared first.
 */
export function publishWeight(metrics: Metrics, prefix: string, service: string, weight: number): void {
  const m = metrics.singleMetric();
  m.clearDefaultDimensions();
  m.addDimensions(weightDimensions(prefix, service));
  m.addMetric(WEIGHT_METRIC, MetricUnit.Percent, weight);
}
