/**
 * The remediation loop end to end: the real prod program deployed into moto (moto-backed Pulumi
 * mocks), release v2.3.1 at 10% -> alarm breach -> the deployed rollback bundle invoked with
 * CloudWatch's event -> weights 100/0 -> unchanged `up` keeps them and warns -> new candidate
 * image -> release proceeds; then a canary stepped and promoted by the release driver, and one
 * rolled back mid-step. This is `remedy rehearse`, with the harness inspected after each up.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import type { AwsMocks, RecordedObject } from "../../cli/rehearsal/awsMocks";
import { formatTimeline, rehearse, type RehearsalResult } from "../../cli/rehearsal/rehearse";
import { validateK8sObject } from "../helpers/k8sSchema";
import { installMocks } from "../helpers/pulumiMocks";

interface Snapshot {
  readonly live: Map<string, RecordedObject>;
  readonly resources: RecordedObject[];
  readonly updated: string[];
}

describe("e2e: the remediation loop on moto (remedy rehearse)", function () {
  this.timeout(120_000);
  let result: RehearsalResult;
  const runs: Snapshot[] = [];

  before(async () => {
    result = await rehearse({
      afterUp: (_run: number, aws: AwsMocks) => {
        runs.push({ live: new Map(aws.live), resources: [...aws.resources], updated: [...aws.updated] });
      },
    });
  });
  // The rehearsal installed moto-backed mocks; put the unit-test mocks back for later suites.
  after(() => installMocks("prod"));

  it("tells a subscriber of the stack's topic each lifecycle event once, in order, and records who did what", () => {
    // Captured from an SQS subscriber of the topic (subscribed after the first up).
    assert.deepEqual(
      result.notifications.map((n) => [n.event, n.subject]),
      [
        ["rolled-back", "remedy prod: payments rolled back to v2.3.0"],
        ["release-started", "remedy prod: payments v2.3.2 release started"],
        ["release-started", "remedy prod: payments v2.3.3 release started"],
        ["step-advanced", "remedy prod: payments v2.3.3 at 10%"],
        ["step-advanced", "remedy prod: payments v2.3.3 at 100%"],
        ["promoted", "remedy prod: payments v2.3.3 promoted"],
        ["release-started", "remedy prod: payments v2.3.4 release started"],
        ["step-advanced", "remedy prod: payments v2.3.4 at 10%"],
        ["rolled-back", "remedy prod: payments rolled back to v2.3.3"],
        ["release-started", "remedy prod: payments v2.3.5 release started"],
        ["step-advanced", "remedy prod: payments v2.3.5 at 10%"],
        ["rolled-back", "remedy prod: payments rolled back to v2.3.3"],
        ["release-started", "remedy prod: payments v2.4.0 release started"],
      ],
    );
    const actions = result.history.map((h) => `${h.action} by ${h.by.startsWith("remedy-prod/") ? "alarm" : h.by}`);
    assert.deepEqual(actions.slice(-11), [
      "start-release by pulumi:prod",
      "advance-step by release-driver",
      "advance-step by release-driver",
      "promote by release-driver",
      "start-release by pulumi:prod",
      "advance-step by release-driver",
      "roll-back by alarm",
      "start-release by pulumi:prod",
      "advance-step by release-driver",
      "roll-back by alarm",
      "start-release by pulumi:prod",
    ]);
    assert.equal(result.history[result.history.length - 2].by, "remedy-prod/payments/blue/custom-checkout-errors", "the last rollback came from the service's own 10-second metric");
    assert.match(result.history[result.history.length - 1].summary, /^release v2\.4\.0 \(blue\) at 0%; stable v2\.3\.3 \(green\); bundle b-[0-9a-f]{16}$/, "the promoted bundle, named on its release");
    assert.match(formatTimeline(result), /notifications on remedy-prod's topic \(what a subscriber received\):\n {2}rolled-back {6}remedy prod: payments rolled back to v2\.3\.0\n/);
    assert.match(formatTimeline(result), /\npayments: 8 changes \(the newest of \d+; --limit for more\), oldest first\n/);
    // docs/cli.md shows this part of the rehearsal's output as it is.
    const cliDoc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "cli.md"), "utf8");
    const shown = /```\n(notifications on remedy-prod's topic[^\n]*\n[\s\S]*?)\n```/.exec(cliDoc)?.[1];
    const printed = /(notifications on remedy-prod's topic[^\n]*\n(?: {2}.*\n)*)/.exec(formatTimeline(result))?.[1].trimEnd();
    assert.equal(shown, printed, "docs/cli.md's notification list is the rehearsal's");
  });

  it("is what docs/rehearsal.md shows: the same steps, and the same number of AWS resources and Kubernetes objects (issue 36, 10)", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "rehearsal.md"), "utf8");
    const shown = /^ {1}1 {2}ok {4}pulumi up #1 .*created (\d+) AWS resources in moto, recorded (\d+) Kubernetes objects/m.exec(doc);
    const ran = /created (\d+) AWS resources in moto, recorded (\d+) Kubernetes objects/.exec(formatTimeline(result));
    assert.ok(shown && ran, "both name the counts");
    assert.deepEqual(shown.slice(1), ran.slice(1), "docs/rehearsal.md's output is from a run of this version: rerun `npm run rehearse` and paste it");
    const steps = (text: string) => [...text.matchAll(/^\s*\d+ {2}ok {4}(.+?) {2,}\d+\/\d+/gm)].map((m) => m[1].trim());
    assert.deepEqual(steps(doc), steps(formatTimeline(result)));
  });

  it("passes every step, in order, with the weights each step must leave", () => {
    assert.equal(result.verdict, "pass", result.failures.join("\n"));
    assert.deepEqual(
      result.timeline.map((e) => [e.step, e.weights]),
      [
        ["pulumi up #1", { blue: 90, green: 10 }],
        ["alarm breach", { blue: 90, green: 10 }],
        ["rollback Lambda", { blue: 100, green: 0 }],
        ["pulumi up #2 (unchanged)", { blue: 100, green: 0 }],
        ["pulumi up #3 (v2.3.2)", { blue: 90, green: 10 }],
        // Progressive delivery: a canary steps and promotes on its own; the next fails mid-step.
        ["pulumi up #4 (canary)", { blue: 100, green: 0 }],
        ["driver tick", { blue: 90, green: 10 }],
        ["driver tick", { blue: 0, green: 100 }],
        ["driver tick (promote)", { blue: 0, green: 100 }],
        ["pulumi up #5 (version)", { blue: 0, green: 100 }],
        ["driver tick", { blue: 10, green: 90 }],
        ["rollback Lambda (mid-step)", { blue: 0, green: 100 }],
        ["driver tick (stopped)", { blue: 0, green: 100 }],
        // The service's own metric: EMF from the pods, a 10-second custom alarm, the rollback.
        ["pulumi up #6 (v2.3.5)", { blue: 0, green: 100 }],
        ["driver tick", { blue: 10, green: 90 }],
        ["service metrics (EMF)", { blue: 10, green: 90 }],
        ["custom alarm (10 s)", { blue: 10, green: 90 }],
        ["rollback Lambda (custom)", { blue: 0, green: 100 }],
        // Staging to prod (issue 38): one bundle approved, promoted and released; one refused twice.
        ["staging", { blue: 0, green: 100 }],
        ["remedy approve", { blue: 0, green: 100 }],
        ["promote-env (v2.4.0)", { blue: 0, green: 100 }],
        ["pulumi up #7 (promoted)", { blue: 0, green: 100 }],
        ["promote-env (v2.4.1)", { blue: 0, green: 100 }],
        ["pulumi up #8 (by hand)", { blue: 0, green: 100 }],
      ],
    );
    const [, approved, allowed, released, refused, byHand] = result.timeline.slice(18).map((e) => e.change);
    assert.match(approved, /^approved payments b-[0-9a-f]{16} for prod as arn:aws:sts::123456789012:assumed-role\/release-managers\/alice at /);
    assert.match(allowed, /^payments v2\.4\.0 \(b-[0-9a-f]{16}\) from organization\/remedy\/staging to prod: ALLOW; wrote payments@sha256:/);
    assert.match(released, /^the promotion gate at preview allows bundle b-[0-9a-f]{16}: v2\.4\.0 released into the idle slot \(blue\) at 0%$/);
    assert.match(refused, /: DENY: deny verified b-[0-9a-f]{16} completed in 0 of the 1 source\(s\) needed; rolled back in organization\/remedy\/staging at .*error-rate/);
    assert.match(byHand, /^refused before anything was deployed: promotion gate refused 1 release\(s\): - services\[0\] \(payments v2\.4\.1\), bundle b-[0-9a-f]{16}: refused; verified \(deny\): .* rolled back in organization\/remedy\/staging/);
    assert.match(result.timeline[15].change, /^6 EMF records from the pods -> 12 high-resolution datapoints/);
    assert.match(result.timeline[16].change, /blue\/custom-checkout-errors -> ALARM \(Threshold Crossed: 3 out of the last 3 datapoints \[9\.0, 7\.0, 8\.0\] were greater than or equal to the threshold \(5\.0\)/);
    assert.match(result.timeline[16].change, /green's: OK$/);
    assert.match(result.timeline[8].change, /promote: baked 10 min at 100% with alarms OK/);
    assert.match(result.timeline[12].change, /skipped: not a progressive release in progress \(phase rolled-back\)/);
    // The driver is deployed with the stack once a service has a strategy: its function and schedule exist.
    const last = runs[runs.length - 1].live;
    assert.ok([...last.values()].some((r) => r.type === "aws:lambda/function:Function" && r.name === "release-driver"), "release driver function deployed in moto");
    assert.ok([...last.values()].some((r) => r.type === "aws:cloudwatch/eventRule:EventRule" && (r.inputs as { scheduleExpression?: string }).scheduleExpression === "rate(1 minute)"));
    assert.ok(result.timeline.every((e, i) => i === 0 || e.elapsedMs >= result.timeline[i - 1].elapsedMs));
  });

  it("records times that run forward on one clock for every actor, with the driver's minutes between its steps, and none ahead of now (issue 36, 5)", () => {
    const times = result.history.map((h) => Date.parse(h.at));
    for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1], `revision ${result.history[i].revision} at ${result.history[i].at} is before ${result.history[i - 1].at}`);
    assert.ok(times[times.length - 1] <= Date.now(), "the simulated clock ends by the wall clock");
    // The canary's steps: +5 min to 100%, +10 min baked (whatever the machine's speed).
    const v233 = result.history.filter((h) => h.releaseId?.includes("v2.3.3"));
    const gap = (a: string, b: string) => (Date.parse(v233.find((h) => h.summary.includes(b))?.at ?? "") - Date.parse(v233.find((h) => h.summary.includes(a))?.at ?? "")) / 60_000;
    assert.ok(Math.abs(gap("step 1/2: 10%", "at 100%: baking") - 5) < 0.5, String(gap("step 1/2: 10%", "at 100%: baking")));
    assert.ok(Math.abs(gap("at 100%: baking", "promote v2.3.3") - 10) < 0.5);
  });

  it("flips within the handler's first ModifyRule, and says so", () => {
    assert.ok(result.alarmToFlipMs !== null && result.alarmToFlipMs > 0 && result.alarmToFlipMs < 5_000, String(result.alarmToFlipMs));
    assert.match(result.timeline[2].change, /^rolled-back: Threshold Crossed/);
  });

  it("warns on the second up with the rollback's time, alarm and reason", () => {
    assert.ok(
      result.warnings.some((w) =>
        /^service payments: candidate v2\.3\.1 was rolled back at \S+Z by alarm remedy-prod\/payments\/green\/error-rate: Threshold Crossed: .*; change the candidate image or set services\.payments\.acknowledgeRollback to "v2\.3\.1"$/.test(w),
      ),
      result.warnings.join("\n"),
    );
  });

  it("creates AWS resources in moto with moto's ids, and applies later runs as updates", () => {
    assert.equal(runs.length, 7, "three ups of the loop, three of the canaries, one of the promoted bundle (the refused one deploys nothing)");
    const rule = (s: Snapshot) => s.live.get("aws:lb/listenerRule:ListenerRule::payments");
    assert.match(rule(runs[0])?.id ?? "", /^arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule\/app\//);
    assert.equal(rule(runs[1])?.id, rule(runs[0])?.id, "the rule is updated in place, not replaced");
    assert.ok(runs[1].updated.includes("aws:lb/listenerRule:ListenerRule::payments"), runs[1].updated.join());
    assert.ok(runs[2].updated.includes("aws:lb/listenerRule:ListenerRule::payments"));
    const types = new Set([...runs[0].live.values()].map((r) => r.type));
    for (const t of [
      "aws:lb/loadBalancer:LoadBalancer",
      "aws:lb/targetGroup:TargetGroup",
      "aws:cloudwatch/metricAlarm:MetricAlarm",
      "aws:dynamodb/table:Table",
      "aws:sns/topic:Topic",
      "aws:iam/role:Role",
      "aws:lambda/function:Function",
      "aws:lambda/permission:Permission",
    ]) {
      assert.ok(types.has(t), `${t} deployed`);
    }
    assert.equal(
      runs[0].live.get("aws:dynamodb/table:Table::rollback-releases")?.id,
      "remedy-prod-releases",
      "the release table has the deterministic name the program reads before deploying",
    );
  });

  it("records only schema-valid Kubernetes objects, and deploys the new image on the third run", () => {
    for (const run of runs) {
      for (const r of run.resources.filter((x) => x.type.startsWith("kubernetes:"))) validateK8sObject(r);
    }
    const green = runs[2].resources.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.name === "payments-green");
    const image = (green?.inputs as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec.containers[0].image;
    assert.match(image, /payments:v2\.3\.2$/);
  });
});
