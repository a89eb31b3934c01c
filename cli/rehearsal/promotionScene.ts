/**
 * The rehearsal's promotion from staging to prod (issue 38): staging released payments v2.4.0 as
 * a bundle a day ago and it soaked since; v2.4.1 was rolled back there by its error-rate alarm.
 * Prod's config takes releases only from staging (Pulumi.prod.yaml's own `remedy:promotion`). `remedy approve`
 * and `remedy promote-env --write` run as a pipeline would (the CLI's own code); v2.4.0 is
 * allowed and written into prod's stack file, and the next `pulumi up` (the real program, whose
 * preview asks the same gates) starts it; v2.4.1 is refused by promote-env, and by `pulumi up`
 * when someone sets it by hand, with the reasons printed.
 *
 * Staging stands in as its release table in the same emulator, written with the code its own
 * `pulumi up` and release driver use (the bundle made by `releaseBundle`, each change through
 * `applyEvent` and a conditional commit), and its CloudWatch as a {@link MetricArchive} holding
 * the datapoints and the alarm change its ALB and alarms would have produced (moto computes no
 * percentiles and keeps no alarm history).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import * as yaml from "js-yaml";
import { parseStackConfig } from "../../core/config";
import { loadBalancerDimension, targetGroupDimension } from "../../core/alarms";
import type { ReleaseBundle } from "../../core/promotion/bundle";
import { type ReleaseEvent, type Routing, applyEvent, initialState } from "../../core/releaseState";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { listenerOfRule } from "../../lambdas/commons/traffic";
import { releaseBundle } from "../../stacks/bundles";
import { promoteEnvCommand } from "../commands/promoteEnv";
import { promotionCommand } from "../commands/promotion";
import { stackFileConfig } from "../commands/validate";
import { MetricArchive } from "./cloudwatchStandIns";

export const STAGING_STACK = "organization/remedy/staging";
const SERVICE = "payments";
const REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments";
/** What staging ran: pinned by digest, as a bundle must be. */
export const STAGED = {
  promoted: { version: "v2.4.0", image: `${REPO}@sha256:${"4a0".repeat(21)}4` },
  refused: { version: "v2.4.1", image: `${REPO}@sha256:${"4a1".repeat(21)}4` },
} as const;
/** Who released in staging (its pipeline's role), not who approves in prod. */
const RELEASER = "arn:aws:sts::123456789012:assumed-role/ci-deployer/staging-pipeline";

/** When staging released v2.4.0 and when it completed (minutes before now): longer ago than prod's soak. */
const RELEASED = -1600;
const COMPLETED = -1570;

const STAGING_ROUTING: Routing = {
  ruleArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy-staging/0a1b2c3d4e5f6a7b/1a2b3c4d5e6f7a8b/9c8d7e6f5a4b3c2d",
  targetGroupArns: { blue: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-blue-staging/0a1b2c3d4e5f6a7b", green: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-green-staging/1b2c3d4e5f6a7b8c" },
  stickinessSeconds: 0,
};

/**
 * `config` (the rehearsal's, un-namespaced) with Pulumi.prod.yaml's own promotion policy, and
 * payments' schemas for the versions in play.
 */
export function withPromotion(config: Record<string, unknown>, root: string): Record<string, unknown> {
  const policy = (yaml.load(fs.readFileSync(path.join(root, "Pulumi.prod.yaml"), "utf8")) as { config: Record<string, unknown> }).config["remedy:promotion"] as { sources: { stack: string }[] } | undefined;
  if (!policy?.sources.some((s) => s.stack === STAGING_STACK)) throw new Error(`Pulumi.prod.yaml's remedy:promotion does not take releases from ${STAGING_STACK}: the rehearsal promotes from there`);
  const services = JSON.parse(JSON.stringify(config.services)) as { name: string; api?: { schemas: Record<string, string> } }[];
  const payments = services.find((s) => s.name === SERVICE);
  // payments' API has not changed since v2.3.1: each version names that schema.
  const same = path.resolve(root, "api/payments/v2.3.1.graphql");
  if (payments?.api) for (const v of ["v2.3.3", "v2.3.5", STAGED.promoted.version, STAGED.refused.version]) payments.api.schemas[v] = same;
  return { ...config, services, promotion: policy };
}

