/**
 * The program behind `stacks/index.ts`. Two kinds of stack share it:
 * - prod-like stacks (`remedy:services`): export, besides the usual outputs, `hotfixSeed` (their
 *   live versions) for a hotfix stack; services in hotfix release mode are checked against the
 *   hotfix stack's `testedImages` before anything is deployed;
 * - hotfix stacks (`remedy:hotfix`): seeded from prod's `hotfixSeed` through a StackReference,
 *   isolated (own ALB, namespace, alarms, Lambda, role, table), exporting `testedImages`.
 */
import { callersRuleName, laneKey } from "../core/naming";
import type { LaneState } from "../core/laneState";
import { type DeployedLane, frozenLaneProblems, laneRollbackTargets } from "../core/config/legacyLane";
import * as pulumi from "@pulumi/pulumi";
import { releaseTableName } from "../components/rollback/rollbackFunction";
import {
  ConfigError,
  type HotfixSeed,
  type StackConfig,
  checkHotfixReleases,
  hotfixSeed,
  hotfixHosts,
  hotfixStackConfig,
  parseHotfixStackConfig,
  parseStackConfig,
} from "../core/config";
import { resolveDesiredReleases } from "../core/desired";
import { hotfixExpiredNotice, legacySunsetNotice, sunsetNoticeDue } from "../core/lifecycle";
import { checkApiGates } from "./apiGate";
import { checkPromotions } from "./promotionGate";
import { isSecretConfig, readAwsSettings, readRawConfig, requireSecretTestRoutes, thisStackName } from "./config";
import * as aws from "@pulumi/aws";
import { type BuildOptions, type StackOutputs, buildStack, needsClusterLookup, stackOutputs } from "./program";
import { prepareReleases } from "./releasePlans";
import * as defaults from "../core/defaults";
import { driverRole } from "../core/driverConfig";
import { lambdaConcurrencyProblem } from "../core/driverAccess";
import { releaseBackend, snapshotReads, type ReleaseBackend } from "./releases";
import * as path from "node:path";
import { loadPlans } from "../database/plans";
import { checkMigrationDeployment, type VersionUsage } from "../database/gates";
import { otherSlot } from "../core/slots";

export type ProgramOutputs = StackOutputs & {
  readonly hotfixSeed?: HotfixSeed;
  readonly hotfix?: { readonly prodStack: string; readonly host: string; readonly hosts: Readonly<Record<string, string>> };
  readonly testedImages?: Readonly<Record<string, string>>;
};

/** Reads a stack output, failing with what to do when it is missing. */
async function requireOutput<T>(ref: pulumi.StackReference, stack: string, key: string, fix: string): Promise<T> {
  const details = await ref.getOutputDetails(key);
  const value = (details.value ?? details.secretValue) as T | undefined;
  if (value === undefined) throw new Error(`stack ${stack} exports no "${key}"; ${fix}`);
  return value;
}

const alarmNamePrefix = (): string => `${pulumi.getProject()}-${pulumi.getStack()}`;
const backend = (): ReleaseBackend => snapshotReads(releaseBackend(releaseTableName(alarmNamePrefix()), readAwsSettings(), alarmNamePrefix()));

/**
 * Refuses, before anything is registered, an account whose Lambda concurrency limit cannot hold the
 * stack's reservations (see `core/driverAccess.ts` lambdaConcurrencyProblem). A deployer without
 * `lambda:GetAccountSettings` gets a warning, not a refusal.
 */
export async function checkLambdaConcurrency(config: StackConfig, releases: ReleaseBackend): Promise<void> {
  if (!releases.lambdaConcurrencyLimit) return;
  const reserved = defaults.DEFAULT_ROLLBACK_RESERVED_CONCURRENCY + (config.services.some((s) => driverRole(s)) ? defaults.DRIVER_RESERVED_CONCURRENCY : 0);
  let limit: number | undefined;
  try {
    limit = await releases.lambdaConcurrencyLimit();
  } catch (err) {
    void pulumi.log.warn(`could not read the account's Lambda concurrency limit (${(err as Error).message}); the stack reserves ${reserved} concurrent executions, which needs a limit of at least ${100 + reserved}`);
    return;
  }
  const problem = limit === undefined ? undefined : lambdaConcurrencyProblem(limit, reserved);
  if (problem) throw new Error(problem);
}

