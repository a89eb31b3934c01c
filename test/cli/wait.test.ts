/**
 * remedy wait (issue 36, 1) against moto: the release driver steps a canary on a virtual clock
 * between polls, an operator rolls one back, and the wait reports each change, a summary and the
 * exit code a pipeline acts on. The release id ties the wait to one release: an older release's
 * rollback is never this one's outcome.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { waitCommand } from "../../cli/commands/wait";
import { WAIT_EXIT } from "../../core/releaseOutcome";
import { Phase, applyEvent } from "../../core/releaseState";
import { normalizeStrategy } from "../../core/progressive";
import { Slot } from "../../core/slots";
import { motoEnv } from "../../cli/rehearsal/moto";
import { createReleaseDriver } from "../../lambdas/commons/releaseDriver";
import { runRemedy } from "../helpers/cli";
import { useMotoBehindProxy } from "../helpers/faultProxy";
import { DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { restoreDrill, startDrill } from "../../lambdas/commons/drill";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { PREFIX, capture, clients, createWorld, handlerDeps, startProgressive, type World } from "../helpers/rollbackWorld";

describe("cli: remedy wait, a pipeline's gate", function () {
  this.timeout(120_000);
  const env = useMotoBehindProxy();
  let world: World;
  const T0 = Date.now() - 3_600_000;
  let clock: number;

  function driver(services: string[]) {
    const logger = new Logger({ serviceName: "remedy-release-driver" });
    capture(logger);
    return createReleaseDriver({ services, store: world.store, traffic: world.traffic, cloudwatch: clients(env.proxy.endpoint).cw, alarmPrefix: PREFIX, logger, now: () => clock });
  }

  async function run(argv: string[], sleep: () => Promise<void>, json = false) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await waitCommand(argv, json, { out: (s) => out.push(s), err: (s) => err.push(s) }, { store: world.store, sleep });
    return { code, out, err };
  }

  // `remedy status` in a real process environment: the SDK's settings pointed at moto.
  let saved: NodeJS.ProcessEnv;
  before(() => {
    saved = { ...process.env };
    Object.assign(process.env, motoEnv(env.moto.endpoint));
  });
  after(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  beforeEach(async () => {
    world = await createWorld(env.moto.endpoint, ["payments", "orders"]);
    clock = T0;
  });

  it("follows two canaries to promotion, step by step, and exits 0 with a summary", async () => {
    // Prepare: both start a canary (10% for 5 min, bake 10) at T0; the driver ticks a minute per poll.
    const p = await startProgressive(world, "payments", new Date(T0).toISOString());
    const o = await startProgressive(world, "orders", new Date(T0).toISOString());
    const d = driver(["payments", "orders"]);
    const tick = async () => {
      clock += 60_000;
      await d.tick();
    };
    await d.tick();

    // Act
    const r = await run(["payments", "orders", "--release", `payments=${p.releaseId}`, "--release", `orders=${o.releaseId}`, "--interval", "1"], tick);

    // Assess
    assert.equal(r.code, WAIT_EXIT.done, r.err.join("\n"));
    const payments = r.out.filter((l) => / payments: /.test(l));
    assert.match(payments[0], /payments: v3 \(green\) at 10%: step 1\/2$/);
    assert.ok(payments.some((l) => /payments: v3 \(green\) at 100%: baking$/.test(l)), payments.join("\n"));
    assert.match(payments.at(-1) ?? "", /payments: DONE: promoted at /);
    const summary = r.out.slice(r.out.findIndex((l) => l.startsWith("\nremedy wait:")));
    assert.match(summary[0], /^\nremedy wait: 2 releases on stack prod, \d+ s$/);
    assert.match(summary[1], /^ {2}payments {2}promoted {5} {2}green:v3:\d+ {2}promoted at /);
    assert.match(summary[2], /^ {2}orders {4}promoted/);
    assert.equal((await world.store.get("orders"))?.phase, Phase.Promoted);
  });

  it("exits 3 on a rollback of the waited release, and never takes an older release's rollback for the new one", async () => {
    // Prepare: an older release of payments was rolled back; a new one is in progress.
    const old = await startProgressive(world, "payments", new Date(T0 - 600_000).toISOString());
    clock = T0 - 540_000;
    await driver(["payments"]).tick(); // at 10%: something to roll back
    const h = handlerDeps(env.moto.endpoint, world.topicArn);
    await h.handler.manual({ service: "payments", reason: "old build broke checkout", by: "operator:ana" });
    const ack = await world.store.get("payments");
    assert.equal(ack?.lastRollback?.releaseId, old.releaseId);
    const outputs = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "remedy-wait-")), "outputs.json");

    // Act 1: the old release's id: its outcome is the rollback, at once.
    fs.writeFileSync(outputs, JSON.stringify({ services: { payments: { release: { releaseId: old.releaseId } } } }));
    const first = await run(["payments", "--outputs", outputs], () => Promise.resolve(), true);

    // Assess 1: JSON lines: the outcome, then the summary.
    assert.equal(first.code, WAIT_EXIT.rolledBack, first.err.join("\n"));
    const lines = first.out.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual([lines[0].event, lines[0].outcome], ["outcome", "rolled-back"]);
    assert.match(String(lines[0].detail), /^rolled back at .* by operator:ana: old build broke checkout \(v3 -> v1\)$/);
    assert.deepEqual(lines.at(-1), { summary: [{ service: "payments", releaseId: old.releaseId, outcome: "rolled-back", detail: lines[0].detail, seconds: 0 }], exitCode: 3 });

    // Act 2: a new release; the wait on it sees progress, then the operator aborts it.
    const rolledBack = await world.store.get("payments");
    const acked = applyEvent(rolledBack as NonNullable<typeof rolledBack>, { type: "acknowledge", at: new Date(T0 - 1000).toISOString(), by: "pulumi:test" });
    if (acked.kind !== "applied") throw new Error(acked.reason);
    await world.store.commit((rolledBack as NonNullable<typeof rolledBack>).revision, acked.state, acked.entry);
    // The next pulumi up releases v3 again: a new release, with its own id.
    const restarted = applyEvent(acked.state, { type: "start-release", candidate: { slot: Slot.Green, version: "v3" }, weight: 0, progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }), rollbackWindowMinutes: 30 }, at: new Date(T0).toISOString(), by: "pulumi:test" });
    if (restarted.kind !== "applied") throw new Error(restarted.reason);
    await world.store.commit(acked.state.revision, restarted.state, restarted.entry);
    const fresh = restarted.state;
    assert.notEqual(fresh.releaseId, old.releaseId);
    fs.writeFileSync(outputs, JSON.stringify({ services: { payments: { release: { releaseId: fresh.releaseId } } } }));
    const d = driver(["payments"]);
    let polls = 0;
    const second = await run(["payments", "--outputs", outputs, "--interval", "1"], async () => {
      polls++;
      clock = T0 + polls * 60_000;
      if (polls === 2) await h.handler.manual({ service: "payments", reason: "release aborted: INC-12 latency", by: "operator:bo" });
      else await d.tick();
    });

    // Assess 2
    assert.equal(second.code, WAIT_EXIT.rolledBack, second.out.join("\n"));
    assert.match(second.out[0], /payments: v3 \(green\) at 0%: starting|payments: v3 \(green\) at 10%: step 1\/2/);
    assert.match(second.out.find((l) => /ROLLED-BACK/.test(l)) ?? "", /payments: ROLLED-BACK: aborted at .* by operator:bo: INC-12 latency \(v3 -> v1\)$/);
  });

  it("keeps waiting through a drill of the waited release: the drill's rollback is not the release's end, its restore resumes the same release (issue 36, 3)", async () => {
    // Prepare: payments at 10% of a canary.
    const p = await startProgressive(world, "payments", new Date(T0).toISOString());
    const d = driver(["payments"]);
    clock = T0 + 60_000;
    await d.tick();
    const h = handlerDeps(env.moto.endpoint, world.topicArn);
    const deps = { store: world.store, traffic: world.traffic, cloudwatch: clients(env.moto.endpoint).cw, alarmPrefix: PREFIX };
    let polls = 0;

    // Act: poll 1 sees the step; then a drill forces the alarm and the function rolls back (poll 2
    // sees that); then the drill restores; then the driver carries the same release to promotion.
    const r = await run(["payments", "--release", `payments=${p.releaseId}`, "--interval", "1"], async () => {
      polls++;
      if (polls === 1) {
        const started = await startDrill(deps, "payments", "operator:ana", false, Date.now());
        if (started.outcome !== "started") throw new Error(started.reason);
        const alarm = (await clients(env.moto.endpoint).cw.send(new DescribeAlarmsCommand({ AlarmNames: [started.drill.alarm] }))).MetricAlarms?.[0];
        await h.handler(alarmActionEvent(alarm as Parameters<typeof alarmActionEvent>[0]));
      } else if (polls === 2) {
        const restored = await restoreDrill(deps, "payments", "operator:ana", new Date().toISOString());
        assert.equal(restored.outcome === "restored" && restored.releasedAgain, true);
      } else {
        clock += 10 * 60_000;
        await d.tick();
      }
    });

    // Assess
    assert.equal(r.code, WAIT_EXIT.done, r.out.join("\n"));
    assert.ok(r.out.some((l) => /payments: rolled back by a running remedy drill, whose restore resumes it$/.test(l)), r.out.join("\n"));
    assert.match(r.out.find((l) => / payments: DONE/.test(l)) ?? "", /DONE: promoted at /);
    assert.equal((await world.store.get("payments"))?.releaseId, p.releaseId, "the release the wait followed is the one promoted");
  });

  it("exits 4 when a release waits for a person (a pause before full), 5 on a timeout, 2 on usage; status --exit-status says the same", async () => {
    // Prepare: payments pauses before full; orders never moves (no driver for it).
    const p = await startProgressive(world, "payments", new Date(T0).toISOString(), { strategy: { kind: "canary", weight: 10, minutes: 1, bakeMinutes: 10, pauseBeforeFull: true } });
    const o = await startProgressive(world, "orders", new Date(T0).toISOString());
    const d = driver(["payments"]);
    const tick = async () => {
      clock += 60_000;
      await d.tick();
    };
    await d.tick();

    // Act + Assess: held.
    const held = await run(["payments", "--release", `payments=${p.releaseId}`, "--interval", "1"], tick);
    assert.equal(held.code, WAIT_EXIT.held, held.out.join("\n"));
    assert.match(held.out.find((l) => /HELD/.test(l)) ?? "", /payments: HELD: v3 \(green\) at 10%, paused: canary at 10% done; waiting for remedy promote; remedy promote payments moves it on$/);

    // Timed out: orders stays at 0% (nothing ticks it).
    const timedOut = await run(["orders", "--release", `orders=${o.releaseId}`, "--timeout", "0.2", "--interval", "0.1"], () => new Promise((r) => setTimeout(r, 100)));
    assert.equal(timedOut.code, WAIT_EXIT.timedOut);
    assert.match(timedOut.out.at(-1) ?? "", /orders {2}TIMED OUT/);

    // Usage: each names the fix; nothing is read.
    for (const [argv, pattern] of [
      [[], /name at least one service/],
      [["payments", "--until", "done"], /--until is promoted, window-closed or promotable, got "done"/],
      [["payments", "--release", "payments"], /--release takes <service>=<release id>/],
      [["payments", "--timeout", "0"], /--timeout must be a positive number of seconds, got "0"/],
    ] as const) {
      const u = await run([...argv], () => Promise.resolve());
      assert.equal(u.code, WAIT_EXIT.usage);
      assert.match(u.err.join("\n"), pattern);
    }

    // status --exit-status: held is 4; after a rollback, 3.
    const heldStatus = await runRemedy(["status", "--stack", "test", "--exit-status"]);
    assert.equal(heldStatus.code, WAIT_EXIT.held, heldStatus.err);
    await handlerDeps(env.moto.endpoint, world.topicArn).handler.manual({ service: "payments", reason: "bad build", by: "operator:ana" });
    assert.equal((await runRemedy(["status", "--stack", "test", "--exit-status"])).code, WAIT_EXIT.rolledBack);
    // Once the rollback is acknowledged (the next up), the stack no longer reports it.
    const rolled = await world.store.get("payments");
    const acked = applyEvent(rolled as NonNullable<typeof rolled>, { type: "acknowledge", at: new Date().toISOString(), by: "pulumi:test" });
    if (acked.kind !== "applied") throw new Error(acked.reason);
    await world.store.commit((rolled as NonNullable<typeof rolled>).revision, acked.state, acked.entry);
    assert.equal((await runRemedy(["status", "--stack", "test", "--exit-status"])).code, 0, "acknowledged: nothing rolled back or held");
    assert.equal((await runRemedy(["status", "--stack", "test"])).code, 0, "without the flag status only shows");
  });
});
