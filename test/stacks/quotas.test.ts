/**
 * AWS quotas at preview: every limit a stack's config can exceed is counted before any resource
 * is registered, with AWS's number, the count and the fix; a 500-service stack in ten ingress
 * groups passes them all. Ingress groups: each its own ALB, services stay on the group they name.
 */
import { strict as assert } from "node:assert";
import { type StackConfig, type ServiceSpec, parseStackConfig } from "../../core/config";
import * as pulumi from "@pulumi/pulumi";
import { readRawConfig } from "../../stacks/config";
import { buildStack, stackOutputs } from "../../stacks/program";
import { QuotaError, type QuotaUse, quotaProblems, quotaUsage } from "../../stacks/quotas";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { CERTIFICATE_ARN, SUBNETS, configProblems, serviceInput, stackInput } from "../helpers/fixtures";
import { T, ofType, one, promiseOf, recorded, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const CTX = { alarmNamePrefix: "remedy-prod" };

/** `n` services named `<prefix>NNN`, each with its own path and priority. */
function services(n: number, extra: (i: number) => Record<string, unknown> = () => ({}), prefix = "svc", from = 0): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const name = `${prefix}${String(i).padStart(3, "0")}`;
    return serviceInput({ name, routing: { hosts: ["api.example.com"], paths: [`/${name}/*`], priority: i + 1 }, ...extra(i) });
  });
}

/** A parsed config with its services multiplied to `n` (cheap: no re-validation of each copy). */
function scaled(config: StackConfig, n: number, group: (i: number) => string = () => config.services[0].ingressGroup): StackConfig {
  const base = config.services[0];
  const many: ServiceSpec[] = Array.from({ length: n }, (_, i) => ({ ...base, name: `s${i}`, ingressGroup: group(i), routing: { ...base.routing, paths: [`/s${i}/*`], priority: i + 1 } }));
  return { ...config, services: many };
}

const over = (config: StackConfig, quota: RegExp): QuotaUse => {
  const p = quotaProblems(config, CTX).find((u) => quota.test(u.quota));
  assert.ok(p, `expected ${quota} to be exceeded; problems: ${quotaProblems(config, CTX).map((u) => u.quota).join("; ") || "none"}`);
  return p;
};
const use = (config: StackConfig, quota: RegExp, where?: RegExp): QuotaUse => {
  const u = quotaUsage(config, CTX).find((x) => quota.test(x.quota) && (!where || where.test(x.where)));
  assert.ok(u, `no ${quota} counted`);
  return u;
};