async function build(config: StackConfig, releases: ReleaseBackend, extra: Partial<Pick<BuildOptions, "apiOverrides" | "rollbackWindow" | "plans">> = {}): Promise<StackOutputs> {
  await checkLambdaConcurrency(config, releases);
  // Config lagging behind a driver promotion must not put a new version onto the live slot:
  // refused here, before anything is registered (planRelease refuses it again per service); a
  // candidate slot about to get another version is taken to 0% before it rolls out.
  const now = new Date().toISOString();
  for (const w of await prepareReleases(config, releases, { now, by: `pulumi:${pulumi.getStack()}`, dryRun: pulumi.runtime.isDryRun() })) void pulumi.log.warn(w);
  // One lookup of the cluster, made before anything is built: the provider's kubeconfig and the
  // release driver use it, and the driver's access is checked against it (at preview).
  const cluster = needsClusterLookup(config) ? await aws.eks.getCluster({ name: config.kubernetes.cluster }) : undefined;
  // Values of a secret `remedy:services` stay secret in state where they may hold one (env).
  const secretServices = isSecretConfig("remedy:services") || isSecretConfig("remedy:hotfix");
  return stackOutputs(buildStack(config, { alarmNamePrefix: alarmNamePrefix(), releases, by: `pulumi:${pulumi.getStack()}`, now, aws: readAwsSettings(), secretServices, ...(cluster ? { cluster } : {}), ...extra }));
}

/** A deployment the migration gate refuses; lists every reason. */
export class MigrationGateError extends Error {
  constructor(issues: readonly string[]) {
    super(`migration gate refused this deployment (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n${issues.map((i) => `  - ${i}`).join("\n")}`);
    this.name = "MigrationGateError";
  }
}

/**
 * The rollback window of every service that declares `database.uses`: its stable and candidate
 * versions from config, and the previous version from release state (kept warm after a promotion).
 */
async function rollbackWindow(config: StackConfig, releases: ReleaseBackend, issues: string[]): Promise<VersionUsage[]> {
  const window: VersionUsage[] = [];
  const contracting = config.database?.run?.phase === "contract";
  for (const [i, spec] of config.services.entries()) {
    if (!spec.database) {
      // Fail closed: a service that says nothing about its columns might use what a contract drops.
      if (contracting) {
        issues.push(`services[${i}].database.uses: required while a contract phase runs (database.run): declare the "table.column"s each version of ${spec.name} uses, or { uses: { "<version>": [] } } if it uses none of this database`);
      }
      continue;
    }
    const state = await releases.get(spec.name);
    const members: [string | undefined, VersionUsage["role"]][] = [
      [spec.slots[spec.stable]?.version, "stable"],
      [spec.slots[otherSlot(spec.stable)]?.version, "candidate"],
      [state?.previous?.version, "previous"],
      // A legacy lane's version reads the schema until the lane is retired.
      ...spec.legacy.map((l): [string, VersionUsage["role"]] => [l.version, "legacy"]),
    ];
    for (const [version, role] of members) {
      if (!version || window.some((w) => w.service === spec.name && w.version === version)) continue;
      const columns = spec.database.uses[version];
      if (!columns) {
        issues.push(`services[${i}].database.uses: no entry for ${spec.name} ${version} (${role}); declare the "table.column"s it reads and writes`);
        continue;
      }
      const writesNull = spec.database.writesNull?.[version];
      window.push({ service: spec.name, version, role, columns, ...(writesNull ? { writesNull } : {}) });
    }
  }
  return window;
}

