/**
 * The hotfix stack (`Pulumi.hotfix.yaml`) and hotfix release mode on prod, run through the real
 * program entry (`stacks/index.ts`) under Pulumi mocks, with prod's outputs served to a mocked
 * StackReference.
 */
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, hotfixSeed, hotfixStackConfig, parseHotfixStackConfig, parseStackConfig } from "../../core/config";
import { resolveDesiredReleases } from "../../core/desired";
import { type ReleaseState, initialState } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { setReleaseBackendFactory } from "../../stacks/releases";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { remedyConfig, stackYaml } from "../helpers/fixtures";
import { runStackEntry } from "../helpers/stackProgram";
import { T, installMocks, ofType, one, recorded, settle, stackReferenceOutputs, type RecordedResource } from "../helpers/pulumiMocks";
import { validateK8sObject } from "../helpers/k8sSchema";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PROD_REF = "organization/remedy/prod";
const HOTFIX_REF = "organization/remedy/hotfix";
/** The prod stack's reference to itself (its last update's outputs). */
const SELF_REF = "acme/remedy/prod";
const HOTFIX_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1-hotfix.1@sha256:56c43f791317df527fb158ed72512f4abd6b88efdcf61ce1311494d5b4bd886f";

async function runProgram(stack: string, config: Record<string, unknown>): Promise<{ exports: Obj; resources: RecordedResource[]; invokes: typeof recorded.invokes }> {
  await installMocks(stack);
  recorded.resources.length = 0;
  recorded.invokes.length = 0;
  const exports = await runStackEntry(config);
  await settle();
  return { exports, resources: [...recorded.resources], invokes: [...recorded.invokes] };
}

/** Every string anywhere in a value. */
function strings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === "object") return Object.values(v).flatMap(strings);
  return [];
}