describe("stacks/quotas: AWS quotas checked at preview", () => {
  const groups = Object.fromEntries(Array.from({ length: 9 }, (_, g) => [`g${g}`, {}]));

  it("passes a 500-service stack in ten ingress groups of 50, with every quota counted", () => {
    const raw = stackInput(services(500, (i) => (i < 50 ? {} : { ingressGroup: `g${Math.floor(i / 50) - 1}` })), { groups });
    const config = parseStackConfig(raw);
    assert.deepEqual(quotaProblems(config, CTX), []);
    const usage = quotaUsage(config, CTX);
    // Per group: 50 services = 100 target groups, exactly AWS's limit; 50 rules.
    const tgs = usage.filter((u) => /^Target groups per Application Load Balancer/.test(u.quota));
    assert.equal(tgs.length, 10);
    assert.ok(tgs.every((u) => u.count === 100 && u.limit === 100), JSON.stringify(tgs.map((u) => u.count)));
    assert.equal(use(config, /^Application Load Balancers per Region/).count, 10);
    assert.equal(use(config, /^Target groups per Region/).count, 1000);
  });

  it("refuses a group over 100 target groups (51 services on one ALB), naming the quota, count and the fix", () => {
    const config = parseStackConfig(stackInput(services(51)));
    const p = over(config, /^Target groups per Application Load Balancer/);
    assert.equal(p.count, 102);
    assert.equal(p.limit, 100);
    assert.match(p.where, /ingress group default \(51 services\)/);
    assert.match(p.fix, /at most 50 services: move services to another ingress group \(ingress\.groups\.<name>, then services\[\]\.ingressGroup: <name>\)/);
    // The program refuses it before registering anything: a preview stops here.
    assert.throws(
      () => buildStack(config, { alarmNamePrefix: "remedy-prod", releases: new MemoryReleaseBackend(), by: "pulumi:prod" }),
      (err: Error) => err instanceof QuotaError && /Target groups per Application Load Balancer \(not adjustable\): 102 > 100 in ingress group default/.test(err.message) && /nothing was created/.test(err.message),
    );
    assert.deepEqual(recorded.resources, []);
  });

  it("counts test routes as rules and refuses more than 100, unless the account's raised quota is set", () => {
    const base = parseStackConfig(stackInput(services(1, () => ({ routing: { paths: ["/a/*"], priority: 20_000 }, testRoute: { priority: 19_000, sourceCidrs: ["10.1.0.0/16"] } }))));
    const config = scaled(base, 50);
    // 50 services with a test route each: 100 rules, at the limit; one more service is over.
    assert.equal(use(config, /^Rules per Application Load Balancer/).count, 100);
    assert.equal(quotaProblems(config, CTX).length, 0);
    const overConfig: StackConfig = { ...config, services: [...config.services.slice(0, 49), { ...config.services[0], name: "x", testRoute: undefined }, config.services[49]] };
    // 51 services (102 target groups) trips that quota too; rules: 51 + 50 = 101.
    assert.equal(over(overConfig, /^Rules per Application Load Balancer/).count, 101);
    const raised = { ...overConfig, quotas: { rulesPerLoadBalancer: 200 } };
    assert.equal(quotaProblems(raised, CTX).filter((u) => /^Rules/.test(u.quota)).length, 0);
    assert.equal(use(raised, /^Rules per Application Load Balancer/).limit, 200);
  });

  it("refuses more than 25 extra certificates on a listener", () => {
    const certs = Array.from({ length: 26 }, (_, i) => CERTIFICATE_ARN.replace(/5b$/, String(10 + i)));
    const p = over(parseStackConfig(stackInput(services(1), { additionalCertificateArns: certs })), /^Certificates per Application Load Balancer/);
    assert.equal(p.count, 26);
    assert.equal(p.limit, 25);
    assert.equal(use(parseStackConfig(stackInput(services(1), { additionalCertificateArns: certs.slice(0, 25) })), /^Certificates/).count, 25);
  });

  it("refuses an ALB security group over 60 inbound rules (one per CIDR and listener port, IPv4 and IPv6 apart)", () => {
    const cidrs = Array.from({ length: 31 }, (_, i) => `10.${i}.0.0/16`);
    const p = over(parseStackConfig(stackInput(services(1), { allowedCidrs: cidrs })), /^Inbound rules per security group \(IPv4\)/);
    assert.equal(p.count, 62, "31 CIDRs x (443 + the 80 redirect)");
    assert.equal(use(parseStackConfig(stackInput(services(1), { allowedCidrs: cidrs.slice(0, 30) })), /^Inbound rules per security group \(IPv4\)/).count, 60);
    assert.equal(use(parseStackConfig(stackInput(services(1), { allowedCidrs: ["10.0.0.0/8", "fd00::/8"] })), /^Inbound rules per security group \(IPv6\)/).count, 2);
  });

  it("refuses more ALBs than the region allows, and more target groups than the region allows", () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, g) => [`g${g}`, {}]));
    const p = over(parseStackConfig(stackInput(services(1), { groups: many })), /^Application Load Balancers per Region/);
    assert.equal(p.count, 51);
    assert.match(p.fix, /remedy:quotas\.loadBalancersPerRegion/);
    const thirtyOne = Object.fromEntries(Array.from({ length: 30 }, (_, g) => [`g${g}`, {}]));
    const base = parseStackConfig(stackInput(services(1), { groups: thirtyOne }));
    // 1,501 services over 31 ALBs (at most 49 each): only the regional quota is exceeded.
    const spread = scaled(base, 1501, (i) => (i % 31 === 30 ? "default" : `g${i % 31}`));
    assert.deepEqual(quotaProblems(spread, CTX).map((u) => u.quota), ["Target groups per Region"]);
    const t = over(spread, /^Target groups per Region/);
    assert.equal(t.count, 3002);
    assert.equal(t.limit, 3000);
  });

  it("refuses more distinct ports per group than the pods' security group takes rules", () => {
    const base = parseStackConfig(stackInput(services(1)));
    const config = scaled(base, 61);
    const ported: StackConfig = { ...config, services: config.services.map((s, i) => ({ ...s, port: 8000 + i })) };
    const p = over(ported, /the pods' security group/);
    assert.equal(p.count, 61);
    assert.equal(use(config, /the pods' security group/).count, 1, "one port, one rule");
  });

  it("keeps both Lambdas' policies the same size from 10 to 500 services, and refuses too many distinct hook functions", () => {
    const base = parseStackConfig(stackInput(services(1, () => ({ candidate: undefined, strategy: { kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 } })), { groups }));
    const size = (n: number, quota: RegExp, where: RegExp) => use(scaled(base, n, (i) => (i < 50 ? "default" : `g${i % 9}`)), quota, where).count;
    const c10 = { ...scaled(base, 10), ingressGroups: base.ingressGroups };
    for (const where of [/rollback Lambda/, /release driver's role/]) {
      const ten = use(c10, /^IAM inline policy size/, where).count;
      assert.equal(size(500, /^IAM inline policy size/, where), ten, `${where} grows with services`);
      assert.ok(ten < 3_000, `${ten} characters`);
    }
    const env10 = use(c10, /^Lambda environment variables/).count;
    assert.equal(size(500, /^Lambda environment variables/, /./), env10, "the driver's environment does not grow");
    assert.ok(env10 < 4096);
    // Each distinct Lambda pre-traffic hook is named in the driver's policy.
    const hooked = scaled(base, 200);
    const withHooks: StackConfig = {
      ...hooked,
      services: hooked.services.map((s, i) => ({ ...s, preTraffic: { check: { kind: "lambda", functionArn: `arn:aws:lambda:eu-west-1:123456789012:function:check-service-number-${i}` }, maxAttempts: 3 } }) as ServiceSpec),
    };
    const p = over(withHooks, /^IAM inline policy size/);
    assert.match(p.where, /release driver's role \(200 pre-traffic hook functions\)/);
    assert.match(p.fix, /share pre-traffic hook functions/);
  });

  it("fits every name AWS and Kubernetes limit at the longest service and group names allowed", () => {
    const name = `a${"b".repeat(48)}c`; // 50 characters, the longest service name
    const config = parseStackConfig(stackInput([serviceInput({ name, ingressGroup: "abcdefghijklmnopq" })], { groups: { abcdefghijklmnopq: {} } }));
    for (const quota of [/^Target group name length/, /^CloudWatch alarm name length/, /^Kubernetes Service name length/, /^TargetGroupBinding name length/, /^Load balancer name length/]) {
      const u = use(config, quota, quota.source.includes("Load balancer") ? /abcdefghijklmnopq/ : undefined);
      assert.ok(u.count <= u.limit, `${u.quota}: ${u.count} > ${u.limit} (${u.where})`);
    }
    assert.equal(use(config, /^Target group name length/).count, 32, "hashed names use the whole 32 characters");
    // The binding's name is what the controller's readiness gate carries: a qualified name's 63.
    assert.deepEqual([use(config, /^TargetGroupBinding name length/).count, use(config, /^TargetGroupBinding name length/).limit], [63, 63]);
    assert.equal(use(config, /^Load balancer name length/, /abcdefghijklmnopq/).count, 32);
    // One more character in a group name would not fit: refused by its schema.
    assert.deepEqual(configProblems(() => parseStackConfig(stackInput(services(1), { groups: { abcdefghijklmnopqr: {} } }))), [
      "ingress.groups.abcdefghijklmnopqr: must be 1..17 of a-z 0-9 - starting with a letter (the group's ALB is named remedy-<group> plus 8 random characters, and AWS allows 32)",
    ]);
  });

  it("counts targets per ALB with every slot at full size, as through a rollback window, and takes a raised quota (issue 34, 10)", () => {
    // Prepare: 26 two-slot services of 20 replicas on one ALB: 1,040 targets while the previous slots are warm.
    const config = parseStackConfig(stackInput(services(26, () => ({ replicas: 20, slots: { blue: { image: "r/a:v1" }, green: { image: "r/a:v2" } } }))));
    // Act + Assess
    const u = over(config, /^Targets per Application Load Balancer/);
    assert.deepEqual([u.count, u.limit], [1040, 1000]);
    assert.match(u.where, /every slot at full size, as through a rollback window/);
    assert.match(u.fix, /remedy:quotas\.targetsPerLoadBalancer/);
    const raised = parseStackConfig({ ...stackInput(services(26, () => ({ replicas: 20, slots: { blue: { image: "r/a:v1" }, green: { image: "r/a:v2" } } }))), quotas: { targetsPerLoadBalancer: 2000 } });
    assert.ok(quotaProblems(raised, { alarmNamePrefix: "remedy-prod" }).every((p) => !/^Targets per/.test(p.quota)));
  });

  it("counts condition values per rule (refused by config past 5) and target groups per forward action", () => {
    const config = parseStackConfig(stackInput(services(1)));
    assert.deepEqual([use(config, /^Condition values per rule/).count, use(config, /^Condition values per rule/).limit], [2, 5]);
    assert.deepEqual([use(config, /^Target groups per forward action/).count, use(config, /^Target groups per forward action/).limit], [2, 5]);
    const lines = configProblems(() => parseStackConfig(stackInput([serviceInput({ routing: { hosts: ["a.example.com", "b.example.com", "c.example.com"], paths: ["/a", "/b", "/c"], priority: 1 } })])));
    assert.ok(lines.some((l) => /has 6 host\/path values; an ALB rule allows at most 5/.test(l)), lines.join("\n"));
  });

  it("reads raised quotas from remedy:quotas in stack config", () => {
    pulumi.runtime.setAllConfig({ "remedy:quotas": JSON.stringify({ rulesPerLoadBalancer: 250 }) });
    try {
      assert.deepEqual(readRawConfig().quotas, { rulesPerLoadBalancer: 250 });
    } finally {
      pulumi.runtime.setAllConfig({});
    }
    const config = parseStackConfig({ ...stackInput(services(1)), quotas: { rulesPerLoadBalancer: 250 } });
    assert.equal(use(config, /^Rules per Application Load Balancer/).limit, 250);
    assert.deepEqual(configProblems(() => parseStackConfig({ ...stackInput(services(1)), quotas: { rulesPerLoadBalancer: 50 } })), [
      "quotas.rulesPerLoadBalancer: must be an integer 100..1000, got 50",
    ]);
  });

  it("refuses release table and topic policies past their size limits (operator roles)", () => {
    const roles = Array.from({ length: 400 }, (_, i) => `arn:aws:iam::123456789012:role/oncall-engineers-team-${String(i).padStart(4, "0")}`);
    const config = { ...parseStackConfig(stackInput(services(1))), rollback: { ...parseStackConfig(stackInput(services(1))).rollback, operatorRoleArns: roles } };
    assert.match(over(config, /^DynamoDB resource-based policy size/).where, /400 operator and 0 deployer roles/);
    assert.equal(over(config, /^DynamoDB resource-based policy size/).limit, 20_480);
    // Deployer roles count too (issue 34, 9).
    const deployers = { ...config, rollback: { ...config.rollback, operatorRoleArns: [], deployerRoleArns: roles } };
    assert.match(over(deployers, /^DynamoDB resource-based policy size/).where, /0 operator and 400 deployer roles/);
  });
});

describe("stacks: ingress groups", () => {
  const backend = () => new MemoryReleaseBackend();
  const raw = (extra: object[] = []) =>
    stackInput([...services(2), ...services(2, () => ({ ingressGroup: "edge" }), "edg", 100), ...extra], { groups: { edge: { internal: true, allowedCidrs: ["10.0.0.0/8"] } } });

  async function build(config: Record<string, unknown>) {
    recorded.resources.length = 0;
    const resources = buildStack(parseStackConfig(config), { alarmNamePrefix: "remedy-prod", releases: backend(), by: "pulumi:prod", now: "2026-12-01T10:00:00Z" });
    await settle();
    return resources;
  }
  const listenerOf = (service: string) => (one(T.rule, service).inputs as Obj).listenerArn as string;

  it("puts each group on its own ALB (security group, listeners), inheriting unset settings, with its DNS name in the outputs", async () => {
    const resources = await build(raw());
    const lbs = ofType(T.lb);
    assert.deepEqual(lbs.map((r) => r.name).sort(), ["remedy", "remedy-edge"]);
    const edge = one(T.lb, "remedy-edge").inputs as Obj;
    assert.equal(edge.internal, true);
    assert.deepEqual(edge.subnets, SUBNETS, "inherited from ingress");
    assert.equal((one(T.lb, "remedy").inputs as Obj).internal, false);
    assert.equal((one("aws:lb/listener:Listener", "remedy-edge-https").inputs as Obj).certificateArn, CERTIFICATE_ARN, "inherited certificate");
    assert.notEqual(listenerOf("edg100"), listenerOf("svc000"));
    assert.equal(listenerOf("edg100"), one("aws:lb/listener:Listener", "remedy-edge-https").state.arn);
    assert.equal(listenerOf("svc001"), one("aws:lb/listener:Listener", "remedy-https").state.arn);
    // Each group's security group admits its own CIDRs; bindings admit their own ALB's group.
    const edgeSg = one("aws:ec2/securityGroup:SecurityGroup", "remedy-edge-alb");
    assert.deepEqual((edgeSg.inputs as Obj).ingress[0].cidrBlocks, ["10.0.0.0/8"]);
    const binding = ofType("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding").find((r) => (r.inputs as Obj).metadata.name.startsWith("edg100-blue"));
    assert.equal((binding?.inputs as Obj).spec.networking.ingress[0].from[0].securityGroup.groupID, edgeSg.id);
    // ELB 5xx paging per ALB, and outputs per group.
    assert.deepEqual(ofType("aws:cloudwatch/metricAlarm:MetricAlarm").map((r) => (r.inputs as Obj).name).filter((n: string) => /elb-5xx/.test(n)).sort(), ["remedy-prod-alb-edge-elb-5xx", "remedy-prod-alb-elb-5xx"]);
    const out = stackOutputs(resources);
    assert.deepEqual(out.ingressGroups.edge.services, ["edg100", "edg101"]);
    assert.deepEqual(out.ingressGroups.default.services, ["svc000", "svc001"]);
    assert.equal(await promiseOf(out.ingressGroups.edge.dnsName as never), one(T.lb, "remedy-edge").state.dnsName);
    assert.equal(out.services.edg101.ingressGroup, "edge");
    assert.equal(await promiseOf(out.services.edg101.dnsName as never), one(T.lb, "remedy-edge").state.dnsName);
  });

  it("never moves a service to another ALB when services are added or removed", async () => {
    await build(raw());
    const before = Object.fromEntries(["svc000", "svc001", "edg100", "edg101"].map((s) => [s, listenerOf(s)]));
    await build(raw(services(3, () => ({ ingressGroup: "edge" }), "new", 200)));
    for (const [s, listener] of Object.entries(before)) assert.equal(listenerOf(s), listener, s);
    const removed = raw();
    (removed.services as object[]).splice(0, 1);
    await build(removed);
    for (const s of ["svc001", "edg100", "edg101"]) assert.equal(listenerOf(s), before[s], s);
  });

  it("refuses an unknown group and a group setting that does not fit, naming the key and the fix", () => {
    const lines = configProblems(() =>
      parseStackConfig(stackInput([serviceInput({ ingressGroup: "edgy" })], { groups: { edge: { listenerArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shared/50dc6c495c0c9188/f2f7dc8efc522ab2" } } })),
    );
    assert.deepEqual(lines.sort(), [
      "ingress.groups.edge.securityGroupId: required with ingress.groups.edge.listenerArn: the ALB's security group, so target group bindings can admit its traffic",
      'services[0].ingressGroup: no ingress group "edgy": define it under ingress.groups, or use one of default, edge',
    ]);
  });
});