/** Writes `config` as a stack file (`remedy:` keys) in a new directory; its path. */
export function writeStackFile(config: Record<string, unknown>): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "remedy-rehearsal-prod-")), "Pulumi.prod.yaml");
  fs.writeFileSync(file, yaml.dump({ config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`remedy:${k}`, v])) }, { lineWidth: -1 }));
  return file;
}

/** A stack file's `remedy:` config, un-namespaced, as the rehearsal's `pulumi up` takes it. */
export const readStackFile = (file: string): Record<string, unknown> => stackFileConfig(file).raw;

export interface Staging {
  readonly promoted: ReleaseBundle;
  readonly refused: ReleaseBundle;
  /** Staging's CloudWatch. */
  readonly cloudwatch: () => CloudWatchClient;
}

/**
 * Staging's release table and CloudWatch, as its own `pulumi up`, release driver and ALB would
 * have left them by `nowMs`: v2.4.0 released 26 h 40 min ago, completed 26 h 10 min ago, soaking since; v2.4.1
 * started 45 min ago and rolled back 38 min ago on its error-rate alarm.
 */
export async function stageStaging(o: { readonly endpoint: string; readonly region: string; readonly config: Record<string, unknown>; readonly baseDir: string; readonly nowMs: number }): Promise<Staging> {
  const at = (min: number) => new Date(o.nowMs + min * 60_000).toISOString();
  const ddb = new DynamoDBClient({ endpoint: o.endpoint, region: o.region });
  await ddb.send(new CreateTableCommand({ TableName: "remedy-staging-releases", BillingMode: "PAY_PER_REQUEST", AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }, { AttributeName: "sk", AttributeType: "S" }], KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }, { AttributeName: "sk", KeyType: "RANGE" }] }));
  const store = new ReleaseStore(ddb, "remedy-staging-releases");
  // The same service config in both stacks (its code part is in the bundle's id).
  const spec = parseStackConfig(o.config).services.find((s) => s.name === SERVICE);
  if (!spec) throw new Error(`the rehearsal's config has no ${SERVICE}`);
  const bundleOf = (start: Extract<ReleaseEvent, { type: "start-release" }>) => {
    const b = releaseBundle(spec, start, { source: STAGING_STACK, releaser: RELEASER, now: start.at, plans: [], applied: [], baseDir: o.baseDir });
    if (typeof b === "string") throw new Error(b);
    return b;
  };
  const startOf = (slot: "blue" | "green", v: { version: string; image: string }, min: number): Extract<ReleaseEvent, { type: "start-release" }> => ({ type: "start-release", candidate: { slot, version: v.version, image: v.image }, weight: 10, at: at(min), by: "pulumi:staging" });
  const [startA, startB] = [startOf("green", STAGED.promoted, RELEASED), startOf("blue", STAGED.refused, -45)];
  const [promoted, refused] = [bundleOf(startA), bundleOf(startB)];
  let s = initialState(SERVICE, { slot: "blue", version: "v2.3.3", image: `${REPO}@sha256:${"3".repeat(64)}` }, STAGING_ROUTING, at(2 * RELEASED));
  await store.create(s);
  const events: ReleaseEvent[] = [
    { ...startA, candidate: { ...startA.candidate, bundle: promoted.id } },
    { type: "promote", rollbackWindowMinutes: 60, at: at(COMPLETED), by: "release-driver" },
    { ...startB, candidate: { ...startB.candidate, bundle: refused.id } },
    { type: "roll-back", failedSlot: "blue", observedAt: at(-39), reason: "remedy-staging/payments/blue/error-rate: Threshold Crossed: 1 datapoint [9.4] was greater than or equal to the threshold (2.0).", at: at(-38), by: "remedy-staging/payments/blue/error-rate" },
  ];
  for (const e of events) {
    // As the program: the bundle first, then the release that names it.
    if (e.type === "start-release") await store.recordBundle(SERVICE, { ...(e.candidate.bundle === promoted.id ? promoted : refused) });
    const t = applyEvent(s, e);
    if (t.kind !== "applied") throw new Error(`staging's history: ${e.type}: ${t.reason}`);
    await store.commit(s.revision, t.state, t.entry);
    s = t.state;
  }
  // Its ALB's numbers: v2.3.3 (blue) before v2.4.0, v2.4.0 (green) since it was promoted; every 5 min.
  const archive = new MetricArchive();
  const lb = loadBalancerDimension(listenerOfRule(STAGING_ROUTING.ruleArn) as string);
  const put = (slot: "blue" | "green", from: number, to: number, errors: number, latencies: readonly number[]) => {
    const dims = [{ Name: "TargetGroup", Value: targetGroupDimension(STAGING_ROUTING.targetGroupArns[slot]) }, { Name: "LoadBalancer", Value: lb }];
    for (let m = from; m < to; m += 5) {
      const when = new Date(o.nowMs + m * 60_000);
      archive.put("AWS/ApplicationELB", "RequestCount", dims, when, 6000);
      archive.put("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dims, when, errors);
      for (const l of latencies) archive.put("AWS/ApplicationELB", "TargetResponseTime", dims, when, l);
    }
  };
  const spread = (base: number) => Array.from({ length: 50 }, (_, i) => Math.round((base + (i * i) / 10_000) * 1000) / 1000);
  put("blue", 2 * RELEASED, RELEASED, 6, spread(0.12));
  put("green", COMPLETED, 0, 5, spread(0.125));
  archive.alarmChanged("remedy-staging/payments/blue/error-rate", new Date(o.nowMs - 39 * 60_000), "OK", "ALARM", "Threshold Crossed: 1 datapoint [9.4] was greater than or equal to the threshold (2.0).");
  return { promoted, refused, cloudwatch: () => archive.client(o.region) };
}

