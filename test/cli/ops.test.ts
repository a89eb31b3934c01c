/**
 * remedy status / rollback / drill against moto (the world from the rollback integration tests:
 * stack "test", services payments and orders releasing v2 at 10%).
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { normalizeStrategy } from "../../core/progressive";
import { OpsError, type ServiceStatus, describeProgress, formatStatus, operatorIdentity, recordedTopicProblem } from "../../cli/commands/ops";
import { STSClient } from "@aws-sdk/client-sts";
import { CreateFunctionCommand, LambdaClient, UpdateFunctionCodeCommand } from "@aws-sdk/client-lambda";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { strToU8, zipSync } from "fflate";
import * as fs from "node:fs";
import * as os from "node:os";
import { Phase, applyEvent, initialState } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { runRemedy } from "../helpers/cli";
import { freePort } from "../../cli/rehearsal/moto";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { useMoto } from "../helpers/moto";
import { createWorld, handlerDeps, type World } from "../helpers/rollbackWorld";

const ROOT = path.resolve(__dirname, "..", "..");
const ANSI = /\u001b\[[0-9;]*m/g; // eslint-disable-line no-control-regex

describe("cli: remedy status / rollback / drill against moto", function () {
  this.timeout(60_000);
  const suite = useMoto();
  let world: World;

  beforeEach(async () => {
    world = await createWorld(suite.moto.endpoint, ["payments", "orders"]);
  });

  it("status: every service with versions, weights, phase and alarm states, as JSON and as an aligned table", async () => {
    await world.setAlarm(world.services.payments.alarmNames.green["latency-p99"], "ALARM");
    const j = await runRemedy(["status", "--stack", "test", "--json"]);
    assert.equal(j.code, 0, j.err);
    const status = JSON.parse(j.out) as { stack: string; services: { service: string; phase: string; stable: string; candidate: string; weights: object; alarms: { firing: string[]; total: number } }[] };
    assert.equal(status.stack, "test");
    assert.deepEqual(status.services.map((s) => [s.service, s.phase, s.stable, s.candidate, s.weights, s.alarms]), [
      ["orders", "releasing", "v1 (blue)", "v2 (green)", { blue: 90, green: 10 }, { firing: [], total: 8 }],
      ["payments", "releasing", "v1 (blue)", "v2 (green)", { blue: 90, green: 10 }, { firing: ["green/latency-p99"], total: 8 }],
    ]);
    const t = await runRemedy(["status", "--stack", "test"]);
    const lines = t.out.split("\n").slice(1);
    const col = (line: string, text: string) => line.indexOf(text);
    assert.equal(col(lines[0], "PHASE"), col(lines[1], "releasing"));
    assert.equal(col(lines[0], "ALARMS"), col(lines[1], "ok (8)"));
    assert.equal(col(lines[0], "ALARMS"), col(lines[2], "ALARM green/latency-p99"));
    assert.doesNotMatch(t.out, ANSI, "plain when not a TTY");
  });

  it("status prints recorded text without its terminal control sequences", async () => {
    // Prepare: a rollback reason written by whoever could set an alarm's reason or run rollback.
    const hostile = "bad\u001b[2J\u001b[Hdeploy\u001b]0;pwned\u0007 ok\nfake row\u0000";
    const r = await runRemedy(["rollback", "payments", "--reason", hostile, "--stack", "test"]);
    assert.equal(r.code, 0, r.err);
    // Act
    const t = await runRemedy(["status", "--stack", "test"]);
    // Assess: no escape, BEL, NUL or line break of the reason reaches the terminal.
    assert.doesNotMatch(t.out, /[\u0000-\u0008\u000b-\u001f\u007f]/); // eslint-disable-line no-control-regex
    const lines = t.out.split("\n");
    assert.deepEqual(lines.filter((l) => !l.startsWith("  ")).map((l) => l.split(" ")[0]), ["stack", "SERVICE", "orders", "payments"], "no line the reason made looks like a row");
    assert.match(t.out, /\n {2}last rollback: bad\?\?deploy\? ok/, "the reason first, under its row at 100 columns");
    assert.doesNotMatch(r.out, /\u001b/); // eslint-disable-line no-control-regex
    // JSON keeps the text, escaped by JSON itself.
    const j = JSON.parse((await runRemedy(["status", "--stack", "test", "--json"])).out) as { services: { service: string; lastRollback?: { reason: string } }[] };
    assert.equal(j.services.find((x) => x.service === "payments")?.lastRollback?.reason, hostile.trim());
  });

  it("status renders colored and aligned in a real terminal (pty)", () => {
    const out = execFileSync("script", ["-qec", `node ${path.join(ROOT, "cli", "remedy.js")} status --stack test`, "/dev/null"], {
      cwd: ROOT,
      env: { ...process.env, TERM: "xterm-256color" },
      encoding: "utf8",
    });
    assert.match(out, ANSI, "colored on a TTY");
    const lines = out.replace(ANSI, "").replace(/\r/g, "").split("\n").filter((l) => /^(SERVICE|orders|payments)\s/.test(l));
    assert.equal(lines.length, 3, out);
    for (const h of ["PHASE", "STABLE", "CANDIDATE", "BLUE/GREEN"]) {
      const at = lines[0].indexOf(h);
      assert.ok(lines.slice(1).every((l) => l[at - 1] === " " && l[at] !== " "), `${h} column aligned at ${at}:\n${lines.join("\n")}`);
    }
  });

  it("rollback: the Lambda's decision and flip by hand, recorded with the operator and reason; refused when nothing to roll back", async () => {
    const r = await runRemedy(["rollback", "payments", "--reason", "checkout errors reported by support", "--stack", "test"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^rolled back payments: v2 \(green\) -> v1 \(blue\); blue\/green 100\/0; flipped in [\d.]+ ms$/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
    const state = await world.store.get("payments");
    assert.equal(state?.phase, Phase.RolledBack);
    assert.match(state?.lastRollback?.by ?? "", /^operator:/);
    assert.equal(state?.lastRollback?.reason, "checkout errors reported by support");
    const again = await runRemedy(["rollback", "payments", "--reason", "again please", "--stack", "test"]);
    assert.equal(again.code, 1);
    assert.match(again.err, /refused: nothing to roll back: payments is rolled-back/);
  });

  it("rollback: refuses a target with no healthy targets unless forced, and records the force", async () => {
    await world.deregisterAll("payments", Slot.Blue);
    const r = await runRemedy(["rollback", "payments", "--reason", "bad candidate", "--stack", "test"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /refused: the rollback target v1 \(blue\) has no healthy targets; .*\(use --force to flip anyway\)/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 90, green: 10 });
    const forced = await runRemedy(["rollback", "payments", "--reason", "bad candidate", "--force", "--stack", "test"]);
    assert.equal(forced.code, 0, forced.err);
    assert.equal((await world.store.get("payments"))?.lastRollback?.reason, "bad candidate [forced: v1 (blue) had no healthy targets]");
    // A forced flip pages, with no --topic-arn: the topic pulumi up recorded.
    const pages = await world.notifications();
    assert.equal(pages.length, 1);
    assert.match(pages[0].message, /bad candidate \[forced: v1 \(blue\) had no healthy targets\]/);
  });

  it("drill: forces the candidate's alarm, times the Lambda's flip, and restores the release", async () => {
    const h = handlerDeps(suite.moto.endpoint, world.topicArn);
    const r = await runRemedy(["drill", "payments", "--stack", "test", "--timeout", "10", "--json"], {
      // moto fires no alarm actions: deliver the event CloudWatch would send.
      afterAlarm: async (alarm: Parameters<typeof alarmActionEvent>[0]) => void (await h.handler(alarmActionEvent(alarm))),
    });
    assert.equal(r.code, 0, r.err);
    const result = JSON.parse(r.out) as { flipped: boolean; detectionToFlipSeconds: number; restored: boolean; alarm: string };
    assert.equal(result.flipped, true);
    assert.equal(result.alarm, "remedy-test/payments/green/error-rate");
    assert.ok(result.detectionToFlipSeconds >= 0 && result.detectionToFlipSeconds < 10);
    assert.equal(result.restored, true);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 90, green: 10 });
    const before = (await world.store.history("payments")).find((e) => e.action === "start-release")?.releaseId;
    const state = await world.store.get("payments");
    assert.equal(state?.phase, Phase.Releasing);
    assert.equal(state?.releaseId, before, "the same release goes on: a pipeline's remedy wait still follows it");
    const actions = (await world.store.history("payments")).map((e) => e.action);
    assert.deepEqual(actions.slice(-2), ["roll-back", "resume-after-drill"], "the drill is in the history");
  });

  it("drill: fails (exit 1) when nothing flips in time, and refuses a service without a live candidate", async () => {
    const r = await runRemedy(["drill", "orders", "--stack", "test", "--timeout", "1"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /FAILED: remedy-test\/orders\/green\/error-rate went to ALARM but traffic did not flip within 1 s/);
    await runRemedy(["rollback", "payments", "--reason", "make it stable", "--stack", "test"]);
    const refused = await runRemedy(["drill", "payments", "--stack", "test"]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /refused: payments has no candidate receiving traffic \(phase rolled-back\); --allow-stable/);
  });

  it("drill --allow-stable passes when the rollback function saw the stable slot's alarm and left traffic alone (issue 36, 4)", async () => {
    // Prepare: nothing releasing (payments rolled back: blue serves 100%).
    await runRemedy(["rollback", "payments", "--reason", "make it stable", "--stack", "test"]);
    const h = handlerDeps(suite.moto.endpoint, world.topicArn);
    // Act: the function gets the alarm (moto fires no actions: the test delivers CloudWatch's event).
    const r = await runRemedy(["drill", "payments", "--stack", "test", "--allow-stable", "--timeout", "10"], {
      afterAlarm: async (alarm: Parameters<typeof alarmActionEvent>[0]) => void (await h.handler(alarmActionEvent(alarm))),
    });
    // Assess
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^drill payments: remedy-test\/payments\/blue\/error-rate -> ALARM; the rollback function saw it after \d+\.\d s and left blue \(stable, 100%\) alone; alarm restored$/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
    assert.equal(await world.store.drill("payments"), undefined, "the drill item is gone");
    // Without the function seeing it (no event delivered), the stable drill fails, saying what to check.
    const unseen = await runRemedy(["drill", "payments", "--stack", "test", "--allow-stable", "--timeout", "1"]);
    assert.equal(unseen.code, 1);
    assert.match(unseen.err, /FAILED: remedy-test\/payments\/blue\/error-rate went to ALARM but the rollback function did not report seeing it within 1 s, or traffic moved; check the alarm's actions/);
  });

  it("says a stopped rehearsal is gone and how to leave it, not a bare ECONNREFUSED (issue 36, 10)", async () => {
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    try {
      const r = await runRemedy(["status", "--stack", "test"]);
      assert.equal(r.code, 2);
      assert.match(r.err, /^remedy status: nothing answers at AWS_ENDPOINT_URL=http:\/\/127\.0\.0\.1:\d+ \(a stopped `remedy rehearse --keep`\?\): start it again, or leave it with `unset AWS_ENDPOINT_URL /);
    } finally {
      process.env.AWS_ENDPOINT_URL = saved;
    }
  });

  it("errors are one line with exit 2: unknown stack, unknown service, missing reason", async () => {
    const stack = await runRemedy(["status", "--stack", "nope"]);
    assert.equal(stack.code, 2);
    assert.equal(stack.err, "remedy status: unknown stack nope: no release table remedy-nope-releases (run `pulumi up` on nope, or pass --stack)");
    const svc = await runRemedy(["rollback", "search", "--reason", "x y z w", "--stack", "test"]);
    assert.equal(svc.code, 2);
    assert.equal(svc.err, "remedy rollback: unknown service search in stack test (known: orders, payments)");
    assert.equal((await runRemedy(["rollback", "payments", "--stack", "test"])).code, 2);
  });

  it("promote: records an operator's request on a progressive release for the driver; abort: stops a release, recorded as an abort", async () => {
    // Prepare: payments becomes a progressive canary of v3 (as pulumi up would record it).
    const s = await world.store.get("payments");
    if (!s) throw new Error("no state");
    let state = s;
    for (const e of [
      { type: "shift-weight" as const, weight: 0, at: new Date().toISOString(), by: "pulumi:test" },
      { type: "start-release" as const, candidate: { slot: "green" as const, version: "v3" }, weight: 0, progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10, pauseBeforeFull: true }), rollbackWindowMinutes: 60 }, at: new Date().toISOString(), by: "pulumi:test" },
      { type: "advance-step" as const, stepIndex: 0, weight: 10, at: new Date().toISOString(), by: "release-driver" },
    ]) {
      const t = applyEvent(state, e);
      if (t.kind !== "applied") throw new Error(t.reason);
      await world.store.commit(state.revision, t.state, t.entry);
      state = t.state;
    }
    // status shows where it is, and --watch refreshes (JSON: one line per refresh).
    const watched = await runRemedy(["status", "--stack", "test", "--watch", "--interval", "0.1", "--count", "2", "--json"]);
    assert.equal(watched.code, 0, watched.err);
    const frames = watched.out.split("\n").map((l) => JSON.parse(l) as { services: { service: string; step: string | null }[] });
    assert.equal(frames.length, 2);
    for (const f of frames) {
      assert.match(f.services.find((x) => x.service === "payments")?.step ?? "", /^step 1\/3 at 10% until \d{4}-\d\d-\d\dT/);
      assert.equal(f.services.find((x) => x.service === "orders")?.step, null, "a manual release has no step");
    }
    const plain = await runRemedy(["status", "--stack", "test"]);
    const rows = plain.out.split("\n").slice(1);
    assert.equal(rows[0].indexOf("STEP"), rows[2].indexOf("step 1/3"), "the STEP column lines up");
    assert.equal((await runRemedy(["status", "--stack", "test", "--watch", "--count", "0"])).code, 2);
    // Act + Assess: promote
    const promote = await runRemedy(["promote", "payments", "--stack", "test", "--full"]);
    assert.equal(promote.code, 0, promote.err);
    assert.match(promote.out, /payments: promotion requested \(--full: promote at the next tick\); the release driver acts on its next tick/);
    assert.equal((await world.store.get("payments"))?.progress?.promote, "full");
    // Recorded with the caller's AWS identity, and announced on the stack's topic (recorded by up).
    const requested = (await world.store.history("payments")).at(-1);
    assert.match(requested?.by ?? "", /^operator:\S+ as arn:aws:(sts|iam)::\d{12}:\S+$/);
    const pages = await world.notifications();
    assert.deepEqual(pages.map((p) => p.subject), ["remedy: payments promotion requested (--full)"]);
    assert.match(pages[0].message, /^operator:\S+ as arn:aws:\S+ requested the promotion of payments v3 \(green\) at once \(--full: remaining steps, bake and any held pre-traffic check are skipped\)\./);
    assert.match((await runRemedy(["promote", "payments", "--stack", "test", "--full"])).out, /promotion \(full\) already requested/);
    const manual = await runRemedy(["promote", "orders", "--stack", "test"]);
    assert.equal(manual.code, 1);
    assert.match(manual.err, /refused: no progressive release in progress \(phase releasing\); remedy promote applies to a progressive release/);
    // abort
    const abort = await runRemedy(["abort", "payments", "--stack", "test", "--reason", "INC-9: checkout latency"]);
    assert.equal(abort.code, 0, abort.err);
    assert.match(abort.out, /^aborted payments: v3 \(green\) -> v1 \(blue\); blue\/green 100\/0/);
    const after = await world.store.get("payments");
    assert.equal(after?.phase, Phase.RolledBack);
    assert.equal(after?.lastRollback?.reason, "release aborted: INC-9: checkout latency");
    assert.match(after?.lastRollback?.by ?? "", /^operator:\S+ as arn:aws:(sts|iam)::\d{12}:/);
    const abortPages = await world.notifications();
    assert.deepEqual(abortPages.map((p) => p.subject), ["remedy: payments rolled back to v1"], "the abort is announced without --topic-arn");
  });

  it("status --outputs: says whether each function runs what pulumi up deployed, and exits 1 when one does not (issue 35, 18)", async () => {
    // Prepare: the rollback function as pulumi up created it, and the stack's outputs file.
    const endpoint = { endpoint: suite.moto.endpoint, region: "eu-west-1" };
    const role = (await new IAMClient(endpoint).send(new CreateRoleCommand({ RoleName: `fn-${Date.now()}`, AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] }) }))).Role?.Arn;
    const lambda = new LambdaClient(endpoint);
    const zip = (code: string) => zipSync({ "index.js": strToU8(code) });
    const created = await lambda.send(new CreateFunctionCommand({ FunctionName: "rollback-0a1b2c3", Runtime: "nodejs22.x", Handler: "index.handler", Role: role, Code: { ZipFile: zip("exports.handler = async () => 1;") } }));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-outputs-"));
    const outputs = path.join(dir, "outputs.json");
    fs.writeFileSync(outputs, JSON.stringify({ lambdaCode: { rollback: { functionName: "rollback-0a1b2c3", codeSha256: created.CodeSha256, bundleSha256: "ab".repeat(32) } } }));

    // Act + Assess: as deployed.
    const same = await runRemedy(["status", "--stack", "test", "--outputs", outputs]);
    assert.equal(same.code, 0, same.err);
    assert.match(same.out, new RegExp(`code rollback \\(rollback-0a1b2c3\\): as deployed by pulumi up \\(sha256 ${(created.CodeSha256 ?? "").replace(/[+/=]/g, ".")}\\)`));

    // Act: someone replaces the code outside Pulumi.
    const changed = await lambda.send(new UpdateFunctionCodeCommand({ FunctionName: "rollback-0a1b2c3", ZipFile: zip("exports.handler = async () => 'do nothing';") }));
    const differs = await runRemedy(["status", "--stack", "test", "--outputs", outputs, "--json"]);

    // Assess
    assert.equal(differs.code, 1);
    const code = (JSON.parse(differs.out) as { code: { name: string; deployed: string; expected: string; matches: boolean }[] }).code;
    assert.deepEqual(code.map((r) => [r.name, r.matches, r.deployed, r.expected]), [["rollback", false, changed.CodeSha256, created.CodeSha256]]);
    const text = await runRemedy(["status", "--stack", "test", "--outputs", outputs]);
    assert.match(text.out, /code rollback \(rollback-0a1b2c3\): DIFFERS from what pulumi up deployed \(runs .*, deployed .*\): changed outside Pulumi\? Find the UpdateFunctionCode in CloudTrail, then pulumi up/);

    // A file without the output names the fix.
    fs.writeFileSync(outputs, JSON.stringify({ rollback: {} }));
    const old = await runRemedy(["status", "--stack", "test", "--outputs", outputs]);
    assert.equal(old.code, 2);
    assert.match(old.err, /--outputs .*outputs\.json: no lambdaCode output \(each function's name and codeSha256\); run `pulumi up` with this version of remedy, then `pulumi stack output --json > /);
  });

  it("rollback with the caller's credentials does not page a topic outside the caller's account that a record names", async () => {
    // Prepare: a table writer points orders' record at a topic of another account (issue 35, 15).
    const forged = "arn:aws:sns:eu-west-1:999999999999:collect-pages";
    const state = await world.store.get("orders");
    if (!state) throw new Error("orders is recorded");
    const entry = { service: "orders", revision: state.revision + 1, at: state.updatedAt, action: "update-routing" as const, by: "a table writer", releaseId: null, summary: "forged", weights: state.weights };
    await world.store.commit(state.revision, { ...state, revision: state.revision + 1, routing: { ...state.routing, notifyTopicArn: forged } }, entry);
    // Act
    const r = await runRemedy(["rollback", "orders", "--reason", "INC-10", "--stack", "test"]);
    // Assess: rolled back, said why nobody was paged there, and nothing published.
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /the release record names topic arn:aws:sns:eu-west-1:999999999999:collect-pages, outside your account \d{12} and region eu-west-1; not paged there: pass --topic-arn/);
    assert.deepEqual(await world.notifications(), []);
  });
});

describe("cli: remedy status STEP column for a pre-traffic check (pure)", () => {
  it("says when the check runs, what failed so far, and that a held release waits for remedy promote", () => {
    // Prepare: a release at 0% with an HTTP check, failed once, then held after its 2nd failure.
    const routing = { ruleArn: "arn:aws:elasticloadbalancing:r", targetGroupArns: { blue: "arn:aws:elasticloadbalancing:b", green: "arn:aws:elasticloadbalancing:g" }, stickinessSeconds: 0 };
    const check = { kind: "http" as const, url: "https://api.example.com/healthz", header: "x-remedy-candidate", value: "1", expectStatus: [200, 299] as const, timeoutSeconds: 5 };
    const t0 = "2026-12-01T10:00:00.000Z";
    const start = applyEvent(initialState("payments", { slot: Slot.Blue, version: "v1" }, routing, t0), {
      type: "start-release",
      candidate: { slot: Slot.Green, version: "v2" },
      weight: 0,
      progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10 }), rollbackWindowMinutes: 0, preTraffic: { check, maxAttempts: 2 } },
      at: t0,
      by: "pulumi:prod",
    }).state;
    const fail = (s: typeof start, attempt: number) => applyEvent(s, { type: "pre-traffic-result", attempt, passed: false, reason: "answered 503", at: t0, by: "release-driver" }).state;

    // Act
    const lines = [start, fail(start, 1), fail(fail(start, 1), 2)].map(describeProgress);

    // Assess
    assert.deepEqual(lines, [
      "pre-traffic check at the next tick",
      "pre-traffic check at the next tick (1/2 failed: answered 503)",
      "HELD: pre-traffic check failed 2/2 (answered 503); remedy promote payments runs it again",
    ]);
  });

  it("shows the post-promotion watch: the warm previous version until its window ends, then its scale-down", () => {
    // Prepare: v2 promoted at 10:00 with a 60-minute window.
    const routing = { ruleArn: "arn:aws:elasticloadbalancing:r", targetGroupArns: { blue: "arn:aws:elasticloadbalancing:b", green: "arn:aws:elasticloadbalancing:g" }, stickinessSeconds: 0 };
    const t = (m: number) => new Date(Date.parse("2026-12-01T10:00:00.000Z") + m * 60_000).toISOString();
    let s = initialState("payments", { slot: Slot.Blue, version: "v1" }, routing, t(-10));
    s = applyEvent(s, { type: "start-release", candidate: { slot: Slot.Green, version: "v2" }, weight: 100, at: t(-5), by: "pulumi:prod" }).state;
    s = applyEvent(s, { type: "promote", rollbackWindowMinutes: 60, at: t(0), by: "release-driver" }).state;
    const retired = applyEvent(s, { type: "retire-previous", at: t(61), by: "release-driver" }).state;

    // Act + Assess
    assert.equal(describeProgress(s, Date.parse(t(30))), `previous v1 (blue) warm, automatic rollback target until ${t(60)}`);
    assert.equal(describeProgress(s, Date.parse(t(61))), "previous v1 (blue): rollback window over; scale-down pending");
    assert.equal(describeProgress(retired, Date.parse(t(62))), `previous v1 (blue) scaled to 0 at ${t(61)}`);
  });
});

describe("cli: recordedTopicProblem (whose topic a direct override pages)", () => {
  const caller = "arn:aws:sts::123456789012:assumed-role/operator/alice";
  it("accepts the caller's account and region, refuses another account or region with the fix", () => {
    assert.equal(recordedTopicProblem("arn:aws:sns:eu-west-1:123456789012:t", caller, "eu-west-1"), undefined);
    assert.match(recordedTopicProblem("arn:aws:sns:eu-west-1:999999999999:t", caller, "eu-west-1") ?? "", /outside your account 123456789012 and region eu-west-1; not paged there: pass --topic-arn \(stack output notificationTopicArn\)/);
    assert.ok(recordedTopicProblem("arn:aws:sns:us-east-1:123456789012:t", caller, "eu-west-1"));
  });
});

describe("cli: remedy status fits the terminal (issue 36, 6)", () => {
  it("keeps the fixed columns, and puts the free text under its row, whole and wrapped, when it would be a stub beside them", () => {
    const row = (service: string, reason: string | null): ServiceStatus => ({
      service,
      phase: reason ? "rolled-back" : "releasing",
      stable: "v1 (blue)",
      candidate: "v2 (green)",
      weights: reason ? { blue: 100, green: 0 } : { blue: 90, green: 10 },
      alarms: { firing: [], total: 8 },
      lastRollback: reason ? { at: "2026-12-07T10:00:00.000Z", by: "operator:ana as arn:aws:sts::123456789012:assumed-role/oncall/ana", reason } : null,
      hotfix: null,
      step: reason ? null : "step 1/2 at 10% until 2026-12-07T10:05:00.000Z",
    });
    const reason = "checkout errors after v2 (INC-4711): card tokens rejected by the new vault client; rolling back until the vault team confirms";
    const rows = [row("payments", reason), row("orders", null)];
    for (const width of [80, 100, 120]) {
      const text = formatStatus("prod", rows, false, width);
      const lines = text.split("\n");
      assert.ok(lines.every((l) => l.length <= width), `${width}: ${lines.map((l) => l.length).join(", ")}`);
      assert.match(lines[1], /^SERVICE +PHASE +STABLE +CANDIDATE +BLUE\/GREEN +ALARMS$/, "the fixed columns only");
      const under = lines.slice(lines.findIndex((l) => l.startsWith("payments")) + 1).filter((l) => l.startsWith("  ")).map((l) => l.trim()).join(" ");
      assert.ok(under.startsWith(`last rollback: ${reason} (operator:ana as`), `${width}: the reason whole, first: ${under}`);
      assert.match(lines[lines.findIndex((l) => l.startsWith("orders")) + 1], /^ {2}step: step 1\/2 at 10% until 2026-12-07T10:05:00\.000Z$/);
      assert.doesNotMatch(text, /hotfix:/, "nothing said where there is nothing");
    }
    const wide = formatStatus("prod", rows, false, 400).split("\n");
    assert.match(wide[1], /^SERVICE .* ALARMS +STEP +LAST ROLLBACK +HOTFIX$/, "beside when it fits");
    assert.match(wide.join("\n"), /rolling back until the vault team confirms \(operator:ana as .*, 2026-12-07T10:00:00\.000Z\)/, "whole when it fits");
    const cut = formatStatus("prod", rows, false, 200).split("\n");
    assert.ok(cut.every((l) => l.length <= 200) && /…/.test(cut.join("\n")) && /STEP/.test(cut[1]), "beside, the longest free text cut when each still gets 30 columns");
  });
});

describe("cli: operatorIdentity (who made an override)", () => {
  it("refuses an override when the caller's AWS identity cannot be established, naming the fix", async () => {
    const sts = new STSClient({ endpoint: "http://127.0.0.1:9", region: "eu-west-1", credentials: { accessKeyId: "x", secretAccessKey: "y" }, maxAttempts: 1 });
    await assert.rejects(operatorIdentity(sts), (err: Error) => err instanceof OpsError && /^cannot establish your AWS identity \(sts:GetCallerIdentity: .*\); an override is recorded with who made it, so check your AWS credentials$/.test(err.message));
  });
});
