/**
 * A legacy lane's resources under Pulumi's mocks (issue 37, 2): its own target group, workload
 * and rule, named apart from the blue/green slots, evaluated before the main rule, rewriting its
 * prefix away, telling callers the dates through the pods' environment; schema-valid Kubernetes
 * objects with valid names; and counted in the quota checks.
 */
import { strict as assert } from "node:assert";
import { BlueGreenService } from "../../components/delivery/blueGreenService";
import { AutoRollback } from "../../components/rollback/autoRollback";
import { parseAlarmName } from "../../core/alarms";
import { parseServiceSpec } from "../../core/config";
import { parseStackConfig } from "../../core/config";
import { quotaProblems, quotaUsage } from "../../stacks/quotas";
import { INGRESS, lane, serviceInput, stackInput } from "../helpers/fixtures";
import { k8sNameProblems } from "../helpers/k8sNames";
import { validateK8sObject } from "../helpers/k8sSchema";
import { type RecordedResource, T, dependsOn, ofType, one, recorded, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ALARM_TOPIC = "arn:aws:sns:eu-west-1:123456789012:remedy-prod-rollback";
const ROLLBACK_FN = "arn:aws:lambda:eu-west-1:123456789012:function:remedy-prod-rollback";
const LANE_TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-legacy-0a1b2c3d/6d0ecf831eec9f09";

/** The lane's alarms as AutoRollback registers them for payments (its slots' aside). */
async function laneAlarmsOf(o: { rollsBack: boolean; alarms: ReturnType<typeof parseServiceSpec>["alarms"] }): Promise<RecordedResource[]> {
  recorded.resources.length = 0;
  new AutoRollback("payments-rollback", {
    service: "payments",
    slots: ["blue", "green"],
    alarms: o.alarms,
    alarmNamePrefix: "remedy-prod",
    listenerArn: INGRESS.listenerArn,
    targetGroupArns: { blue: LANE_TG.replace("legacy-0a1b2c3d", "blue-1a2b3c4d"), green: LANE_TG.replace("legacy-0a1b2c3d", "green-5e6f7a8b") },
    functionArn: ROLLBACK_FN,
    topicArn: ALARM_TOPIC,
    lanes: [{ key: "legacy", targetGroupArn: LANE_TG, rollsBack: o.rollsBack }],
  });
  await settle();
  return ofType(T.alarm).filter((a) => a.name.startsWith("payments-rollback-legacy-"));
}

describe("components/BlueGreenService: a legacy lane (issue 37, 2)", () => {
  let resources: RecordedResource[];
  let svc: BlueGreenService;
  before(async () => {
    recorded.resources.length = 0;
    svc = new BlueGreenService("payments", { service: serviceInput({ legacy: [lane()] }), ingress: INGRESS });
    await settle();
    resources = [...recorded.resources];
  });
  const inSuite = (type: string, name: string) => one(type, name, resources);

  it("adds one target group, Deployment, Service, PDB, binding and rule, named apart from the slots", () => {
    const lanes = resources.filter((r) => r.name === "payments-legacy").map((r) => r.type).sort();
    assert.deepEqual(lanes, [T.rule, T.tg, T.deployment, T.service, T.tgb, T.pdb].sort());
    const tg = inSuite(T.tg, "payments-legacy").inputs as Obj;
    assert.match(tg.name, /^payments-legacy-[0-9a-f]{8}$/);
    assert.ok(tg.name.length <= 32, "AWS target group names: at most 32 characters");
    assert.equal(tg.tags["remedy:legacy-version"], "v1.9.4");
    assert.equal(svc.legacyLanes.length, 1);
  });

  it("routes /v1 callers to it before the main rule, and strips the prefix", () => {
    const rule = inSuite(T.rule, "payments-legacy").inputs as Obj;
    const main = inSuite(T.rule, "payments").inputs as Obj;
    assert.ok(rule.priority < main.priority, "evaluated first");
    assert.deepEqual(rule.conditions, [{ hostHeader: { values: ["api.example.com"] } }, { pathPattern: { values: ["/v1/payments/*"] } }]);
    assert.deepEqual(rule.transforms, [{ type: "url-rewrite", urlRewriteConfig: { rewrite: { regex: "^/v1(/.*)$", replace: "$1" } } }]);
    assert.equal(rule.actions.length, 1);
    assert.equal(rule.actions[0].type, "forward");
    assert.match(rule.actions[0].targetGroupArn, /:targetgroup\/payments-legacy-[0-9a-f]{8}\//);
    assert.equal(rule.tags["remedy:rule"], "legacy");
    assert.equal(rule.tags["remedy:rollback"], undefined, "the rollback function's ABAC tag is the weighted rule's only");
    assert.ok(dependsOn(inSuite(T.rule, "payments-legacy"), inSuite(T.deployment, "payments-legacy")), "the rule waits for the lane's rollout");
  });

  it("runs the pinned old image, selected apart from blue and green, telling callers the deprecation and sunset", () => {
    const d = inSuite(T.deployment, "payments-legacy").inputs as Obj;
    assert.deepEqual(d.spec.selector.matchLabels, { app: "payments", slot: "legacy" });
    const c = d.spec.template.spec.containers[0];
    assert.match(c.image, /@sha256:[0-9a-f]{64}$/);
    const env = Object.fromEntries((c.env as { name: string; value?: string }[]).map((e) => [e.name, e.value]));
    assert.equal(env.REMEDY_VERSION, "v1.9.4");
    assert.match(env.REMEDY_DEPRECATION ?? "", /^@\d{10}$/, "RFC 9745: a structured date, @<unix seconds>");
    assert.match(env.REMEDY_SUNSET ?? "", /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} 00:00:00 GMT$/, "RFC 8594: an HTTP-date");
    assert.equal(env.REMEDY_DEPRECATION_LINK, '<https://docs.example.com/payments/v1-sunset>; rel="deprecation"; type="text/html"');
    assert.equal(d.spec.replicas, 2);
    for (const r of resources.filter((x) => x.type.startsWith("kubernetes:"))) {
      validateK8sObject(r);
      assert.deepEqual(k8sNameProblems(r), [], `${r.type} ${r.name}`);
    }
  });

  it("counts in the quota checks: one target group and one rule more", () => {
    const count = (cfg: ReturnType<typeof parseStackConfig>, quota: RegExp) => quotaUsage(cfg, { alarmNamePrefix: "remedy-prod" }).find((q) => quota.test(q.quota))?.count;
    const without = parseStackConfig(stackInput([serviceInput()]));
    const withLane = parseStackConfig(stackInput([serviceInput({ legacy: [lane()] })]));
    assert.equal((count(withLane, /^Target groups per Application Load Balancer/) ?? 0) - (count(without, /^Target groups per Application Load Balancer/) ?? 0), 1);
    assert.equal((count(withLane, /^Rules per Application Load Balancer/) ?? 0) - (count(without, /^Rules per Application Load Balancer/) ?? 0), 1);
    assert.equal((count(withLane, /^Target groups per Region/) ?? 0) - (count(without, /^Target groups per Region/) ?? 0), 1);
    assert.deepEqual(quotaProblems(withLane, { alarmNamePrefix: "remedy-prod" }), []);
    // A lane hotfix runs the previous image too: one target group more, and its pods again.
    const hotfix = parseStackConfig(stackInput([serviceInput({ legacy: [lane({ hotfix: { reason: "CVE-2026-1234 in the TLS library" } })] })]));
    assert.equal((count(hotfix, /^Target groups per Application Load Balancer/) ?? 0) - (count(without, /^Target groups per Application Load Balancer/) ?? 0), 2);
    assert.equal((count(hotfix, /^Target groups per Region/) ?? 0) - (count(without, /^Target groups per Region/) ?? 0), 2);
    assert.equal((count(hotfix, /^Targets per Application Load Balancer/) ?? 0) - (count(withLane, /^Targets per Application Load Balancer/) ?? 0), 2, "the lane's 2 replicas, twice");
    assert.equal(count(hotfix, /^Rules per Application Load Balancer/), count(withLane, /^Rules per Application Load Balancer/), "no rule more: the lane's forwards to both");
  });

  it("pages on the lane's own alarms outside a lane hotfix, never invoking the rollback function (a lane is frozen)", async () => {
    const lanes = await laneAlarmsOf({ rollsBack: false, alarms: parseServiceSpec(serviceInput()).alarms });
    assert.deepEqual(lanes.map((a) => (a.inputs as Obj).name).sort(), ["remedy-prod/payments/legacy/connection-errors", "remedy-prod/payments/legacy/error-rate", "remedy-prod/payments/legacy/latency-p99", "remedy-prod/payments/legacy/unhealthy-hosts"]);
    for (const a of lanes) {
      const i = a.inputs as Obj;
      assert.deepEqual(i.alarmActions, [ALARM_TOPIC], `${i.name}: pages only`);
      assert.match(i.alarmDescription, /^remedy: payments legacy .*; pages \(a legacy lane is frozen: fix it with a lane hotfix\)$/);
      assert.equal(parseAlarmName("remedy-prod", i.name), undefined, "the rollback function never takes it for a slot's");
      const dims = JSON.stringify(i.dimensions ?? i.metricQueries);
      assert.match(dims, /targetgroup\/payments-legacy-0a1b2c3d\/6d0ecf831eec9f09/, "on the lane's own target group");
    }
    assert.equal(ofType(T.alarm).length, 2 * 4 + 4);
  });

  it("lists the lane's top callers from the service's logs with a Contributor Insights rule, when it says where they are logged", async () => {
    recorded.resources.length = 0;
    new BlueGreenService("payments", { service: serviceInput({ legacy: [lane({ callers: { logGroup: "/eks/prod/payments", clientField: "$.clientId", versionField: "$.version" } })] }), ingress: INGRESS });
    await settle();
    const rules = ofType("aws:cloudwatch/contributorInsightRule:ContributorInsightRule");
    assert.equal(rules.length, 1);
    const i = rules[0].inputs as Obj;
    assert.equal(i.ruleName, "remedy-prod-payments-legacy-callers");
    assert.equal(i.ruleState, "ENABLED");
    assert.deepEqual(JSON.parse(i.ruleDefinition), {
      Schema: { Name: "CloudWatchLogRule", Version: 1 },
      LogGroupNames: ["/eks/prod/payments"],
      LogFormat: "JSON",
      Contribution: { Keys: ["$.clientId"], Filters: [{ Match: "$.version", In: ["v1.9.4"] }] },
      AggregateOn: "Count",
    });
    assert.ok(i.ruleName.length <= 128, "CloudWatch: rule names of at most 128 characters");
  });
});

describe("components/BlueGreenService: a lane hotfix keeps the previous image to go back to (issue 37, 2)", () => {
  const OLD = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"a".repeat(64)}`;
  const build = async (state?: { rolledBack: boolean; brownout: boolean }) => {
    recorded.resources.length = 0;
    const spec = parseServiceSpec(serviceInput({ legacy: [lane({ hotfix: { reason: "CVE-2026-1234 in the TLS library" } })] }));
    const withTarget = { ...spec, legacy: [{ ...spec.legacy[0], rollbackTo: OLD }] };
    const svc = new BlueGreenService("payments", { spec: withTarget, ingress: INGRESS, ruleTags: { "remedy:rollback": "remedy-prod", "remedy:release-driver": "remedy-prod" }, ...(state ? { laneStates: { legacy: state } } : {}) });
    await settle();
    return { svc, resources: [...recorded.resources] };
  };

  it("runs the previous image as payments-legacy-prev behind its own target group, valid for Kubernetes and AWS", async () => {
    const { svc, resources } = await build();
    const prev = resources.filter((r) => r.name === "payments-legacy-prev").map((r) => r.type).sort();
    assert.deepEqual(prev, [T.tg, T.deployment, T.service, T.tgb, T.pdb].sort(), "no rule of its own: the lane's rule forwards to it");
    const d = one(T.deployment, "payments-legacy-prev", resources).inputs as Obj;
    assert.equal(d.spec.template.spec.containers[0].image, OLD);
    assert.deepEqual(d.spec.selector.matchLabels, { app: "payments", slot: "legacy-prev" }, "selected apart from the lane's own pods");
    const tg = one(T.tg, "payments-legacy-prev", resources).inputs as Obj;
    assert.match(tg.name, /^payments-legacy-prev-[0-9a-f]{8}$/);
    assert.ok(tg.name.length <= 32);
    for (const r of resources.filter((x) => x.type.startsWith("kubernetes:"))) {
      validateK8sObject(r);
      assert.deepEqual(k8sNameProblems(r), [], `${r.type} ${r.name}`);
    }
    assert.ok(svc.legacyLanes[0].previous, "exposed for the program (alarms, release state)");
  });

  it("forwards all to the fixed lane, lets only the rollback function modify the rule, and waits for both rollouts", async () => {
    const { resources } = await build();
    const rule = one(T.rule, "payments-legacy", resources);
    const i = rule.inputs as Obj;
    assert.equal(i.actions.length, 1);
    const groups = i.actions[0].forward.targetGroups as { arn: string; weight: number }[];
    assert.deepEqual(groups.map((g) => [/targetgroup\/(payments-legacy(?:-prev)?)-/.exec(g.arn)?.[1], g.weight]), [["payments-legacy", 100], ["payments-legacy-prev", 0]]);
    assert.equal(i.tags["remedy:rollback"], "remedy-prod", "ABAC: the rollback function's ModifyRule");
    assert.equal(i.tags["remedy:release-driver"], undefined, "not the driver's");
    assert.ok(dependsOn(rule, one(T.deployment, "payments-legacy-prev", resources)));
    assert.ok(dependsOn(rule, one(T.deployment, "payments-legacy", resources)));
  });

  it("follows release state: all back to the previous image after a lane rollback, a 410 naming the link during a brownout", async () => {
    const back = one(T.rule, "payments-legacy", (await build({ rolledBack: true, brownout: false })).resources).inputs as Obj;
    assert.deepEqual((back.actions[0].forward.targetGroups as { weight: number }[]).map((g) => g.weight), [0, 100]);
    const brown = one(T.rule, "payments-legacy", (await build({ rolledBack: false, brownout: true })).resources).inputs as Obj;
    assert.equal(brown.actions[0].type, "fixed-response");
    assert.equal(brown.actions[0].fixedResponse.statusCode, "410");
    assert.match(brown.actions[0].fixedResponse.messageBody, /^410 Gone \(brownout\): payments v1\.9\.4 is deprecated and stops on \d{4}-\d{2}-\d{2}; move to the current version: https:\/\/docs\.example\.com\/payments\/v1-sunset$/);
    assert.ok(brown.actions[0].fixedResponse.messageBody.length <= 1024, "ALB: a fixed response body of at most 1024 characters");
  });

  it("lets the release driver modify the lane's rule only when it has brownouts to run (issue 37, 7)", async () => {
    recorded.resources.length = 0;
    const spec = parseServiceSpec(serviceInput({ legacy: [lane({ brownouts: [{ start: `${new Date(Date.now() + 20 * 86_400_000).toISOString().slice(0, 10)}T10:00:00Z`, minutes: 30 }] })] }));
    new BlueGreenService("payments", { spec, ingress: INGRESS, ruleTags: { "remedy:rollback": "remedy-prod" } });
    await settle();
    const tags = (one(T.rule, "payments-legacy").inputs as Obj).tags;
    assert.equal(tags["remedy:release-driver"], "remedy-prod");
    assert.equal(tags["remedy:rollback"], undefined, "no hotfix: nothing for the rollback function to go back to");
  });

  it("arms the lane's alarms to invoke the rollback function during the hotfix", async () => {
    const lanes = await laneAlarmsOf({ rollsBack: true, alarms: parseServiceSpec(serviceInput({ alarms: { relative: { errorRatePoints: 2 } } })).alarms });
    assert.equal(lanes.length, 4);
    for (const a of lanes) {
      const i = a.inputs as Obj;
      assert.deepEqual(i.alarmActions, [ROLLBACK_FN, ALARM_TOPIC], `${i.name}: rolls the lane back and pages`);
      assert.match(i.alarmDescription, /; sends the lane's callers back to the image it ran before its hotfix$/, "the slots' relative alarms do not decide for a lane");
    }
  });
});
