import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import { ALARM_KINDS, type AlarmDefinition, fillPlaceholders, parseAlarmName, slotPlaceholders, recordedAlarmKinds, serviceAlarmKinds, serviceAlarmNames, slotAlarms } from "../../core/alarms";
import { ConfigError, parseServiceSpec } from "../../core/config";
import { expressionIds } from "../../core/config/serviceRules";
import type { Slot } from "../../core/slots";
import { evaluate, evaluateQueries } from "../helpers/metricMath";
import { serviceInput } from "../helpers/fixtures";

/** The issues a service's alarms config gets, as `path: message` lines. */
function issues(alarms: unknown): string[] {
  try {
    parseServiceSpec(serviceInput({ name: "payments", alarms }), "services[0]");
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
}

const CHECKOUT = {
  name: "checkout-errors",
  description: "checkout failures per 10 s",
  metric: { namespace: "Payments", name: "CheckoutErrors", dimensions: { Service: "{service}", Slot: "{slot}", Version: "{version}" }, statistic: "Sum" },
  threshold: 5,
  periodSeconds: 10,
  evaluationPeriods: 3,
  datapointsToAlarm: 2,
};

/** One slot's alarms as CloudWatch gets them, dimension placeholders filled with plain strings. */
function defs(alarms: unknown, slot: Slot = "green"): AlarmDefinition<string>[] {
  const spec = parseServiceSpec(serviceInput({ name: "payments", alarms }));
  const values = slotPlaceholders({ service: "payments", slot, version: spec.slots[slot]?.version ?? "", loadBalancer: "app/remedy/abc", targetGroups: { blue: "targetgroup/payments-blue/b1", green: "targetgroup/payments-green/g1" } });
  return slotAlarms({ prefix: "remedy-prod", service: "payments", slot, loadBalancer: values.loadBalancer, targetGroup: values.targetGroup, otherTargetGroup: values.otherTargetGroup, spec: spec.alarms, fill: (t) => fillPlaceholders(t, values) });
}

describe("core/config: custom and relative alarms", () => {
  it("fills defaults for a custom alarm and keeps what the service wrote", () => {
    const spec = parseServiceSpec(serviceInput({ name: "payments", alarms: { custom: [{ name: "queue-age", metric: { namespace: "Payments", name: "QueueAge", statistic: "p90", dimensions: { Slot: "{slot}" } }, threshold: 30 }] } }));
    assert.deepEqual(spec.alarms.custom, [
      {
        name: "queue-age",
        metric: { namespace: "Payments", name: "QueueAge", statistic: "p90", dimensions: { Slot: "{slot}" } },
        threshold: 30,
        comparison: ">=",
        periodSeconds: 60,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        treatMissingData: "notBreaching",
        action: "rollback",
      },
    ]);
    assert.equal(spec.alarms.relative, undefined);
    assert.deepEqual(parseServiceSpec(serviceInput({ name: "p", alarms: { relative: { latencyRatio: 1.5 } } })).alarms.relative, { latencyRatio: 1.5, latencyFloorSeconds: 0.1 });
  });

  it("names the field and the fix for every bad custom or relative alarm, before anything is created", () => {
    const lines = issues({
      relative: { latencyFloorSeconds: 0.2 },
      custom: [
        { name: "a", metric: { namespace: "P", name: "M", dimensions: { Slot: "{slots}" }, statistic: "Sum" }, threshold: 1 },
        { name: "a", metric: { namespace: "P", name: "M", statistic: "Median" }, threshold: 1, comparison: "=>" },
        { name: "b", threshold: 1 },
        { name: "c", metric: { namespace: "P", name: "M", statistic: "Sum" }, expression: "m", threshold: 1 },
        { name: "d", expression: "100 * errors / FILL(requsts, 0)", metrics: { errors: { namespace: "P", name: "E", statistic: "Sum" }, requests: { namespace: "P", name: "R", statistic: "Sum" } }, threshold: 1 },
        { name: "e", metric: { namespace: "AWS/ApplicationELB", name: "RequestCount", statistic: "Sum" }, threshold: 1, periodSeconds: 10 },
        { name: "f", metric: { namespace: "P", name: "M", statistic: "Sum" }, threshold: 1, periodSeconds: 45 },
        { name: "g", metric: { namespace: "P", name: "M", statistic: "Sum" }, threshold: 1, periodSeconds: 30, evaluationPeriods: 2, datapointsToAlarm: 3 },
        { name: "h", metric: { namespace: "P", name: "M", statistic: "Sum" }, threshold: 1, periodSeconds: 1800, evaluationPeriods: 60, action: "revert" },
        { name: "Bad_Name", expression: "m1", threshold: 1 },
      ],
    });
    const expected = [
      "services[0].alarms.custom[0].metric.dimensions.Slot: unknown placeholder {slots}; use one of {service}, {slot}, {version}, {targetGroup}, {loadBalancer}, {otherSlot}, {otherTargetGroup}",
      "services[0].alarms.custom[1].metric.statistic: must be Sum, Average, Minimum, Maximum, SampleCount, or a percentile such as p99 or p99.9 (tm/wm/tc/ts too)",
      'services[0].alarms.custom[1].comparison: must be one of ">=", ">", "<=", "<" (metric first, threshold second)',
      "services[0].alarms.custom[6].periodSeconds: must be 10, 20, 30 or a multiple of 60 (CloudWatch's alarm periods)",
      'services[0].alarms.custom[8].action: must be "rollback" (roll the candidate back and page) or "page" (page only)',
      "services[0].alarms.custom[9].name: must be a lowercase DNS label: a-z, 0-9 and '-', starting with a letter, not ending with '-'",
    ];
    for (const e of expected) assert.ok(lines.some((l) => l.startsWith(e)), `missing:\n${e}\ngot:\n${lines.join("\n")}`);
    // Shape errors stop there; the cross-field rules run on a shape that parses.
    const rules = issues({
      relative: { latencyFloorSeconds: 0.2 },
      custom: [
        { name: "a", metric: { namespace: "P", name: "M", statistic: "Sum", dimensions: { Slot: "{slot}" } }, threshold: 1 },
        { name: "a", metric: { namespace: "P", name: "M", statistic: "Sum", dimensions: { Slot: "{slot}" } }, threshold: 1 },
        { name: "b", threshold: 1 },
        { name: "c", metric: { namespace: "P", name: "M", statistic: "Sum", dimensions: { Slot: "{slot}" } }, expression: "m", metrics: { m: { namespace: "P", name: "M", statistic: "Sum", dimensions: { Slot: "{slot}" } } }, threshold: 1 },
        { name: "d", expression: "100 * errors / FILL(requsts, 0)", metrics: { errors: { namespace: "P", name: "E", statistic: "Sum", dimensions: { Slot: "{slot}" } }, requests: { namespace: "P", name: "R", statistic: "Sum" } }, threshold: 1 },
        { name: "e", metric: { namespace: "AWS/ApplicationELB", name: "RequestCount", statistic: "Sum", dimensions: { TargetGroup: "{targetGroup}" } }, threshold: 1, periodSeconds: 10 },
        { name: "g", metric: { namespace: "P", name: "M", statistic: "Sum", dimensions: { Slot: "{slot}" } }, threshold: 1, periodSeconds: 30, evaluationPeriods: 2, datapointsToAlarm: 3 },
        { name: "h", metric: { namespace: "P", name: "M", statistic: "Sum", dimensions: { Slot: "{slot}" } }, threshold: 1, periodSeconds: 1800, evaluationPeriods: 60 },
        { name: "i", expression: "SUM(METRICS())", threshold: 1 },
      ],
    });
    assert.deepEqual(rules, [
      "services[0].alarms.relative: sets neither errorRatePoints nor latencyRatio; set one (e.g. errorRatePoints: 2) or remove `relative`",
      "services[0].alarms.relative.latencyFloorSeconds: only applies with latencyRatio; set latencyRatio or remove it",
      'services[0].alarms.custom[1].name: "a" is already the name of custom alarm 0; names must be unique in the service',
      "services[0].alarms.custom[2]: needs exactly one of `metric` (one metric and a statistic) or `expression` (metric math over `metrics`)",
      "services[0].alarms.custom[3]: needs exactly one of `metric` (one metric and a statistic) or `expression` (metric math over `metrics`)",
      "services[0].alarms.custom[3].metrics: only applies with `expression`; with `metric` remove `metrics`",
      'services[0].alarms.custom[4].expression: refers to "requsts", which is not a key of `metrics` (errors, requests); metric math functions are upper case (FILL, IF, ...)',
      "services[0].alarms.custom[5].periodSeconds: 10 s needs a high-resolution metric, but metric is in AWS/ApplicationELB, which AWS publishes per minute or slower; use 60, or a metric your service publishes with StorageResolution 1 (EMF or PutMetricData)",
      "services[0].alarms.custom[6].datapointsToAlarm: 3 exceeds evaluationPeriods 2; an alarm cannot need more breaching periods than it evaluates",
      "services[0].alarms.custom[7].evaluationPeriods: 60 periods of 1800 s exceed one day, the longest window CloudWatch evaluates at this period",
      "services[0].alarms.custom[8].metrics: required with `expression`: the metrics it refers to, by id, e.g. { errors: { namespace, name, statistic } }",
    ]);
    // One definition, one alarm per slot: a rolling-back alarm must read each slot's own series.
    const shared = { namespace: "P", name: "M", statistic: "Sum", dimensions: { Service: "{service}", LoadBalancer: "{loadBalancer}" } };
    assert.deepEqual(issues({ custom: [{ name: "a", metric: shared, threshold: 1 }, { name: "b", expression: "x + y", metrics: { x: shared, y: shared }, threshold: 1 }, { name: "c", metric: shared, threshold: 1, action: "page" }, { name: "d", expression: "x + y", metrics: { x: shared, y: { ...shared, dimensions: { V: "v{version}" } } }, threshold: 1 }] }), [
      'services[0].alarms.custom[0].metric.dimensions: names no slot ({slot}, {version}, {targetGroup}, {otherSlot} or {otherTargetGroup} in a dimension value), so both slots\' alarms would read the same series and a failing stable would roll back a healthy candidate; add e.g. Slot: "{slot}" (and publish that dimension), or set action: page',
      'services[0].alarms.custom[1].metrics: names no slot ({slot}, {version}, {targetGroup}, {otherSlot} or {otherTargetGroup} in a dimension value), so both slots\' alarms would read the same series and a failing stable would roll back a healthy candidate; add e.g. Slot: "{slot}" (and publish that dimension), or set action: page',
    ]);
    assert.deepEqual(issues({ relative: { latencyRatio: 1 } }), ["services[0].alarms.relative.latencyRatio: must be above 1 and at most 100 (times the stable slot's p99; 1.5 = 50% slower), got 1"]);
    const many = issues({ custom: Array.from({ length: 21 }, (_, i) => ({ name: `a${i}`, metric: { namespace: "P", name: "M", statistic: "Sum" }, threshold: 1 })) });
    assert.equal(many.length, 1);
    assert.match(many[0], /^services\[0\]\.alarms\.custom: at most 20 custom alarms per service \(each makes one alarm per slot\), got \[/);
  });

  it("records the opt-in that lets a custom alarm alone revert a promoted release, off by default (issue 35, 6)", () => {
    const off = parseServiceSpec(serviceInput({ name: "payments", alarms: { custom: [CHECKOUT] } })).alarms;
    const on = parseServiceSpec(serviceInput({ name: "payments", alarms: { custom: [CHECKOUT], customRevertsPromotion: true } })).alarms;
    assert.equal(recordedAlarmKinds(off).customRevertsPromotion, undefined);
    assert.equal(recordedAlarmKinds(on).customRevertsPromotion, true);
    assert.deepEqual(issues({ customRevertsPromotion: "yes" }), ['services[0].alarms.customRevertsPromotion: must be true or false, got "yes"']);
  });

  it("finds the metric ids an expression uses, not functions, numbers, strings or labels", () => {
    assert.deepEqual(expressionIds('IF(FILL(requests, 0) >= 20, 100 * FILL(errors_5xx, 0) / requests, 0)'), ["requests", "errors_5xx"]);
    assert.deepEqual(expressionIds('SEARCH(\'{Payments,Slot} MetricName="errors"\', "Sum", 60) + m1 * 1.5e3'), ["m1"]);
    assert.deepEqual(expressionIds("SUM(METRICS())"), []);
  });
});

describe("core/alarms: custom and relative alarm definitions", () => {
  it("makes one alarm per slot from one custom definition, placeholders filled per slot, high-resolution period kept", () => {
    const green = defs({ custom: [CHECKOUT] }, "green").find((d) => d.kind === "custom-checkout-errors");
    const blue = defs({ custom: [CHECKOUT] }, "blue").find((d) => d.kind === "custom-checkout-errors");
    assert.deepEqual(green, {
      kind: "custom-checkout-errors",
      name: "remedy-prod/payments/green/custom-checkout-errors",
      description: "remedy: payments green custom alarm checkout-errors: checkout failures per 10 s: Payments CheckoutErrors Sum >= 5 in 2 of 3 x 10s; rolls the release back",
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: 5,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: "notBreaching",
      action: "rollback",
      metric: { namespace: "Payments", metricName: "CheckoutErrors", dimensions: { Service: "payments", Slot: "green", Version: "v2.3.1" }, period: 10, statistic: "Sum" },
    });
    assert.deepEqual(blue?.metric?.dimensions, { Service: "payments", Slot: "blue", Version: "v2.3.0" });
    assert.deepEqual(parseAlarmName("remedy-prod", green?.name ?? ""), { service: "payments", slot: "green", kind: "custom-checkout-errors" });
  });

  it("maps comparisons, percentiles, missing data and page-only actions; metric math gets its ids and the alarm's period", () => {
    const all = defs({
      custom: [
        { name: "p99", metric: { namespace: "Payments", name: "Latency", dimensions: { TargetGroup: "{targetGroup}", LoadBalancer: "{loadBalancer}" }, statistic: "p99.9" }, threshold: 0.8, comparison: ">", treatMissingData: "breaching", action: "page" },
        { name: "throughput", metric: { namespace: "Payments", name: "Orders", dimensions: { Against: "{otherSlot}:{otherTargetGroup}" }, statistic: "Sum" }, threshold: 10, comparison: "<", treatMissingData: "missing" },
        { name: "ratio", expression: "100 * FILL(bad, 0) / total", metrics: { bad: { namespace: "Payments", name: "Declines", statistic: "Sum", dimensions: { Slot: "{slot}" } }, total: { namespace: "Payments", name: "Payments", statistic: "Sum" } }, threshold: 20, comparison: "<=", periodSeconds: 30 },
      ],
    });
    const [p99, throughput, ratio] = all.filter((d) => d.kind.startsWith("custom-"));
    assert.deepEqual([p99.comparisonOperator, throughput.comparisonOperator, ratio.comparisonOperator], ["GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"]);
    assert.deepEqual(p99.metric, { namespace: "Payments", metricName: "Latency", dimensions: { TargetGroup: "targetgroup/payments-green/g1", LoadBalancer: "app/remedy/abc" }, period: 60, extendedStatistic: "p99.9" });
    assert.equal(p99.action, "page");
    assert.equal(p99.treatMissingData, "breaching");
    assert.match(p99.description, /pages only$/);
    assert.deepEqual(throughput.metric?.dimensions, { Against: "blue:targetgroup/payments-blue/b1" });
    assert.equal(throughput.treatMissingData, "missing");
    assert.deepEqual(ratio.metricQueries, [
      { id: "bad", returnData: false, metric: { namespace: "Payments", metricName: "Declines", stat: "Sum", period: 30, dimensions: { Slot: "green" } } },
      { id: "total", returnData: false, metric: { namespace: "Payments", metricName: "Payments", stat: "Sum", period: 30, dimensions: {} } },
      { id: "result", label: "ratio", returnData: true, expression: "100 * FILL(bad, 0) / total" },
    ]);
    assert.equal(ratio.metric, undefined);
  });

  it("lists and records the alarm kinds each slot has: the built-in four, relative, then custom", () => {
    assert.deepEqual(recordedAlarmKinds({}), {}, "the built-in four are not recorded (older states mean the same)");
    const kinds = serviceAlarmKinds(parseServiceSpec(serviceInput({ name: "p", alarms: { relative: { errorRatePoints: 2, latencyRatio: 2 }, custom: [CHECKOUT] } })).alarms);
    assert.deepEqual(kinds, [...ALARM_KINDS, "error-rate-vs-stable", "latency-vs-stable", "custom-checkout-errors"]);
    assert.deepEqual(recordedAlarmKinds({ relative: { errorRatePoints: 2, latencyFloorSeconds: 0.1 } }), { alarmKinds: [...ALARM_KINDS, "error-rate-vs-stable"] });
    assert.deepEqual(serviceAlarmNames("p", "svc", ["green"], kinds).slice(4), ["p/svc/green/error-rate-vs-stable", "p/svc/green/latency-vs-stable", "p/svc/green/custom-checkout-errors"]);
    for (const k of kinds) assert.deepEqual(parseAlarmName("p", `p/svc/blue/${k}`), { service: "svc", slot: "blue", kind: k });
    // The definitions made are exactly the kinds recorded, in order.
    assert.deepEqual(defs({ relative: { errorRatePoints: 2, latencyRatio: 2 }, custom: [CHECKOUT] }).map((d) => d.kind), kinds);
  });

  it("relative mode: the absolute error and latency alarms page, the *-vs-stable alarms roll back", () => {
    const all = defs({ relative: { errorRatePoints: 2, latencyRatio: 1.5 } });
    const action = Object.fromEntries(all.map((d) => [d.kind, d.action]));
    assert.deepEqual(action, { "error-rate": "page", "latency-p99": "page", "unhealthy-hosts": "rollback", "connection-errors": "rollback", "error-rate-vs-stable": "rollback", "latency-vs-stable": "rollback" });
    const onlyErrors = Object.fromEntries(defs({ relative: { errorRatePoints: 2 } }).map((d) => [d.kind, d.action]));
    assert.equal(onlyErrors["latency-p99"], "rollback", "latency stays absolute without latencyRatio");
    const vs = all.find((d) => d.kind === "error-rate-vs-stable");
    const dims = (q: string) => vs?.metricQueries?.find((x) => x.id === q)?.metric?.dimensions;
    assert.deepEqual(dims("cErr"), { LoadBalancer: "app/remedy/abc", TargetGroup: "targetgroup/payments-green/g1" });
    assert.deepEqual(dims("sReq"), { LoadBalancer: "app/remedy/abc", TargetGroup: "targetgroup/payments-blue/b1" });
    assert.ok((vs?.metricQueries?.length ?? 0) <= 10, "CloudWatch allows 10 metrics in a metric math alarm");
  });

  // The expression's meaning, checked on every scenario a generator reaches: rates, requests on
  // both slots (with and without a baseline), and missing datapoints.
  const ERR = { errorRate: { thresholdPercent: 5, minRequests: 20 }, relative: { errorRatePoints: 2 } };
  const count = fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined });
  it("relative error rate: fires when the candidate is >= N points worse than stable, not on a failure both share; absolute without a baseline", () => {
    const vs = defs(ERR).find((d) => d.kind === "error-rate-vs-stable") as AlarmDefinition<string>;
    const rate = (err: number | undefined, req: number | undefined) => ((req ?? 0) >= 20 ? (100 * (err ?? 0)) / (req as number) : 0);
    fc.assert(
      fc.property(count, count, count, count, (cReq, cErrRaw, sReq, sErrRaw) => {
        const cErr = cErrRaw === undefined || cReq === undefined ? cErrRaw : Math.min(cErrRaw, cReq);
        const sErr = sErrRaw === undefined || sReq === undefined ? sErrRaw : Math.min(sErrRaw, sReq);
        const value = evaluateQueries(vs.metricQueries ?? [], { cErr, cReq, sErr, sReq });
        const breaching = value !== undefined && value >= vs.threshold - 1e-9;
        const c = rate(cErr, cReq);
        const expected = (sReq ?? 0) >= 20 ? c - rate(sErr, sReq) >= 2 - 1e-9 : c >= 5 - 1e-9;
        assert.equal(breaching, expected, JSON.stringify({ cErr, cReq, sErr, sReq, value }));
      }),
      { numRuns: 2000 },
    );
    const at = (cErr: number, sErr: number, sReq = 1000) => evaluateQueries(vs.metricQueries ?? [], { cErr, cReq: 100, sErr, sReq }) as number;
    assert.ok(at(30, 300) < 2, "a shared dependency failing both slots at 30%: no rollback");
    assert.ok(at(30, 10) >= 2, "candidate 30% against stable 1%: rollback");
    assert.ok(at(6, 0, 0) >= 2 && at(4, 0, 0) < 2, "no stable traffic (candidate at 100%): the absolute 5% threshold");
  });

  it("relative latency: fires when the candidate's p99 is >= ratio x stable's and above the floor; absolute without a baseline", () => {
    const vs = defs({ latencyP99: { thresholdSeconds: 2 }, relative: { latencyRatio: 1.5, latencyFloorSeconds: 0.2 } }).find((d) => d.kind === "latency-vs-stable") as AlarmDefinition<string>;
    const seconds = fc.option(fc.double({ min: 0.001, max: 10, noNaN: true }), { nil: undefined });
    fc.assert(
      fc.property(seconds, seconds, count, (cP99, sP99, sReq) => {
        const value = evaluateQueries(vs.metricQueries ?? [], { cP99, sP99, sReq });
        const breaching = value !== undefined && value >= vs.threshold - 1e-9;
        const c = cP99 ?? 0;
        const expected = (sReq ?? 0) >= 20 && (sP99 ?? 0) > 0 ? c >= 0.2 && c / (sP99 as number) >= 1.5 - 1e-9 : c >= 2 - 1e-9;
        assert.equal(breaching, expected, JSON.stringify({ cP99, sP99, sReq, value }));
      }),
      { numRuns: 2000 },
    );
    assert.equal(evaluateQueries(vs.metricQueries ?? [], { cP99: 0.004, sP99: 0.002, sReq: 500 }), 0, "2x of 2 ms is under the floor");
  });

  it("the evaluator used above follows metric math on the built-in error-rate expression", () => {
    assert.equal(evaluate("IF(FILL(requests, 0) >= 20, 100 * FILL(errors, 0) / requests, 0)", { requests: 200, errors: 10 }), 5);
    assert.equal(evaluate("IF(FILL(requests, 0) >= 20, 100 * FILL(errors, 0) / requests, 0)", { requests: undefined, errors: 10 }), 0);
    assert.throws(() => evaluate("a + b", { a: 1 }), /unknown id b/);
  });
});