/** One output of this stack as its last update left it (undefined before the first update). */
export type OwnOutput = (key: string) => Promise<unknown>;

/**
 * This stack's own outputs, read through one stack reference to itself per program run, created
 * when first asked: the engine refuses a second resource with the same URN, and image mode, the
 * frozen-lane check and the notices all read it in the same run.
 */
export function ownOutputs(): OwnOutput {
  let self: pulumi.StackReference | undefined;
  return async (key) => {
    self ??= new pulumi.StackReference("self", { name: thisStackName() });
    const details = await self.getOutputDetails(key);
    return details.value ?? details.secretValue;
  };
}

/**
 * The images this stack's last deployment ran, per service: its own previous `services.<name>.images`
 * outputs. Null when it has none (a first deployment). Image mode deploys the live slot's image
 * from release state; an image there that the stack never ran was written by someone else.
 */
export async function previouslyDeployedImages(own: OwnOutput = ownOutputs()): Promise<ReadonlyMap<string, ReadonlySet<string>> | null> {
  const services = (await own("services")) as Record<string, { images?: Record<string, string> }> | undefined;
  if (!services) return null;
  return new Map(Object.entries(services).map(([name, s]) => [name, new Set(Object.values(s.images ?? {}))]));
}

/**
 * Legacy lanes are frozen (issue 37, 3): against the lanes the stack's last update deployed (its
 * own outputs), a lane's version never changes in place and its image only with a hotfix reason,
 * said in the update. Refused before anything is deployed. During a lane hotfix the image it ran
 * before stays warm as its rollback target, and an image the rollback function sent callers away
 * from is held there (issue 37, 2; see laneRollbackTargets).
 */
export async function governLanes(config: StackConfig, own: OwnOutput, releases: ReleaseBackend): Promise<StackConfig> {
  // The lanes release state recorded (each service's state is read once per run, snapshot): a
  // lane gone from config is a retirement, which remedy retire must have allowed.
  const recorded = new Map(await Promise.all(config.services.map(async (s) => [s.name, (await releases.get(s.name))?.lanes] as const)));
  const problems = await ungovernedRetirements(config, recorded, releases);
  const withLanes = config.services.filter((s) => s.legacy.length > 0);
  if (withLanes.length === 0) {
    if (problems.length > 0) throw new ConfigError(problems, "remedy stack configuration");
    return config;
  }
  const services = (await own("services")) as Record<string, { legacy?: DeployedLane[] }> | undefined;
  const previous = new Map(Object.entries(services ?? {}).map(([name, s]) => [name, s.legacy ?? []]));
  const frozen = frozenLaneProblems(config.services, previous);
  for (const h of frozen.hotfixes) void pulumi.log.warn(h);
  problems.push(...frozen.problems);
  if (problems.length > 0) throw new ConfigError(problems, "remedy stack configuration");
  const targets = laneRollbackTargets(config.services, previous, recorded);
  for (const w of targets.warnings) void pulumi.log.warn(w);
  return { ...config, services: targets.services };
}

/**
 * A lane leaves config (its rule, target group and Deployment go) only once `remedy retire` allowed
 * it (issue 37, 6): the latest decision recorded for that version must allow it. A service removed
 * from config altogether is not a lane retirement.
 */
async function ungovernedRetirements(config: StackConfig, recorded: ReadonlyMap<string, Readonly<Record<string, LaneState>> | undefined>, releases: ReleaseBackend): Promise<{ path: string; message: string }[]> {
  const out: { path: string; message: string }[] = [];
  for (const [i, s] of config.services.entries()) {
    for (const gone of Object.values(recorded.get(s.name) ?? {}).filter((d) => !s.legacy.some((l) => l.version === d.version))) {
      const decision = await releases.retirementDecision?.(s.name, gone.version);
      if (decision?.allowed) {
        void pulumi.log.warn(`service ${s.name}: legacy lane ${gone.version} retires in this update (remedy retire allowed it at ${decision.at}); its rule, target group and Deployment go`);
        continue;
      }
      out.push({
        path: `services[${i}].legacy`,
        message: `no longer has lane ${gone.version}, but ${decision ? `the latest remedy retire (${decision.at}) refused it` : "remedy retire has not allowed its retirement"}: run remedy retire ${s.name} --outputs <pulumi stack output --json> until it does (its callers, clients and evidence decide), or put the lane back`,
      });
    }
  }
  return out;
}