/** What a command printed and returned. */
export interface Ran {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function ran(run: (io: { out: (s: string) => void; err: (s: string) => void }) => Promise<number>): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run({ out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/**
 * `remedy approve payments <bundle> --stack prod` by a release manager: a session of the
 * `release-managers` role (created and assumed in the emulator, as IAM and STS would), so the
 * approval is recorded with the identity STS verifies for it.
 */
export async function approve(bundle: string, o: { readonly endpoint: string; readonly region: string }): Promise<Ran> {
  const cfg = { endpoint: o.endpoint, region: o.region };
  const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "sts:AssumeRole" }] };
  const role = (await new IAMClient(cfg).send(new CreateRoleCommand({ RoleName: "release-managers", AssumeRolePolicyDocument: JSON.stringify(trust) }))).Role?.Arn;
  const c = (await new STSClient(cfg).send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: "alice" }))).Credentials;
  const keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] as const;
  const saved = keys.map((k) => process.env[k]);
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: c?.AccessKeyId, AWS_SECRET_ACCESS_KEY: c?.SecretAccessKey, AWS_SESSION_TOKEN: c?.SessionToken });
  try {
    return await ran((io) => promotionCommand("approve", [SERVICE, bundle, "--stack", "prod"], false, io));
  } finally {
    keys.forEach((k, i) => (saved[i] === undefined ? delete process.env[k] : (process.env[k] = saved[i])));
  }
}

/** `remedy promote-env payments --from staging --to prod --config <file> [--bundle <id>] [--write]`. */
export const promoteEnv = (file: string, staging: Staging, extra: readonly string[]): Promise<Ran> =>
  ran((io) => promoteEnvCommand([SERVICE, "--from", "staging", "--to", "prod", "--config", file, ...extra], false, io, { cloudwatch: staging.cloudwatch }));

