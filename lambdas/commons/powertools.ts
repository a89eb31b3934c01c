/**
 * Where Powertools prints. Logger and Metrics write through a private `console` (EMF metrics and
 * JSON logs on stdout in Lambda); tests capture it and the operator CLI discards it. Metrics'
 * `singleMetric()` builds a fresh instance with its own console, so it is routed too.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

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