/**
 * Image mode: each such service's version goes into a slot chosen from its release state (read
 * once, through the same snapshot the gates and the plan use); the warnings go to the update.
 */
export async function resolveImageMode(
  config: StackConfig,
  releases: ReleaseBackend,
  now = new Date().toISOString(),
  deployed?: () => Promise<ReadonlyMap<string, ReadonlySet<string>> | null>,
): Promise<StackConfig> {
  const imageMode = config.services.filter((s) => s.desired);
  if (imageMode.length === 0) return config;
  const states = new Map(await Promise.all(imageMode.map(async (s) => [s.name, await releases.get(s.name)] as const)));
  const resolved = resolveDesiredReleases(config, states, now, deployed ? await deployed() : undefined);
  for (const w of resolved.warnings) void pulumi.log.warn(w);
  return resolved.config;
}

/**
 * This stack's own notification topic, as its last update exported it (Pulumi's state, not the
 * release table, so a forged record cannot redirect a notice; issue 35, 15). Undefined before the
 * first update.
 */
async function ownTopicArn(own: OwnOutput): Promise<string | undefined> {
  const value = await own("notificationTopicArn");
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Tells the stack's own topic, once per lane and threshold, that a legacy lane's sunset is 30, 7
 * or 1 day(s) away (issue 37, 7): told by each `pulumi up` that sees it, once.
 */
export async function announceLegacySunsets(config: StackConfig, releases: ReleaseBackend, nowMs: number, topicArn: () => Promise<string | undefined>): Promise<void> {
  if (!releases.announceOnce) return;
  for (const s of config.services) {
    for (const [i, lane] of s.legacy.entries()) {
      const within = sunsetNoticeDue(lane.sunsetAt, nowMs);
      if (within === undefined) continue;
      const [state, topic] = [await releases.get(s.name), await topicArn()];
      if (!state || !topic) continue;
      // Who to chase: the last 14 days' top callers, when the lane counts them.
      const callers = lane.callers && releases.topCallers ? await releases.topCallers(callersRuleName(alarmNamePrefix(), s.name, laneKey(i)), nowMs - 14 * 86_400_000, nowMs) : undefined;
      await releases.announceOnce(s.name, `legacy-sunset#${lane.version}#${lane.sunsetAt}#${within}`, legacySunsetNotice(state, lane, within, { stack: pulumi.getStack(), steps: false }, callers), topic);
    }
  }
}

/**
 * Tells the stack's own topic (`topicArn`, never the one a record names), once per expiry, that a
 * service's hotfix mode expired (see hotfixExpiredNotice).
 */
export async function announceExpiredHotfixes(config: StackConfig, releases: ReleaseBackend, now: string, topicArn: () => Promise<string | undefined>): Promise<void> {
  if (!releases.announceOnce) return;
  for (const s of config.services) {
    if (!s.hotfix || Date.parse(s.hotfix.expires) > Date.parse(now)) continue;
    const state = await releases.get(s.name);
    if (!state) continue;
    const topic = await topicArn();
    if (!topic) {
      void pulumi.log.warn(`service ${s.name}: hotfix mode expired at ${s.hotfix.expires}; this stack exported no notificationTopicArn in its last update to tell`);
      continue;
    }
    let r: Awaited<ReturnType<NonNullable<ReleaseBackend["announceOnce"]>>>;
    try {
      r = await releases.announceOnce(s.name, `hotfix-expired#${s.hotfix.expires}`, hotfixExpiredNotice(state, s.hotfix.expires, { stack: pulumi.getStack(), steps: false }), topic);
    } catch (err) {
      // Made before anything is deployed, so under the table policy of the last update: an
      // identity that is not yet a writer there cannot claim the announcement. Said, not fatal:
      // the expiry itself stops this update next.
      if ((err as Error).name !== "AccessDeniedException") throw err;
      void pulumi.log.warn(`service ${s.name}: hotfix mode expired at ${s.hotfix.expires}; could not tell the topic (${(err as Error).message}): this identity is not a writer of the release table yet; list it in remedy:rollback.deployerRoleArns`);
      continue;
    }
    if (r === "already") continue;
  }
}

export async function main(): Promise<ProgramOutputs> {
  const raw = readRawConfig();
  if ("hotfix" in raw) {
    const h = parseHotfixStackConfig(raw);
    const prod = new pulumi.StackReference("prod", { name: h.prodStack });
    const seed = await requireOutput<HotfixSeed>(prod, h.prodStack, "hotfixSeed", `run \`pulumi up\` on ${h.prodStack} with this version of remedy first`);
    const outputs = await build(hotfixStackConfig(seed, h), backend());
    return { ...outputs, hotfix: { prodStack: h.prodStack, host: h.host, hosts: hotfixHosts(seed, h) }, testedImages: h.images };
  }
  const releases = backend();
  const parsed = parseStackConfig(raw);
  requireSecretTestRoutes(parsed);
  const own = ownOutputs();
  const config = await governLanes(await resolveImageMode(parsed, releases, undefined, () => previouslyDeployedImages(own)), own, releases);
  const topicArn = () => ownTopicArn(own);
  if (!pulumi.runtime.isDryRun() && config.services.some((s) => s.legacy.length > 0)) await announceLegacySunsets(config, releases, Date.now(), topicArn);
  if (config.services.some((s) => s.hotfix) && config.hotfixStack) {
    const hotfix = new pulumi.StackReference("hotfix", { name: config.hotfixStack });
    const tested = await requireOutput<Record<string, string>>(hotfix, config.hotfixStack, "testedImages", `deploy the hotfix there first (\`pulumi stack select hotfix && pulumi up\`)`);
    const now = new Date().toISOString();
    // An expired hotfix mode stops this up (below); the people on the topic hear it once.
    if (!pulumi.runtime.isDryRun()) await announceExpiredHotfixes(config, releases, now, topicArn);
    checkHotfixReleases(config, tested, now);
  }
  // API compatibility gate: a breaking candidate stops preview and up here, before anything.
  const gate = await checkApiGates(config, process.cwd());
  for (const w of gate.warnings) void pulumi.log.warn(w);
  // Migration gate: the phase this deployment runs, and every version in the rollback window
  // against the schema it will leave behind.
  let window: VersionUsage[] | undefined;
  let plans: ReturnType<typeof loadPlans> | undefined;
  if (config.database) {
    const issues: string[] = [];
    window = await rollbackWindow(config, releases, issues);
    plans = loadPlans(path.resolve(process.cwd(), config.database.plans));
    issues.push(...checkMigrationDeployment(plans, config.database.applied, config.database.run, window));
    if (issues.length > 0) throw new MigrationGateError(issues);
  }
  // Promotion gate: a stack that takes releases from others takes only bundles they proved.
  await checkPromotions(config, releases, { stack: thisStackName(), nowMs: Date.now(), baseDir: process.cwd(), plans: plans ?? [], aws: readAwsSettings() });
  return { ...(await build(config, releases, { apiOverrides: gate.overrides, rollbackWindow: window, ...(plans ? { plans } : {}) })), hotfixSeed: hotfixSeed(config, Array.isArray(raw.services) ? raw.services : []) };
}
