/**
 * The release lifecycle across components, for the model-based test (test/lifecycle): one service
 * (`payments`) whose
 * - program is the real one: config parsed as `pulumi up` parses it, `prepareReleases` (the
 *   live-slot refusal, draining a re-imaged candidate), then `buildStack` under the Pulumi mocks,
 *   its release recorded through `recordRelease` into the emulated table;
 * - release driver and rollback Lambda are the real handlers, against moto (table, ALB rule and
 *   target groups, alarms), on the test's clock;
 * - cluster is a model: what each slot's Deployment runs and how many pods, changed the way
 *   Pulumi changes it (only when the program's inputs for it differ from the last ones applied,
 *   rollouts before the rule moves, deletions last) and the way the driver's scaler does; a slot
 *   with pods has its target registered in its target group, one without has none.
 * After every command (and inside `up`, once the rollouts are done and before the rule moves)
 * `violations()` checks the invariants across all of them.
 */
import { isDeepStrictEqual } from "node:util";
import { captureWarnings } from "../../cli/rehearsal/pulumiRuntime";
import { DeregisterTargetsCommand, RegisterTargetsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { Logger } from "@aws-lambda-powertools/logger";
import { parseStackConfig, type StackConfig } from "../../core/config";
import { driverRole } from "../../core/driverConfig";
import { Phase, applyEvent, type ReleaseState } from "../../core/releaseState";
import { SLOTS, type Slot, otherSlot } from "../../core/slots";
import type { SlotWeights } from "../../core/weights";
import type { KubeScaler } from "../../lambdas/commons/kube";
import { type TickResult, createReleaseDriver } from "../../lambdas/commons/releaseDriver";
import { buildStack } from "../../stacks/program";
import { IngressMoveError, LiveSlotError, prepareReleases } from "../../stacks/releasePlans";
import { resolveImageMode } from "../../stacks/main";
import { type ReleaseBackend, recordRelease, snapshotReads } from "../../stacks/releases";
import { alarmActionEvent } from "./alarmEvents";
import { remedyConfig } from "./fixtures";
import { T, recorded, settle } from "./pulumiMocks";
import { PREFIX, clients, createWorld, handlerDeps, targetAddress, type World, moveRuleByHand } from "./rollbackWorld";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const SERVICE = "payments";
const IMAGE = "r/app";
const versionOf = (image: string | null | undefined) => (image ? image.slice(image.lastIndexOf(":") + 1) : null);

/** What one slot's Deployment runs in the cluster model. */
export interface Pods {
  image: string | null;
  replicas: number;
}

/** What Pulumi last applied for a slot's Deployment (its diff is against these, not the cluster). */
interface AppliedDeployment {
  readonly image: string;
  readonly replicas: number;
  readonly annotations: string;
}

export class LifecycleSystem {
  /** The test's clock (epoch ms): the program's, the driver's and the rollback Lambda's. */
  clock: number;
  /** `services[payments]` of the stack's config, raw, as an operator edits it. */
  config: Obj;
  readonly cluster: Record<Slot, Pods>;
  private applied: { deployments: Partial<Record<Slot, AppliedDeployment>>; rule?: SlotWeights; bindings: Partial<Record<Slot, string | number>> };
  private registered: Record<Slot, boolean> = { blue: true, green: true };
  /**
   * Whether each slot's TargetGroupBinding resolves its `serviceRef.port` against the Service as
   * applied (by name or number, as the AWS Load Balancer Controller does). One that does not is
   * treated as not found and every target of its group is deregistered (controller
   * pkg/backend/endpoint_resolver.go), whatever the pods.
   */
  private resolvable: Record<Slot, boolean> = { blue: true, green: true };
  /** Pods of a slot being evicted by a node drain during the next tick (target health). */
  private draining: Partial<Record<Slot, number>> = {};
  /** What happened, in order: the counterexample's story when an invariant breaks. */
  readonly trace: string[] = [];
  private nextVersion = 3;

  private constructor(readonly world: World, readonly endpoint: string, start: number) {
    this.clock = start;
    // The world: v1 stable on blue, v2 releasing on green at 10% (manual weights), both with pods.
    const payments = JSON.parse(JSON.stringify((remedyConfig("prod").services as Obj[])[0])) as Obj;
    delete payments.api;
    payments.alarms = {};
    payments.slots = { blue: { image: `${IMAGE}:v1` }, green: { image: `${IMAGE}:v2` } };
    payments.stable = "blue";
    payments.candidate = { weight: 10 };
    payments.rollbackWindowMinutes = 10;
    this.config = payments;
    this.cluster = { blue: { image: `${IMAGE}:v1`, replicas: 3 }, green: { image: `${IMAGE}:v2`, replicas: 3 } };
    this.applied = { deployments: {}, bindings: {} };
  }

  static async create(endpoint: string): Promise<LifecycleSystem> {
    // In the past: the alarms moto stamps now are never older than the test's clock; the world's
    // records are from just before it (a rollback the watch asks for at the test's time is not
    // taken for an event older than the release).
    const start = Date.now() - 48 * 3_600_000;
    const world = await createWorld(endpoint, [SERVICE], 10, { recordedAt: start - 60_000 });
    const system = new LifecycleSystem(world, endpoint, start);
    // The world's record is a bare one; this version's first update records what it keeps
    // (images, the ingress group), as on a stack that has run it.
    await system.up();
    return system;
  }

  private get at(): string {
    return new Date(this.clock).toISOString();
  }

  state(): Promise<ReleaseState | undefined> {
    return this.world.store.get(SERVICE);
  }

  liveWeights(): Promise<SlotWeights> {
    return this.world.traffic.currentWeights(this.world.services[SERVICE].routing);
  }

  stackConfig(): StackConfig {
    const raw = JSON.parse(JSON.stringify(remedyConfig("prod"))) as Obj;
    raw.services = [JSON.parse(JSON.stringify(this.config))];
    raw.ingress = { ...(raw.ingress as Obj), groups: { internal: {} } };
    return parseStackConfig(raw);
  }

  // ---------------------------------------------------------------------------------------------
  // Operator edits of config.

  /** A new version into the slot config calls the candidate, progressive or at a hand-set weight. */
  async release(progressive: boolean, weight: number): Promise<void> {
    await this.slotMode();
    const slot = otherSlot(this.config.stable as Slot);
    const image = `${IMAGE}:v${this.nextVersion++}`;
    this.config.slots[slot] = { image };
    delete this.config.acknowledgeRollback;
    if (progressive) {
      delete this.config.candidate;
      this.config.strategy = { kind: "canary", weight: 10, minutes: 5, bakeMinutes: 5 };
    } else {
      delete this.config.strategy;
      this.config.candidate = { weight };
    }
    this.trace.push(`config: ${versionOf(image)} into ${slot} (${progressive ? "canary" : `${weight}% by hand`}), stable ${this.config.stable}`);
  }

  /** Config makes the other slot stable (a promotion by hand). */
  async promoteInConfig(): Promise<void> {
    await this.slotMode();
    this.config.stable = otherSlot(this.config.stable as Slot);
    if (!this.config.strategy) this.config.candidate = { weight: 0 };
    this.trace.push(`config: stable ${this.config.stable}`);
  }

  /** Config catches up with release state (what the warnings ask for). */
  async catchUp(): Promise<void> {
    const s = await this.state();
    if (!s || this.config.image !== undefined) return;
    this.config.stable = s.stable.slot;
    this.config.slots[s.stable.slot] = { image: s.stable.image ?? `${IMAGE}:${s.stable.version}` };
    this.trace.push(`config: catches up (stable ${s.stable.slot} ${s.stable.version})`);
  }

  /**
   * Leaves image mode the way an operator would before a slot-mode edit: the slots and stable as
   * release state records them.
   */
  private async slotMode(): Promise<void> {
    if (this.config.image === undefined) return;
    const s = await this.state();
    delete this.config.image;
    delete this.config.version;
    if (!s) throw new Error("image mode without release state");
    this.config.stable = s.stable.slot;
    this.config.slots = { [s.stable.slot]: { image: s.stable.image ?? `${IMAGE}:${s.stable.version}` } };
    const other = [s.candidate, s.previous].find((v) => v && v.slot !== s.stable.slot);
    if (other) this.config.slots[other.slot] = { image: other.image ?? `${IMAGE}:${other.version}` };
    this.config.candidate = { weight: s.weights[otherSlot(s.stable.slot)] };
    delete this.config.strategy;
    this.trace.push(`config: leaves image mode (stable ${s.stable.slot} ${s.stable.version}${other ? `, ${other.slot} ${other.version}` : ""})`);
  }

  /** Image mode: the next version, progressive; remedy picks the slot from release state. */
  releaseImage(): void {
    const image = `${IMAGE}:v${this.nextVersion++}`;
    delete this.config.slots;
    delete this.config.stable;
    delete this.config.candidate;
    delete this.config.acknowledgeRollback;
    this.config.image = image;
    this.config.strategy = { kind: "canary", weight: 10, minutes: 5, bakeMinutes: 5 };
    this.trace.push(`config: image mode, ${versionOf(image)} (canary)`);
  }

  /** The service's replicas per slot change (1 is what a node drain can leave without a ready pod). */
  resize(replicas: number): void {
    this.config.replicas = replicas;
    this.trace.push(`config: replicas ${replicas}`);
  }

  /** The service's container port changes (8080 <-> 9090). */
  changePort(): void {
    this.config.port = this.config.port === 9090 ? 8080 : 9090;
    this.trace.push(`config: port ${this.config.port}`);
  }

  /**
   * Config moves the service to another ingress group and an update runs: refused before anything
   * changes (its target groups belong to the current ALB); the operator then puts it back.
   */
  async moveIngress(): Promise<void> {
    const before = await this.state();
    this.config.ingressGroup = "internal";
    this.trace.push("config: ingressGroup internal");
    const from = this.trace.length;
    await this.up();
    // Refused before anything changed, for the move (or for another reason found first).
    const refused = this.trace.slice(from).some((t) => t.startsWith("up: refused: "));
    delete this.config.ingressGroup;
    this.trace.push("config: ingressGroup back to default");
    const after = await this.state();
    if (!refused || after?.revision !== before?.revision) {
      throw new InvariantError([`a move to another ingress group was ${refused ? "refused, yet release state changed" : "not refused"}: its target groups serve one load balancer only`], this.trace);
    }
  }

  async acknowledge(): Promise<void> {
    const s = await this.state();
    if (s?.phase !== Phase.RolledBack || !s.lastRollback) return;
    this.config.acknowledgeRollback = s.lastRollback.fromVersion;
    this.trace.push(`config: acknowledgeRollback ${s.lastRollback.fromVersion}`);
  }

  // ---------------------------------------------------------------------------------------------
  // pulumi up: the program under mocks, Pulumi's order applied to the cluster model and the rule.

  async up(): Promise<void> {
    const world = this.world;
    let called: (v: { args: Parameters<ReleaseBackend["record"]>; done: (r: unknown) => void; fail: (e: unknown) => void }) => void = () => undefined;
    const recordCalled = new Promise<{ args: Parameters<ReleaseBackend["record"]>; done: (r: unknown) => void; fail: (e: unknown) => void }>((r) => (called = r));
    const backend: ReleaseBackend = {
      get: (service) => world.store.get(service),
      // Held until the rollouts and the rule are applied, as a real update records last.
      record: (...args) => new Promise((done, fail) => called({ args, done: done as (r: unknown) => void, fail })),
    };
    const releases = snapshotReads(backend);
    const at = this.at;
    const by = "pulumi:prod";
    // The steps stacks/main.ts takes before anything is registered: image mode resolved, then
    // the refusals and the drain of a re-imaged candidate.
    const prep = snapshotReads({ get: backend.get, record: (service, routing, events, weights, deployed) => this.record(service, routing, events, weights, deployed) });
    const early: string[] = [];
    const earlyCapture = captureWarnings(early);
    let config: StackConfig;
    try {
      config = await resolveImageMode(this.stackConfig(), prep, at);
      for (const w of await prepareReleases(config, prep, { now: at, by, dryRun: false })) this.trace.push(`  up: ${w}`);
    } catch (err) {
      if (!(err instanceof LiveSlotError || err instanceof IngressMoveError || (err as Error).name === "ConfigError")) throw err;
      this.trace.push(`up: refused: ${err instanceof LiveSlotError || err instanceof IngressMoveError ? err.problems.join("; ") : (err as Error).message}`);
      return;
    } finally {
      earlyCapture.restore();
      for (const w of early) this.trace.push(`  up warns: ${w}`);
    }
    const before = await this.state();
    recorded.resources.length = 0;
    // Pulumi's promise bookkeeping captures a stack per promise; with ts-node's source maps that
    // costs 7x the program itself. Nothing here reads those stacks.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const warned: string[] = [];
    const capture = captureWarnings(warned);
    try {
      buildStack(config, { alarmNamePrefix: "remedy-prod", releases, by, now: at });
      const settled = settle();
      const first = await Promise.race([recordCalled, settled.then(() => undefined)]);
      if (!first) throw new Error("the program never recorded its release");
      // Rollouts first (the rule waits for them), then the invariants, then the rule.
      const deployments = Object.fromEntries(
        recorded.resources.filter((r) => r.type === T.deployment).map((r) => [(r.name.endsWith("-blue") ? "blue" : "green") as Slot, r.inputs as Obj]),
      ) as Partial<Record<Slot, Obj>>;
      for (const slot of SLOTS) {
        const d = deployments[slot];
        if (!d) continue;
        const next: AppliedDeployment = { image: d.spec.template.spec.containers[0].image, replicas: d.spec.replicas, annotations: JSON.stringify(d.metadata.annotations ?? {}) };
        const last = this.applied.deployments[slot];
        if (last && last.image === next.image && last.replicas === next.replicas && last.annotations === next.annotations) continue;
        this.applied.deployments[slot] = next;
        this.cluster[slot] = { image: next.image, replicas: next.replicas };
      }
      // The Services change in place early in the update, the bindings later: a binding still
      // naming what the new Service lacks no longer resolves, and its group is emptied.
      const bySlot = (type: string) =>
        Object.fromEntries(recorded.resources.filter((r) => r.type === type && /-(blue|green)$/.test(r.name)).map((r) => [r.name.endsWith("-blue") ? "blue" : "green", r.inputs as Obj])) as Partial<Record<Slot, Obj>>;
      const services = bySlot(T.service);
      const bindings = bySlot(T.tgb);
      const resolves = (slot: Slot, ref: string | number | undefined) =>
        ref === undefined || ((services[slot]?.spec.ports ?? []) as Obj[]).some((p) => p.name === ref || p.port === ref);
      for (const slot of SLOTS) this.resolvable[slot] = resolves(slot, this.applied.bindings[slot] ?? bindings[slot]?.spec.serviceRef.port);
      await this.syncTargets();
      const mid = await this.violations("up, rollouts done, rule not moved yet", before);
      if (mid.length > 0) {
        first.fail(new Error("invariant broken"));
        await settled.catch(() => undefined);
        throw new InvariantError(mid, this.trace);
      }
      const rule = recorded.resources.find((r) => r.type === T.rule && r.name === SERVICE)?.inputs as Obj;
      const weights = Object.fromEntries((rule.actions[0].forward.targetGroups as Obj[]).map((tg, i) => [SLOTS[i], tg.weight as number])) as unknown as SlotWeights;
      if (!isDeepStrictEqual(weights, this.applied.rule)) {
        await moveRuleByHand(world.clients.elb, world.services[SERVICE].routing, weights);
        this.applied.rule = weights;
      }
      // The bindings take their new spec.
      for (const slot of SLOTS) {
        const ref = bindings[slot]?.spec.serviceRef.port as string | number | undefined;
        if (ref === undefined) delete this.applied.bindings[slot];
        else this.applied.bindings[slot] = ref;
        this.resolvable[slot] = resolves(slot, ref);
      }
      // Deletions come last.
      for (const slot of SLOTS) {
        if (deployments[slot] || !this.applied.deployments[slot]) continue;
        delete this.applied.deployments[slot];
        this.cluster[slot] = { image: null, replicas: 0 };
      }
      await this.syncTargets();
      const [service, routing, events, deployedWeights, deployed] = first.args;
      first.done(await this.record(service, routing, events, deployedWeights, deployed));
      await settled;
      const s = await this.state();
      this.trace.push(`up: rule ${weights.blue}/${weights.green}, ${s?.phase} stable ${s?.stable.version} (${s?.stable.slot}) candidate ${s?.candidate?.version ?? "-"}; pods blue ${this.pods("blue")} green ${this.pods("green")}`);
    } finally {
      Error.stackTraceLimit = limit;
      capture.restore();
      for (const w of warned) this.trace.push(`  up warns: ${w}`);
    }
  }

  private pods(slot: Slot): string {
    return `${versionOf(this.cluster[slot].image) ?? "-"}x${this.cluster[slot].replicas}`;
  }

  /** The program's record, into the emulated table with the emulated rule's ARNs. */
  private record(...[service, routing, events, deployedWeights, deployed]: Parameters<ReleaseBackend["record"]>) {
    const w = this.world.services[service].routing;
    return recordRelease(this.world.store, this.world.traffic, service, { ...routing, ruleArn: w.ruleArn, targetGroupArns: w.targetGroupArns, notifyTopicArn: w.notifyTopicArn }, events, deployedWeights, deployed, { stack: "test", steps: false });
  }

  /** Registers a slot's target while it has pods, deregisters it while it has none. */
  private async syncTargets(): Promise<void> {
    const c = clients(this.endpoint);
    for (const slot of SLOTS) {
      const want = this.cluster[slot].replicas > 0 && this.resolvable[slot];
      if (want === this.registered[slot]) continue;
      const input = { TargetGroupArn: this.world.services[SERVICE].routing.targetGroupArns[slot], Targets: [{ Id: targetAddress(0, slot), Port: 8080 }] };
      await c.elb.send(want ? new RegisterTargetsCommand(input) : new DeregisterTargetsCommand(input));
      this.registered[slot] = want;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Time, the release driver, alarms and operators.

  private rollbackHandler() {
    return handlerDeps(this.endpoint, this.world.topicArn, { now: () => this.clock }).handler;
  }

  /**
   * A node drain evicts a pod of `which` slot (as release state names it) during a driver tick, as
   * its PodDisruptionBudget allows (maxUnavailable 1): the evicted target drains, its replacement
   * registers. The health watch must not take that for a failing candidate.
   */
  async nodeDrain(which: "candidate" | "stable"): Promise<void> {
    const s = await this.state();
    if (!s) return;
    const slot = which === "stable" ? s.stable.slot : (s.candidate?.slot ?? otherSlot(s.stable.slot));
    if (this.cluster[slot].replicas === 0) return;
    this.draining[slot] = 1;
    try {
      const results = await this.tick(1);
      const wrong = results.filter((r) => r.decision === "rolled-back" && /no healthy targets/.test(r.reason));
      if (wrong.length > 0) throw new InvariantError([`a node drain of ${slot} (one pod evicted, its replacement registering) was taken for a failing candidate: ${wrong[0].reason}`], this.trace);
    } finally {
      delete this.draining[slot];
      this.trace.push(`  (drain of a ${slot} node done)`);
    }
  }

  /** `remedy promote` (step or --full): the request recorded for the driver's next tick. */
  async operatorPromote(mode: "step" | "full"): Promise<void> {
    const s = await this.state();
    if (!s) return;
    const t = applyEvent(s, { type: "request-promote", mode, at: this.at, by: "operator:ana" });
    if (t.kind === "refused" || t.kind === "unchanged") {
      this.trace.push(`operator promote (${mode}): ${t.kind}: ${t.reason}`);
      return;
    }
    await this.world.store.commit(s.revision, t.state, t.entry);
    this.trace.push(`operator promote (${mode}): requested`);
  }

  /** `remedy abort`: the rollback path with the abort's reason. */
  async operatorAbort(): Promise<void> {
    const r = await this.rollbackHandler().manual({ service: SERVICE, reason: "release aborted: wrong build", by: "operator:ana" });
    this.trace.push(`operator abort: ${r.outcome}`);
  }

  /** Time passes; the release driver ticks (if the program deploys one for this config). */
  async tick(minutes: number): Promise<TickResult[]> {
    this.clock += minutes * 60_000;
    const role = driverRole(this.stackConfig().services[0] as never);
    if (!role) {
      this.trace.push(`+${minutes} min (no driver)`);
      return [];
    }
    const cluster = this.cluster;
    const sync = () => this.syncTargets();
    const kube: KubeScaler = {
      async scaleToZeroIfImage(_ns, name, image) {
        const slot: Slot = name.endsWith("-blue") ? "blue" : "green";
        if (cluster[slot].image !== image) return { outcome: "image-changed", detail: `${name} runs ${cluster[slot].image}` };
        const previousReplicas = cluster[slot].replicas;
        cluster[slot].replicas = 0;
        await sync();
        return { outcome: "scaled", detail: `${name} scaled to 0`, previousReplicas };
      },
      async restoreReplicas(_ns, name, replicas, image) {
        const slot: Slot = name.endsWith("-blue") ? "blue" : "green";
        if (cluster[slot].image !== image) return { outcome: "image-changed", detail: `${name} runs ${cluster[slot].image}` };
        cluster[slot].replicas = replicas;
        await sync();
        return { outcome: "scaled", detail: `${name} scaled to ${replicas}` };
      },
    };
    const c = clients(this.endpoint);
    const handler = this.rollbackHandler();
    // Target health as ELB reports it while a node drains: the evicted pod's target draining and
    // its replacement's registering (both "transitioning"), the others healthy.
    const traffic = Object.create(this.world.traffic) as World["traffic"];
    traffic.targetStates = async (tg) => {
      const slot = SLOTS.find((x) => this.world.services[SERVICE].routing.targetGroupArns[x] === tg);
      const evicted = slot === undefined ? 0 : (this.draining[slot] ?? 0);
      if (evicted === 0 || slot === undefined) return this.world.traffic.targetStates(tg);
      return { healthy: Math.max(0, this.cluster[slot].replicas - evicted), transitioning: 2 * evicted, unhealthy: 0 };
    };
    const driver = createReleaseDriver({
      services: role === "drive" ? [SERVICE] : [],
      store: this.world.store,
      traffic,
      cloudwatch: c.cw,
      alarmPrefix: PREFIX,
      logger: new Logger({ serviceName: "remedy-release-driver", logLevel: "SILENT" }),
      now: () => this.clock,
      retire: { kube, namespaces: { [SERVICE]: SERVICE } },
      watch: {
        services: role === "watch" ? [SERVICE] : [],
        intervalMs: 5_000,
        rollBack: (service, reason) => handler.manual({ service, reason, by: "release-driver (target health)" }),
        sleep: async () => undefined,
      },
    });
    // One round of the health watch: the tick's deadline leaves no time for a second.
    const results = await driver.tick({ remainingMs: () => 2_000 });
    this.trace.push(`+${minutes} min, driver: ${results.map((r) => `${r.decision}${r.decision === "skipped" || r.decision === "hold" ? ` (${r.reason})` : ""}`).join(", ")}; pods blue ${this.pods("blue")} green ${this.pods("green")}`);
    return results;
  }

  /** The 5xx alarm of a slot fires (and clears after the Lambda ran): `candidate` or `stable` as release state names them. */
  async alarm(which: "candidate" | "stable"): Promise<void> {
    const s = await this.state();
    if (!s) return;
    const slot = which === "stable" ? s.stable.slot : (s.candidate?.slot ?? otherSlot(s.stable.slot));
    const name = this.world.services[SERVICE].alarmNames[slot]["error-rate"] as string;
    const alarm = await this.world.setAlarm(name, "ALARM", "Threshold Crossed: 5xx rate 12 >= 5");
    const r = await this.rollbackHandler()(alarmActionEvent(alarm));
    await this.world.setAlarm(name, "OK", "back to normal");
    this.trace.push(`alarm on ${slot} (${which}): ${r.outcome}`);
  }

  async operatorRollback(): Promise<void> {
    const r = await this.rollbackHandler().manual({ service: SERVICE, reason: "bad release, by hand", by: "operator:ana" });
    this.trace.push(`operator rollback: ${r.outcome}`);
  }

  // ---------------------------------------------------------------------------------------------
  // The invariants.

  /**
   * What is wrong now, across release state, the rule and the cluster. `state` defaults to the
   * stored one (inside an update: the one the update started from, since it records last).
   */
  async violations(when: string, state?: ReleaseState): Promise<string[]> {
    const s = state ?? (await this.state());
    const rule = await this.world.traffic.liveRule(this.world.services[SERVICE].routing);
    const live = rule.weights;
    const out: string[] = [];
    if (!s) return [`${when}: no release state`];
    const recordedFor = (slot: Slot) => [s.stable, s.candidate, s.previous].find((v) => v?.slot === slot)?.version;
    for (const slot of SLOTS) {
      if (live[slot] === 0) continue;
      const pods = this.cluster[slot];
      if (pods.replicas === 0) out.push(`${when}: ${slot} takes ${live[slot]}% of traffic with 0 pods`);
      else if (!this.registered[slot]) out.push(`${when}: ${slot} takes ${live[slot]}% of traffic, but its target group has no target (its binding does not resolve the Service port)`);
      const runs = versionOf(pods.image);
      const should = recordedFor(slot);
      if (runs !== should) out.push(`${when}: ${slot} takes ${live[slot]}% of traffic running ${runs ?? "nothing"}, but release state records ${should ?? "nothing"} there`);
    }
    if (s.phase === Phase.RolledBack && s.lastRollback && live[s.lastRollback.failedSlot] > 0) {
      out.push(`${when}: ${s.lastRollback.fromVersion} was rolled back, yet ${s.lastRollback.failedSlot} takes ${live[s.lastRollback.failedSlot]}%`);
    }
    if (!state) {
      // Between commands: the rule is what release state says, and history is whole.
      if (!isDeepStrictEqual(live, s.weights)) out.push(`${when}: the rule sends blue ${live.blue}/green ${live.green}, release state says ${s.weights.blue}/${s.weights.green}`);
      const history = await this.world.store.history(SERVICE);
      const revisions = history.map((h) => h.revision);
      const expected = Array.from({ length: s.revision }, (_, i) => i + 1);
      if (JSON.stringify(revisions) !== JSON.stringify(expected)) out.push(`${when}: history revisions ${revisions.join(",")} are not 1..${s.revision}`);
      const last = history.at(-1);
      if (last && !isDeepStrictEqual(last.weights, s.weights)) out.push(`${when}: the last history entry says ${JSON.stringify(last.weights)}, release state ${JSON.stringify(s.weights)}`);
    }
    // The rule forwards only to this service's own target groups.
    const own = Object.values(this.world.services[SERVICE].routing.targetGroupArns);
    for (const tg of rule.targetGroupArns) if (!own.includes(tg)) out.push(`${when}: the rule forwards to ${tg}, not one of ${SERVICE}'s target groups`);
    return out;
  }

  async check(when: string): Promise<void> {
    const v = await this.violations(when);
    if (v.length > 0) throw new InvariantError(v, this.trace);
  }
}

export class InvariantError extends Error {
  constructor(readonly broken: readonly string[], trace: readonly string[]) {
    super(`${broken.join("\n")}\n-- what happened:\n${trace.map((t) => `  ${t}`).join("\n")}`);
    this.name = "InvariantError";
  }
}