/** The rehearsal's hooks: its `pulumi up` (with staging's CloudWatch for the promotion gate), its timeline, and prod's release state as last read. */
export interface PromotionRehearsal {
  readonly endpoint: string;
  readonly region: string;
  readonly root: string;
  /** Prod's config as the rehearsal last deployed it (un-namespaced). */
  readonly config: Record<string, unknown>;
  readonly up: (config: Record<string, unknown>, sourceCloudWatch: () => CloudWatchClient) => Promise<void>;
  readonly record: (step: string, change: string, expect?: { blue: number; green: number }, extra?: () => string | undefined) => Promise<void>;
  readonly candidate: () => { readonly version: string; readonly bundle?: string } | undefined;
}

/** The gates that do not allow, one line each. */
const held = (out: string) =>
  out
    .split("\n")
    .filter((l) => /^ {2}(deny|wait) /.test(l))
    .map((l) => l.trim().replace(/\s{2,}/g, " "))
    .join("; ");

/** Staging to prod: one bundle promoted (approved, written, deployed), one refused twice, with the reasons. */
export async function rehearsePromotion(r: PromotionRehearsal): Promise<void> {
  const prod = withPromotion(r.config, r.root);
  const staging = await stageStaging({ endpoint: r.endpoint, region: r.region, config: prod, baseDir: r.root, nowMs: Date.now() });
  const [a, b] = [staging.promoted, staging.refused];
  const same = { blue: 0, green: 100 };
  await r.record("staging", `${a.version} ran there as bundle ${a.id} (completed ${Math.round(-COMPLETED / 60)} h ago, soaking since); ${b.version} as ${b.id}, rolled back 38 min ago by its error-rate alarm`, same);
  const file = writeStackFile(prod);
  const approved = await approve(a.id, r);
  await r.record("remedy approve", approved.out || approved.err, same, () => (approved.code === 0 ? undefined : `exit ${approved.code}`));
  const allowed = await promoteEnv(file, staging, ["--write"]);
  const wrote = /^ship it: wrote .* into /m.test(allowed.out);
  await r.record("promote-env (v2.4.0)", `${allowed.out.split("\n")[0]}; wrote ${a.image.replace(/^.*\//, "")} (version ${a.version}) into prod's stack file`, same, () => (allowed.code === 0 && wrote ? undefined : `exit ${allowed.code}: ${allowed.out}${allowed.err}`));
  await r.up(readStackFile(file), staging.cloudwatch);
  await r.record("pulumi up #7 (promoted)", `the promotion gate at preview allows bundle ${a.id}: ${a.version} released into the idle slot (blue) at 0%`, same, () => {
    const c = r.candidate();
    return c?.version === a.version && c.bundle === a.id ? undefined : `candidate ${c?.version ?? "-"} (bundle ${c?.bundle ?? "-"})`;
  });
  const refused = await promoteEnv(file, staging, ["--bundle", b.id]);
  await r.record("promote-env (v2.4.1)", `${refused.out.split("\n")[0]}: ${held(refused.out)}`, same, () => (refused.code === 1 ? undefined : `exit ${refused.code}: ${refused.out}${refused.err}`));
  // Someone sets v2.4.1 in prod's config by hand: the same gates refuse it at preview.
  const byHand = readStackFile(file) as { services: Record<string, unknown>[] };
  const payments = byHand.services.find((s) => s.name === SERVICE) as Record<string, unknown>;
  Object.assign(payments, { image: b.image, version: b.version });
  let refusal = "";
  try {
    await r.up(byHand, staging.cloudwatch);
  } catch (err) {
    refusal = (err as Error).message;
  }
  await r.record("pulumi up #8 (by hand)", refusal ? `refused before anything was deployed: ${refusal.split("\n").slice(0, 2).join(" ").replace(/\s+/g, " ")}` : "deployed", same, () => {
    const c = r.candidate();
    return refusal.startsWith("promotion gate refused") && c?.version === a.version ? undefined : `not refused by the promotion gate (${refusal || "no error"}); candidate ${c?.version ?? "-"}`;
  });
}