describe("stacks: the hotfix stack and hotfix releases", () => {
  let restoreBackend: () => void;
  before(() => {
    restoreBackend = setReleaseBackendFactory(() => new MemoryReleaseBackend());
    stackReferenceOutputs.set(PROD_REF, { hotfixSeed: hotfixSeed(parseStackConfig(remedyConfig("prod")), remedyConfig("prod").services as Obj[]) });
  });
  after(async () => {
    restoreBackend();
    stackReferenceOutputs.clear();
    pulumi.runtime.setAllConfig({});
    await installMocks("prod");
  });

  describe("pulumi up on hotfix with Pulumi.hotfix.yaml", () => {
    let hotfix: Awaited<ReturnType<typeof runProgram>>;
    let prod: Awaited<ReturnType<typeof runProgram>>;
    before(async () => {
      prod = await runProgram("prod", stackYaml("prod"));
      hotfix = await runProgram("hotfix", stackYaml("hotfix"));
    });
    beforeEach(() => recorded.resources.push(...hotfix.resources));

    it("seeds every prod service at its live version; only payments runs the hotfix image, at 100%", () => {
      const deployments = ofType(T.deployment).map((d) => [d.name, (d.inputs as Obj).spec.template.spec.containers[0].image as string]);
      assert.deepEqual(deployments.sort(), [
        ["catalog-blue", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/catalog@sha256:4f6b2a1c9d8e7f60a1b2c3d4e5f60718293a4b5c6d7e8f9012a3b4c5d6e7f809"],
        ["orders-green", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v5.8.2"],
        ["payments-blue", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.0"],
        ["payments-green", HOTFIX_IMAGE],
      ].sort());
      const weights = (rule: string) => (one(T.rule, rule).inputs as Obj).actions[0].forward.targetGroups.map((g: Obj) => g.weight);
      assert.deepEqual(weights("payments"), [0, 100]);
      assert.deepEqual(weights("orders"), [0, 100], "orders is live on green in prod");
      assert.deepEqual(weights("catalog"), [100, 0]);
      for (const d of ofType(T.deployment)) assert.equal((d.inputs as Obj).spec.replicas, 2);
    });

    it("isolates: own namespace, own host, own ALB, alarms, Lambda, role and release table", () => {
      assert.deepEqual(ofType(T.namespace).map((n) => n.name), ["hotfix"]);
      for (const d of ofType(T.deployment)) assert.equal((d.inputs as Obj).metadata.namespace, "hotfix");
      // Path-routed services share the hotfix host; catalog (routed by host alone) gets its own.
      const hostOf = (rule: string) => (one(T.rule, rule).inputs as Obj).conditions[0];
      assert.deepEqual(hostOf("payments"), { hostHeader: { values: ["hotfix.example.com"] } });
      assert.deepEqual(hostOf("orders"), { hostHeader: { values: ["hotfix.example.com"] } });
      assert.deepEqual(hostOf("catalog"), { hostHeader: { values: ["catalog.hotfix.example.com"] } });
      assert.equal(ofType(T.lb).length, 1);
      assert.equal(one("aws:dynamodb/table:Table", "rollback-releases").inputs.name, "remedy-hotfix-releases");
      const alarms = ofType("aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => a.inputs.name as string);
      assert.ok(alarms.length > 0 && alarms.every((n) => n.startsWith("remedy-hotfix")), alarms.join());
      assert.equal(one("aws:lambda/permission:Permission", "rollback-alarms").inputs.sourceArn, "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:remedy-hotfix/*");
      assert.equal(hotfix.exports.rollback.alarmNamePrefix, "remedy-hotfix");
      assert.deepEqual(hotfix.exports.testedImages, { payments: HOTFIX_IMAGE });
    });

    it("walls the hotfix namespace off with a NetworkPolicy: in from its own pods and the ALB's subnets on the services' ports, out to its own pods, DNS and the declared egress (issue 35, 20)", () => {
      const policy = one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "isolation");
      validateK8sObject(policy);
      const spec = (policy.inputs as Obj).spec as Obj;
      assert.equal((policy.inputs as Obj).metadata.namespace, "hotfix");
      assert.deepEqual(spec.podSelector, {}, "every pod of the namespace");
      assert.deepEqual(spec.policyTypes, ["Ingress", "Egress"]);
      // The ALB's subnets as the mocked EC2 returns them (getSubnet), one /24 each.
      const subnets = (stackYaml("hotfix") as Obj)["remedy:ingress"].subnetIds as string[];
      const cidrs = hotfix.invokes.filter((i) => i.token === "aws:ec2/getSubnet:getSubnet").map((i) => i.inputs.id);
      assert.deepEqual([...new Set(cidrs)].sort(), [...subnets].sort(), "looks up exactly the ALB's subnets");
      assert.deepEqual(spec.ingress[0], { from: [{ podSelector: {} }] });
      assert.equal(spec.ingress[1].from.length, subnets.length);
      for (const f of spec.ingress[1].from as Obj[]) assert.match(f.ipBlock.cidr, /^10\.0\.\d+\.0\/24$/);
      assert.deepEqual(spec.ingress[1].ports, [3000, 8000, 8080].map((port) => ({ protocol: "TCP", port })), "each service's port, once");
      assert.deepEqual(spec.egress[0], { to: [{ podSelector: {} }] });
      assert.deepEqual(spec.egress[1].to, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }]);
      assert.deepEqual(spec.egress.slice(2), [{ to: [{ ipBlock: { cidr: "10.20.0.0/16" } }] }], "the declared egress, nothing wider");
      assert.ok(!prod.resources.some((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy"), "prod's namespaces are not touched");
    });

    it("cannot touch prod: no prod ARN, name or namespace anywhere in the hotfix stack's resources", () => {
      // ARNs and ids of everything prod created (config inputs such as the shared VPC or the
      // wildcard certificate are not prod resources).
      const prodArns = new Set(prod.resources.flatMap((r) => [r.state.arn, r.id]).filter((v): v is string => typeof v === "string" && v.length > 8));
      assert.ok(prodArns.size > 20, `collected ${prodArns.size} prod ARNs`);
      for (const r of hotfix.resources) {
        for (const v of strings(r.inputs)) {
          assert.ok(!prodArns.has(v), `${r.type} ${r.name} references prod's ${v}`);
          assert.ok(!v.includes("remedy-prod"), `${r.type} ${r.name} names prod: ${v}`);
        }
      }
      const policy = JSON.parse(one("aws:iam/rolePolicy:RolePolicy", "rollback").inputs.policy as string) as Obj;
      const resources: string[] = (policy.Statement as Obj[]).flatMap((st) => ([] as string[]).concat(st.Resource as string | string[]));
      const hotfixArns = new Set(hotfix.resources.flatMap((r) => strings(r.state)));
      // Rules: any in the account tagged for the hotfix stack's alarm prefix, never prod's.
      const flip = (policy.Statement as Obj[]).find((st) => st.Sid === "FlipThisStacksRules") as Obj;
      assert.deepEqual(flip.Condition, { StringEquals: { "aws:ResourceTag/remedy:rollback": "remedy-hotfix" } });
      for (const arn of resources.filter((x) => x !== "*" && x !== flip.Resource)) {
        assert.ok(hotfixArns.has(arn) || arn.includes(":alarm:remedy-hotfix/") || arn.includes("log-group"), `policy resource ${arn} is the hotfix stack's own`);
      }
      const prodNamespaces = new Set(prod.resources.filter((r) => r.type === T.namespace).map((r) => r.name));
      assert.ok(!prodNamespaces.has("hotfix"));
    });

    it("leaves prod's program unaffected: prod reads no other stack and builds the same resources", async () => {
      assert.equal(prod.resources.filter((r) => r.type === "pulumi:pulumi:StackReference").length, 0);
      const again = await runProgram("prod", stackYaml("prod"));
      const shape = (rs: RecordedResource[]) => rs.map((r) => `${r.type}::${r.name}::${JSON.stringify(r.inputs)}`).sort();
      assert.deepEqual(shape(again.resources), shape(prod.resources));
    });
  });

  it("never exports env in the seed; the hotfix stack takes each service's env from its own config", async () => {
    // Prepare: prod gives orders a secret by reference and a plain value.
    const prodServices = (remedyConfig("prod").services as Obj[]).map((s) =>
      s.name === "orders" ? { ...s, env: { LOG_LEVEL: "info", DB_PASSWORD: { secretKeyRef: { name: "orders-db", key: "password" } } } } : s,
    );
    const prodConfig = parseStackConfig({ ...remedyConfig("prod"), services: prodServices });
    // Act
    const seed = hotfixSeed(prodConfig, prodServices);
    // Assess
    for (const s of seed.services) assert.equal("env" in s, false, `${s.name}: no env in the seed`);
    assert.ok(!strings(seed).some((v) => v === "orders-db" || v === "info"));
    const h = parseHotfixStackConfig(remedyConfig("hotfix"));
    const hotfixConfig = hotfixStackConfig(seed, h);
    assert.deepEqual(hotfixConfig.services.find((s) => s.name === "orders")?.env, { LOG_LEVEL: "debug" }, "from Pulumi.hotfix.yaml hotfix.env");
    assert.deepEqual(hotfixConfig.services.find((s) => s.name === "payments")?.env, {});
  });

  it("seeds a progressive / image-mode prod service at its live version, the hotfix going straight to 100% (no strategy, no pre-traffic check)", () => {
    // Prepare: payments in image mode with a canary and a pre-traffic check, v2.3.1 live on green.
    const prod = remedyConfig("prod");
    const services = (prod.services as Obj[]).map((s) => {
      if (s.name !== "payments") return s;
      const rest = { ...s };
      delete rest.stable;
      delete rest.slots;
      delete rest.candidate;
      return { ...rest, image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.2", strategy: { kind: "canary", weight: 10, minutes: 5 }, preTraffic: { lambda: { functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:smoke" } }, testRoute: { priority: 5, value: "9f86d081884c7d659a2feaa0c55ad015" } };
    });
    const parsed = parseStackConfig({ ...prod, services });
    const live: ReleaseState = {
      ...initialState("payments", { slot: Slot.Green, version: "v2.3.1", image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1" }, { ruleArn: "arn:aws:elasticloadbalancing:r", targetGroupArns: { blue: "arn:aws:elasticloadbalancing:b", green: "arn:aws:elasticloadbalancing:g" }, stickinessSeconds: 0 }, "2026-12-01T09:00:00.000Z"),
    };
    const resolved = resolveDesiredReleases(parsed, new Map([["payments", live]]), "2026-12-01T10:00:00.000Z").config;

    // Act
    const seed = hotfixSeed(resolved, services);
    const config = hotfixStackConfig(seed, { ...parseHotfixStackConfig(remedyConfig("hotfix")), images: { payments: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1-hotfix.1@sha256:56c43f791317df527fb158ed72512f4abd6b88efdcf61ce1311494d5b4bd886f" } });

    // A hotfix namespace prod's services run in is refused, naming them (issue 35, 20).
    const prodNamespace = seed.services[0]?.namespace ?? seed.services[0]?.name;
    assert.throws(
      () => hotfixStackConfig(seed, { ...parseHotfixStackConfig(remedyConfig("hotfix")), namespace: prodNamespace as string }),
      (err: Error) => /hotfix\.namespace: "[^"]+" is where prod runs [^;]+; the hotfix environment needs a namespace of its own/.test(err.message),
    );

    // Assess
    const p = config.services.find((s) => s.name === "payments");
    assert.equal(p?.stable, "green", "seeded at prod's live slot and version");
    assert.equal(p?.slots.green?.version, "v2.3.1");
    assert.equal(p?.slots.blue?.image, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1-hotfix.1@sha256:56c43f791317df527fb158ed72512f4abd6b88efdcf61ce1311494d5b4bd886f");
    assert.equal(p?.candidateWeight, 100);
    assert.equal(p?.strategy, undefined);
    assert.equal(p?.preTraffic, undefined);
    assert.equal(p?.testRoute, undefined);
    assert.ok(!JSON.stringify(seed).includes("9f86d081884c7d659a2feaa0c55ad015"), "the test route's secret never reaches prod's (plain) hotfixSeed output");
  });

  it("gives every prod service routed by host alone its own hotfix host, so two of them can deploy", () => {
    // Prepare: prod with two services routed by host only (before: both became hotfix.example.com, refused as duplicates).
    const prodServices = [
      ...(remedyConfig("prod").services as Obj[]),
      { name: "search", port: 9000, healthPath: "/ping", routing: { hosts: ["search.example.com"], priority: 400 }, stable: "blue", slots: { blue: { image: "r/search:1.0.0" } } },
    ];
    const prodConfig = parseStackConfig({ ...remedyConfig("prod"), services: prodServices });
    const h = parseHotfixStackConfig(remedyConfig("hotfix"));
    // Act
    const config = hotfixStackConfig(hotfixSeed(prodConfig, prodServices), h);
    // Assess
    const routes = Object.fromEntries(config.services.map((s) => [s.name, [s.routing.hosts, s.routing.paths]]));
    assert.deepEqual(routes, {
      payments: [["hotfix.example.com"], ["/payments", "/payments/*"]],
      orders: [["hotfix.example.com"], ["/orders", "/orders/*"]],
      catalog: [["catalog.hotfix.example.com"], []],
      search: [["search.hotfix.example.com"], []],
    });
    // An explicit host wins; an unknown service in hotfix.hosts is named.
    const chosen = hotfixStackConfig(hotfixSeed(prodConfig, prodServices), { ...h, hosts: { search: "find.hotfix.example.com" } });
    assert.deepEqual(chosen.services.find((s) => s.name === "search")?.routing.hosts, ["find.hotfix.example.com"]);
    assert.throws(() => hotfixStackConfig(hotfixSeed(prodConfig, prodServices), { ...h, hosts: { serch: "x.example.com" } }), /hotfix\.hosts\.serch: prod has no service "serch"/);
  });

  it("refuses bad hotfix stack config with the key and the fix", async () => {
    const base = stackYaml("hotfix") as Obj;
    await assert.rejects(runProgram("hotfix", { ...base, "remedy:hotfix": { ...base["remedy:hotfix"], images: { search: HOTFIX_IMAGE } } }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /hotfix\.images\.search: prod has no service "search" \(prod services: payments, orders, catalog\)/);
      return true;
    });
    await assert.rejects(runProgram("hotfix", { ...base, "remedy:services": [] }), /services: not allowed in a hotfix stack: services come from prod through hotfix\.prodStack/);
    // A tag can be pushed again after the test: the hotfix stack takes digests only (issue 35, 20).
    const tagOnly = HOTFIX_IMAGE.replace(/@sha256:\w+$/, "");
    await assert.rejects(
      runProgram("hotfix", { ...base, "remedy:hotfix": { ...base["remedy:hotfix"], images: { payments: tagOnly } } }),
      /hotfix\.images\.payments: ".*payments:v2\.3\.1-hotfix\.1" must be pinned by digest \(<repository>:<tag>@sha256:<64 hex>\): prod's hotfix gate compares digests, .*aws ecr describe-images/,
    );
    await assert.rejects(runProgram("hotfix", { ...base, "remedy:hotfix": { ...base["remedy:hotfix"], egressCidrs: ["10.20.0.0/33"] } }), /hotfix\.egressCidrs\[0\]: must be an IPv4 or IPv6 CIDR/);
    stackReferenceOutputs.set("organization/remedy/empty", {});
    await assert.rejects(
      runProgram("hotfix", { ...base, "remedy:hotfix": { ...base["remedy:hotfix"], prodStack: "organization/remedy/empty" } }),
      /stack organization\/remedy\/empty exports no "hotfixSeed"; run `pulumi up` on organization\/remedy\/empty with this version of remedy first/,
    );
  });

  describe("hotfix release mode on prod", () => {
    const inFuture = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
    function prodWithHotfix(hotfix: Obj | undefined, image = HOTFIX_IMAGE, extra: Obj = {}): Obj {
      const config = structuredClone(stackYaml("prod")) as Obj;
      const payments = config["remedy:services"][0] as Obj;
      payments.slots.green.image = image;
      delete payments.candidate;
      if (hotfix) payments.hotfix = hotfix;
      // The API gate applies to hotfixes too: the hotfix serves v2.3.0's schema.
      payments.api.schemas["v2.3.1-hotfix.1"] = "api/payments/v2.3.0.graphql";
      return { ...config, "remedy:hotfixStack": HOTFIX_REF, ...extra };
    }
    before(() => stackReferenceOutputs.set(HOTFIX_REF, { testedImages: { payments: HOTFIX_IMAGE } }));

    it("ships the tested hotfix straight to 100% with alarms still armed, and records why and until when", async () => {
      const backend = new MemoryReleaseBackend();
      const restore = setReleaseBackendFactory(() => backend);
      try {
        const expires = inFuture(6);
        const { resources } = await runProgram("prod", prodWithHotfix({ reason: "INC-4711: card payments fail for EUR", expires }));
        const rule = resources.find((r) => r.type === T.rule && r.name === "payments")?.inputs as Obj;
        assert.deepEqual(rule.actions[0].forward.targetGroups.map((g: Obj) => g.weight), [0, 100]);
        const alarm = resources.find((r) => r.name === "payments-rollback-green-error-rate")?.inputs as Obj;
        assert.ok(alarm.alarmActions[0].includes(":function:"), "green's alarm still invokes the rollback Lambda");
        const entry = backend.store.history.find((h) => h.service === "payments" && h.action === "start-release");
        assert.match(entry?.summary ?? "", /^HOTFIX release v2\.3\.1-hotfix\.1 \(green\) at 100%; stable v2\.3\.0 \(blue\); reason: INC-4711: card payments fail for EUR; hotfix mode expires /);
        assert.equal((await backend.get("payments"))?.weights.green, 100);
      } finally {
        restore();
      }
    });

    it("tells the stack's own topic (its last export, not the one a record names) once that a hotfix mode expired, as pulumi up refuses it", async () => {
      // Prepare: prod is deployed and exported its topic; a table writer then points the record
      // at a topic of theirs (issue 35, 15); then the hotfix mode runs out.
      const backend = new MemoryReleaseBackend();
      const restore = setReleaseBackendFactory(() => backend);
      const own = "arn:aws:sns:eu-west-1:123456789012:remedy-prod-notifications-1a2b3c";
      try {
        await runProgram("prod", prodWithHotfix({ reason: "INC-4711: card payments fail", expires: inFuture(6) }));
        const recorded = await backend.get("payments");
        assert.ok(recorded?.routing.notifyTopicArn, "the topic is recorded");
        backend.store.states.set("payments", { ...recorded, routing: { ...recorded.routing, notifyTopicArn: "arn:aws:sns:eu-west-1:999999999999:elsewhere" } });
        stackReferenceOutputs.set(SELF_REF, { notificationTopicArn: own });
        const expired = prodWithHotfix({ reason: "INC-4711: card payments fail", expires: inFuture(-1) });
        // Act: two ups see it.
        await assert.rejects(runProgram("prod", expired), /hotfix mode expired at/);
        await assert.rejects(runProgram("prod", expired), /hotfix mode expired at/);
        // Assess: told once, with the action to take.
        const told = [...backend.announced.values()];
        assert.deepEqual(told.map((m) => [m.attributes.event, m.subject]), [["hotfix-expired", "remedy prod: payments hotfix mode expired (v2.3.1-hotfix.1)"]]);
        assert.match(told[0].lines[1], /remove services\[\]\.hotfix/);
        assert.equal(told[0].topicArn, own, "sent to the stack's own topic");
      } finally {
        stackReferenceOutputs.delete(SELF_REF);
        restore();
      }
    });

    it("refuses an expired hotfix, one too far out, an untested image, a progressive weight, a missing reason or hotfix stack", async () => {
      const refused = async (config: Obj, pattern: RegExp) => {
        await assert.rejects(runProgram("prod", config), (err: Error) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(err.message, pattern);
          return true;
        });
        const children = recorded.resources.filter((r) => !r.type.startsWith("remedy:") && r.type !== "pulumi:pulumi:StackReference");
        assert.deepEqual(children, [], "nothing deployed");
      };
      await refused(prodWithHotfix({ reason: "INC-4711: card payments fail", expires: inFuture(-1) }), /services\[0\]\.hotfix\.expires: hotfix mode expired at .*; remove the hotfix block \(ship as a normal release\) or set a new expiry/);
      await refused(prodWithHotfix({ reason: "INC-4711: card payments fail", expires: inFuture(24 * 30) }), /is more than 14 days away; a hotfix mode must be short-lived/);
      const repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments";
      await refused(
        prodWithHotfix({ reason: "INC-4711: card payments fail", expires: inFuture(6) }, `${repo}:v2.3.1-hotfix.2@sha256:${"b".repeat(64)}`),
        /services\[0\]\.slots\.green\.image: .*payments:v2\.3\.1-hotfix\.2@sha256:b{64} was never deployed to the hotfix stack organization\/remedy\/hotfix \(it tested .*payments:v2\.3\.1-hotfix\.1@sha256:56c43f79\w+\); test this image there first/,
      );
      // The tested tag pushed again (issue 35, 20): same tag, other bytes.
      await refused(
        prodWithHotfix({ reason: "INC-4711: card payments fail", expires: inFuture(6) }, `${repo}:v2.3.1-hotfix.1@sha256:${"c".repeat(64)}`),
        /services\[0\]\.slots\.green\.image: .*payments:v2\.3\.1-hotfix\.1@sha256:c{64} was never deployed to the hotfix stack/,
      );
      // A tag alone proves nothing about the bytes: the fix names the digest tested.
      await refused(
        prodWithHotfix({ reason: "INC-4711: card payments fail", expires: inFuture(6) }, `${repo}:v2.3.1-hotfix.1`),
        /services\[0\]\.slots\.green\.image: .*payments:v2\.3\.1-hotfix\.1 is not pinned by digest; ship the digest the hotfix stack tested: .*payments:v2\.3\.1-hotfix\.1@sha256:56c43f791317df527fb158ed72512f4abd6b88efdcf61ce1311494d5b4bd886f/,
      );
      const weighted = prodWithHotfix({ reason: "INC-4711: card payments fail", expires: inFuture(6) });
      (weighted["remedy:services"] as Obj[])[0].candidate = { weight: 10 };
      await refused(weighted, /services\[0\]\.candidate\.weight: is 10 but a hotfix goes straight to full traffic; remove candidate\.weight or set 100/);
      await refused(prodWithHotfix({ expires: inFuture(6) }), /services\[0\]\.hotfix\.reason: required: why this release skips the progressive steps/);
      const noRef = prodWithHotfix({ reason: "INC-4711: card payments fail", expires: inFuture(6) });
      delete noRef["remedy:hotfixStack"];
      await refused(noRef, /hotfixStack: required because services\[0\] \(payments\) is in hotfix mode/);
    });
  });
});
