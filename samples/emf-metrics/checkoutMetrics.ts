/**
 * Sample: a service publishing its own rollback signal at high resolution in CloudWatch embedded
 * metric format (EMF), for a remedy custom alarm with a 10-second period.
 *
 * Each pod counts checkouts and failed checkouts and flushes one EMF record every 10 seconds with
 * both metrics at StorageResolution 1 (high resolution), dimensioned by service and slot. remedy
 * sets REMEDY_SLOT and REMEDY_VERSION in every pod, so the blue and green slots publish separate
 * series and the `{slot}` placeholder of the alarm picks the right one. The dimension set must be
 * exactly the alarm's: CloudWatch matches a metric by all of its dimensions.
 *
 * On EKS the CloudWatch agent (Container Insights add-on, or a DaemonSet) receives the records on
 * its EMF port and publishes the metrics: set AWS_EMF_ENVIRONMENT=Agent and
 * AWS_EMF_AGENT_ENDPOINT=tcp://cloudwatch-agent.amazon-cloudwatch:25888 in the service's `env`.
 *
 * The matching alarm, under the service in Pulumi.<stack>.yaml (see Pulumi.prod.yaml, payments):
 *
 *   alarms:
 *     custom:
 *       - name: checkout-errors
 *         metric: { namespace: Payments, name: CheckoutErrors, statistic: Sum,
 *                   dimensions: { Service: "{service}", Slot: "{slot}" } }
 *         threshold: 5
 *         periodSeconds: 10
 *         evaluationPeriods: 3
 *         datapointsToAlarm: 2
 */
import { type MetricsLogger, StorageResolution, Unit, createMetricsLogger } from "aws-embedded-metrics";

export const NAMESPACE = "Payments";
/** Seconds per EMF record: the alarm's period, so each record is one datapoint. */
export const FLUSH_SECONDS = 10;

export class CheckoutMetrics {
  private checkouts = 0;
  private errors = 0;

  constructor(
    private readonly service: string,
    private readonly slot: string = process.env.REMEDY_SLOT ?? "unknown",
    private readonly version: string = process.env.REMEDY_VERSION ?? "unknown",
    /** Where records go; default: the environment aws-embedded-metrics detects (AWS_EMF_ENVIRONMENT). */
    private readonly newLogger: () => MetricsLogger = createMetricsLogger,
  ) {}

  /** Counts one checkout; `ok` false for a failed one (a 5xx, a declined payment the service caused). */
  record(ok: boolean): void {
    this.checkouts += 1;
    if (!ok) this.errors += 1;
  }

  /**
   * Sends one record with the counts since the last flush (zeros too: a quiet period is a
   * datapoint of 0, not missing data) and starts counting again.
   */
  async flush(at: Date = new Date()): Promise<void> {
    const [checkouts, errors] = [this.checkouts, this.errors];
    this.checkouts = 0;
    this.errors = 0;
    const m = this.newLogger();
    m.setNamespace(NAMESPACE);
    m.setDimensions({ Service: this.service, Slot: this.slot });
    m.setTimestamp(at);
    m.putMetric("Checkouts", checkouts, Unit.Count, StorageResolution.High);
    m.putMetric("CheckoutErrors", errors, Unit.Count, StorageResolution.High);
    // Searchable in the log record, not a dimension (it would make a new series each release).
    m.setProperty("Version", this.version);
    await m.flush();
  }

  /** Flushes every FLUSH_SECONDS until the returned function is called. */
  start(): () => Promise<void> {
    const timer = setInterval(() => void this.flush().catch((err: unknown) => console.error("EMF flush failed", err)), FLUSH_SECONDS * 1000);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await this.flush();
    };
  }
}
