/**
 * The release lifecycle as a whole, model-based (fast-check commands): operators edit config
 * (releases by hand and progressive, in slot mode and image mode, promotions in config, catching
 * up with release state, config that lags a driver promotion, acknowledgements, a port change, a
 * move to another ingress group, replicas), `pulumi up` runs the real program under mocks, time passes and
 * the real release driver ticks (also while a node drain evicts a pod), alarms fire into the real
 * rollback Lambda, operators roll back, abort and promote; all against one emulated AWS (moto)
 * and a model of the cluster
 * (test/helpers/lifecycle.ts). After every command, and inside every `up` between the rollouts
 * and the rule's move, the invariants hold:
 * - every slot with weight in the rule has pods, targets in its group (its binding resolves the
 *   Service port) and runs the version release state records there;
 * - a rolled-back version gets no traffic until config acknowledges it or replaces it;
 * - the rule is what release state says, and history is contiguous and agrees with it;
 * - the rule forwards only to the service's own target groups.
 *
 * Sizes: LIFECYCLE_RUNS runs of up to LIFECYCLE_COMMANDS commands (default 8 x 16 in `npm test`;
 * `npm run lifecycle` runs 200 x 30), LIFECYCLE_SEED to replay one. Issue 34, item 20.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { useMoto } from "../helpers/moto";
import { LifecycleSystem } from "../helpers/lifecycle";

type Model = { commands: number };
type Cmd = fc.AsyncCommand<Model, LifecycleSystem>;

/** One command: `act` on the system, then every invariant. */
function command(name: string, act: (s: LifecycleSystem) => Promise<unknown> | void): Cmd {
  return {
    check: () => true,
    async run(m, s) {
      m.commands++;
      await act(s);
      await s.check(`after ${name}`);
    },
    toString: () => name,
  };
}

// Weighted so the long paths happen: a progressive release needs several updates and ticks to be
// stepped, promoted and retired (the path the review found the outage on).
const commands = [
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(1, 5, 10, 15).map((minutes) => command(`tick(${minutes} min)`, (s) => s.tick(minutes))) },
    { weight: 4, arbitrary: fc.constant(command("up", (s) => s.up())) },
    {
      weight: 2,
      arbitrary: fc
        .record({ progressive: fc.constantFrom(true, true, true, false), weight: fc.constantFrom(0, 10, 50) })
        .map(({ progressive, weight }) => command(`release(${progressive ? "canary" : `${weight}%`})`, (s) => s.release(progressive, weight))),
    },
    { weight: 1, arbitrary: fc.constant(command("promoteInConfig", (s) => s.promoteInConfig())) },
    { weight: 1, arbitrary: fc.constant(command("catchUp", (s) => s.catchUp())) },
    { weight: 1, arbitrary: fc.constant(command("acknowledge", (s) => s.acknowledge())) },
    { weight: 1, arbitrary: fc.constantFrom("candidate" as const, "stable" as const).map((which) => command(`alarm(${which})`, (s) => s.alarm(which))) },
    { weight: 1, arbitrary: fc.constant(command("operatorRollback", (s) => s.operatorRollback())) },
    { weight: 1, arbitrary: fc.constant(command("operatorAbort", (s) => s.operatorAbort())) },
    { weight: 1, arbitrary: fc.constantFrom("step" as const, "full" as const).map((mode) => command(`operatorPromote(${mode})`, (s) => s.operatorPromote(mode))) },
    { weight: 1, arbitrary: fc.constant(command("releaseImage", (s) => s.releaseImage())) },
    { weight: 1, arbitrary: fc.constantFrom("candidate" as const, "stable" as const).map((which) => command(`nodeDrain(${which})`, (s) => s.nodeDrain(which))) },
    { weight: 1, arbitrary: fc.constant(command("changePort", (s) => s.changePort())) },
    { weight: 1, arbitrary: fc.constantFrom(1, 2, 3).map((n) => command(`resize(${n})`, (s) => s.resize(n))) },
    { weight: 1, arbitrary: fc.constant(command("moveIngress", (s) => s.moveIngress())) },
  ),
];

const RUNS = Number(process.env.LIFECYCLE_RUNS ?? 8);
const MAX_COMMANDS = Number(process.env.LIFECYCLE_COMMANDS ?? 16);
const SEED = process.env.LIFECYCLE_SEED === undefined ? undefined : Number(process.env.LIFECYCLE_SEED);

describe("lifecycle: program, release driver, rollback Lambda and cluster together (model-based)", function () {
  // A run is up to MAX_COMMANDS updates, ticks and alarms against moto; no wall-clock bound on them.
  this.timeout(0);
  const suite = useMoto();

  it(`keeps every invariant over ${RUNS} random lifecycles of up to ${MAX_COMMANDS} commands`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: MAX_COMMANDS, size: "max" }), async (cmds) => {
        await suite.moto.reset();
        const system = await LifecycleSystem.create(suite.moto.endpoint);
        await system.check("at the start");
        await fc.asyncModelRun(() => ({ model: { commands: 0 }, real: system }), cmds);
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: process.env.LIFECYCLE_SHRINK === "0" },
    );
  });

  it("takes a node drain of a one-replica candidate for what it is, not a failing candidate (issue 34, 11)", async () => {
    // Prepare: the candidate at 10% with one pod per slot.
    await suite.moto.reset();
    const s = await LifecycleSystem.create(suite.moto.endpoint);
    s.resize(1);
    await s.up();
    // Act: a drain evicts its only pod during a driver tick (target draining, replacement registering).
    await s.nodeDrain("candidate");
    // Assess: still releasing at 10%, nothing rolled back.
    await s.check("after the drain");
    assert.deepEqual([(await s.state())?.phase, await s.liveWeights()], ["releasing", { blue: 90, green: 10 }], s.trace.join("\n"));
  });

  it("walks the reviewed path: driver promotes and retires while config lags, then an up and a new version into the live slot (issue 34, 1 and 2)", async () => {
    // Prepare: a canary of v3 into green, stepped, promoted and retired by the driver.
    await suite.moto.reset();
    const s = await LifecycleSystem.create(suite.moto.endpoint);
    await s.promoteInConfig(); // v2 becomes stable on green by config first: a clean start
    await s.up();
    await s.tick(11); // no strategy yet: the driver only watches; v1 stays warm on blue
    await s.release(true, 0); // v3 into blue, canary
    await s.up();
    for (const minutes of [1, 5, 5, 10, 10, 10]) {
      await s.tick(minutes);
      await s.check(`after tick(${minutes})`);
    }
    const promoted = await s.state();
    assert.equal(promoted?.phase, "promoted", s.trace.join("\n"));
    assert.ok(promoted?.previousRetiredAt, `the driver retired the previous slot:\n${s.trace.join("\n")}`);
    // Act 1: an up with config still naming green stable (item 1).
    await s.up();
    await s.check("after the lagging up");
    assert.ok(s.cluster.blue.replicas > 0, "the slot serving 100% keeps its pods");
    // Act 2: v4 into blue, believing blue is the candidate (item 2): refused, nothing moves.
    await s.release(true, 0);
    const before = await s.state();
    await s.up();
    await s.check("after the refused up");
    assert.equal((await s.state())?.revision, before?.revision);
    assert.match(s.trace.at(-1) ?? "", /^up: refused: service payments: release state says blue is live/);
  });
});
