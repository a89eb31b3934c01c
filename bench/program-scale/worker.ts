/**
 * One measurement of bench/program-scale, in its own process so peak memory is its own:
 * evaluates the prod stack program under Pulumi mocks for N services and prints one JSON line.
 * Usage: worker.ts <services>
 */
import * as pulumi from "@pulumi/pulumi";
import * as v8 from "node:v8";
import { parseStackConfig } from "../../core/config";
import { quotaUsage } from "../../stacks/quotas";
import { buildStack, stackOutputs } from "../../stacks/program";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { settle } from "../../test/helpers/pulumiMocks";
import { installFastStackTraces } from "../../stacks/stackTraces";

const services = Number(process.argv[2]);
const SERVICES_PER_GROUP = 50;
if (!Number.isInteger(services) || services < 1) {
  console.error("usage: worker.ts <services: positive integer>");
  process.exit(2);
}

/** N services shaped like the prod example: two slots, a 10% candidate, host + path routing. */
function config(n: number): unknown {
  // 50 services per ALB (100 target groups, AWS's limit per ALB): the first 50 on the default
  // group, then groups g1, g2, ...
  const groups = Math.ceil(n / SERVICES_PER_GROUP);
  return {
    kubernetes: { cluster: "bench-eks" },
    ingress: {
      vpcId: "vpc-0a1b2c3d4e5f67890",
      subnetIds: ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
      certificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
      ...(groups > 1 ? { groups: Object.fromEntries(Array.from({ length: groups - 1 }, (_, g) => [`g${g + 1}`, {}])) } : {}),
    },
    quotas: { loadBalancersPerRegion: Math.max(50, groups), targetGroupsPerRegion: Math.max(3000, 2 * n) },
    services: Array.from({ length: n }, (_, i) => ({
      name: `svc-${i}`,
      ...(i >= SERVICES_PER_GROUP ? { ingressGroup: `g${Math.floor(i / SERVICES_PER_GROUP)}` } : {}),
      port: 8080,
      healthPath: "/healthz",
      replicas: 3,
      routing: { hosts: ["api.example.com"], paths: [`/svc-${i}`, `/svc-${i}/*`], priority: i + 1 },
      stable: i % 2 === 0 ? "blue" : "green",
      slots: {
        blue: { image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc-${i}:v1.${i}.0` },
        green: { image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc-${i}:v1.${i}.1` },
      },
      candidate: { weight: 10 },
    })),
  };
}

/** ARNs shaped like AWS's, as the alarm dimensions are parsed out of them. */
function arnFor(type: string, name: string): string {
  const elb = "arn:aws:elasticloadbalancing:eu-west-1:123456789012";
  if (type === "aws:lb/targetGroup:TargetGroup") return `${elb}:targetgroup/${name.slice(0, 32)}/0123456789abcdef`;
  if (type === "aws:lb/listener:Listener") return `${elb}:listener/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2`;
  if (type === "aws:lb/loadBalancer:LoadBalancer") return `${elb}:loadbalancer/app/remedy/50dc6c495c0c9188`;
  return `${elb}:${type}/${name}`;
}

const CALLS: Record<string, Record<string, unknown>> = {
  "aws:ec2/getVpc:getVpc": { cidrBlock: "10.0.0.0/16" },
  "aws:index/getRegion:getRegion": { region: "eu-west-1", name: "eu-west-1" },
  "aws:index/getCallerIdentity:getCallerIdentity": { accountId: "123456789012" },
  "aws:eks/getCluster:getCluster": { endpoint: "https://bench.eks.amazonaws.com", certificateAuthorities: [{ data: "YmVuY2g=" }] },
};

async function main(): Promise<void> {
  // As the stack's entry (stacks/index.ts) does under `pulumi up`; BENCH_MAPPED_STACKS=1 measures without.
  if (process.env.BENCH_MAPPED_STACKS !== "1") installFastStackTraces();
  let resources = 0;
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        resources += 1;
        return { id: `${args.name}-id`, state: { ...args.inputs, arn: arnFor(args.type, args.name) } };
      },
      call: (args) => CALLS[args.token] ?? {},
    },
    "remedy",
    "prod",
    false,
  );
  const raw = config(services);
  const start = process.hrtime.bigint();
  const parsed = parseStackConfig(raw);
  // What buildStack refuses a preview on (it runs the same check before registering anything).
  const usage = quotaUsage(parsed, { alarmNamePrefix: "remedy-bench" });
  const outputs = stackOutputs(buildStack(parsed, { alarmNamePrefix: "remedy-bench", releases: new MemoryReleaseBackend(), by: "pulumi:bench" }));
  await settle();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (Object.keys(outputs.services).length !== services) throw new Error("not every service was built");
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  const heapLimitMiB = v8.getHeapStatistics().heap_size_limit / 2 ** 20;
  // What the evaluated program keeps (the rest of the peak is garbage V8 had not collected yet).
  (global as { gc?: () => void }).gc?.();
  const retainedHeapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  const over = usage.filter((u) => u.count > u.limit);
  console.log(JSON.stringify({ services, ms, resources, peakRssMiB, retainedHeapMiB, heapLimitMiB, quotaChecks: usage.length, quotaProblems: over.map((u) => `${u.quota}: ${u.count} > ${u.limit}`) }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
