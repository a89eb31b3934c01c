/**
 * The EMF sample: what the pods write is valid embedded metric format at high resolution, its
 * dimension set is exactly the one the prod stack's custom alarm asks for (CloudWatch matches a
 * metric by all its dimensions, so one extra dimension and the alarm never sees data), and the
 * agent stand-in turns it into the datapoints CloudWatch would hold.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import * as yaml from "js-yaml";
import type { MetricDatum } from "@aws-sdk/client-cloudwatch";
import { CheckoutMetrics, FLUSH_SECONDS, NAMESPACE } from "../../samples/emf-metrics/checkoutMetrics";
import { checkoutServer } from "../../samples/emf-metrics/server";
import { emfToMetricData } from "../../cli/rehearsal/cloudwatchStandIns";
import { emfLogger } from "../../cli/rehearsal/rehearse";
import { fillPlaceholders, slotPlaceholders } from "../../core/alarms";
import { parseStackConfig } from "../../core/config";

const capturing = (into: string[]) => () => emfLogger(into);

describe("samples/emf-metrics: a service's own 10-second metric for a custom alarm", () => {
  it("writes one EMF record per flush with both counts at StorageResolution 1, dimensioned by service and slot", async () => {
    const lines: string[] = [];
    const m = new CheckoutMetrics("payments", "green", "v2.3.1", capturing(lines));
    for (const ok of [true, false, true, false, false]) m.record(ok);
    const at = new Date("2026-12-02T10:00:05.000Z");
    await m.flush(at);
    await m.flush(new Date(at.getTime() + FLUSH_SECONDS * 1000));
    assert.equal(lines.length, 2);
    const [first, quiet] = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string; StorageResolution?: number }[] }[] } });
    assert.equal(first._aws.Timestamp, at.getTime());
    assert.deepEqual(first._aws.CloudWatchMetrics, [
      {
        Namespace: NAMESPACE,
        Dimensions: [["Service", "Slot"]],
        Metrics: [
          { Name: "Checkouts", Unit: "Count", StorageResolution: 1 },
          { Name: "CheckoutErrors", Unit: "Count", StorageResolution: 1 },
        ],
      },
    ]);
    assert.deepEqual([first.Service, first.Slot, first.Checkouts, first.CheckoutErrors, first.Version], ["payments", "green", 5, 3, "v2.3.1"]);
    assert.deepEqual([quiet.Checkouts, quiet.CheckoutErrors], [0, 0], "a quiet period is a 0, not missing data");
  });

  it("publishes exactly the metric the prod stack's custom alarm reads, on each slot", async () => {
    const doc = yaml.load(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.prod.yaml"), "utf8")) as { config: Record<string, unknown> };
    const raw = Object.fromEntries(Object.entries(doc.config).filter(([k]) => k.startsWith("remedy:")).map(([k, v]) => [k.slice(7), v]));
    const payments = parseStackConfig(raw).services.find((s) => s.name === "payments");
    const alarm = payments?.alarms.custom?.find((c) => c.name === "checkout-errors");
    const metric = alarm?.metric;
    assert.ok(alarm && metric, "Pulumi.prod.yaml has payments' checkout-errors alarm");
    assert.equal(alarm.periodSeconds, FLUSH_SECONDS, "one record per alarm period");
    for (const slot of ["blue", "green"] as const) {
      const lines: string[] = [];
      const m = new CheckoutMetrics("payments", slot, "v1", capturing(lines));
      m.record(false);
      await m.flush();
      const [{ namespace, data }] = emfToMetricData(lines[0]);
      const datum: MetricDatum | undefined = data.find((d) => d.MetricName === metric.name);
      const wanted: { Name: string; Value: string }[] = Object.entries(metric.dimensions).map(([Name, v]) => ({ Name, Value: fillPlaceholders(v, slotPlaceholders({ service: "payments", slot, version: "v1", loadBalancer: "lb", targetGroups: { blue: "tg-blue", green: "tg-green" } })) }));
      assert.equal(namespace, metric.namespace);
      assert.deepEqual(datum?.Dimensions, wanted, `${slot}: the same dimension set, no more, no less`);
      assert.equal(datum?.StorageResolution, 1);
      assert.equal(datum?.Value, 1);
    }
  });

  it("counts failed checkouts through the sample server's real HTTP endpoint", async () => {
    const lines: string[] = [];
    const m = new CheckoutMetrics("payments", "blue", "v1", capturing(lines));
    let n = 0;
    const server = checkoutServer(m, () => (++n % 2 === 0 ? Promise.reject(new Error("provider down")) : Promise.resolve()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await fetch(`${url}/checkout`, { method: "POST" })).status);
      assert.deepEqual(codes, [201, 502, 201, 502]);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      assert.equal((await fetch(`${url}/nope`)).status, 404);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    await m.flush();
    const rec = JSON.parse(lines[0]) as Record<string, number>;
    assert.deepEqual([rec.Checkouts, rec.CheckoutErrors], [4, 2]);
  });

  it("the agent stand-in refuses what is not EMF, naming what is missing", () => {
    assert.throws(() => emfToMetricData('{"a":1}'), /not an EMF record: _aws\.Timestamp and _aws\.CloudWatchMetrics are required/);
    const rec = (extra: Record<string, unknown>) => JSON.stringify({ _aws: { Timestamp: 1, CloudWatchMetrics: [{ Namespace: "N", Dimensions: [["Slot"]], Metrics: [{ Name: "M" }] }] }, ...extra });
    assert.throws(() => emfToMetricData(rec({ M: 1 })), /EMF dimension Slot has no string value/);
    assert.throws(() => emfToMetricData(rec({ Slot: "blue", M: "x" })), /EMF metric M has no numeric value/);
    assert.deepEqual(emfToMetricData(rec({ Slot: "blue", M: [1, 2] }))[0].data[0], { MetricName: "M", Dimensions: [{ Name: "Slot", Value: "blue" }], Timestamp: new Date(1), Values: [1, 2], StorageResolution: 60 });
  });
});
