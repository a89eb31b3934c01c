/**
 * remedy promote-env (issue 38, 8) against moto: two release tables stand for staging and prod.
 * Staging ran payments v2.3.1's bundle to completion; prod's stack file says what it takes. The
 * command reads the source's history, blocks and metrics (a CloudWatch stand-in: the emulator has
 * no percentiles), prod's approvals, re-checks the bundle on prod (migrations, check-api against
 * its live v2.3.0 with the real schemas), prints every gate and records the decision in prod's table.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { CloudWatchClient, DescribeAlarmHistoryCommand, type GetMetricDataCommand } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { promoteEnvCommand } from "../../cli/commands/promoteEnv";
import { waitCommand } from "../../cli/commands/wait";
import { makeBundle } from "../../core/promotion/bundle";
import { applyEvent, initialState } from "../../core/releaseState";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { runRemedy } from "../helpers/cli";
import { stackYaml } from "../helpers/fixtures";
import { createReleaseTables, useMoto } from "../helpers/moto";

const ROOT = path.join(__dirname, "..", "..");
const ROUTING = {
  ruleArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
  targetGroupArns: { blue: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-blue-1a2b3c4d/1", green: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-green-5e6f7a8b/2" },
  stickinessSeconds: 0,
};
const T0 = Date.parse("2026-12-07T12:00:00.000Z"); // a Monday
const at = (m: number) => new Date(T0 + m * 60_000).toISOString();
/** Staging's alarm history (DescribeAlarmHistory's items), set by a test. */
let alarmHistory: { AlarmName: string; Timestamp: Date; HistoryItemType: string; HistoryData: string }[] = [];
/**
 * Staging's CloudWatch: the candidate 0.1 points over the version it replaced, p99 1.02x; and its
 * alarm history. A stand-in answering as the API reference documents: moto has neither
 * percentiles nor DescribeAlarmHistory.
 */
const cloudwatch = (): CloudWatchClient => {
  // A real client whose calls are answered here (the SDK's paginators take only a CloudWatchClient).
  const client = new CloudWatchClient({ region: "eu-west-1" });
  client.send = ((c: GetMetricDataCommand | DescribeAlarmHistoryCommand) => {
    if (c instanceof DescribeAlarmHistoryCommand) return Promise.resolve({ AlarmHistoryItems: alarmHistory.filter((i) => i.Timestamp >= (c.input.StartDate as Date) && i.Timestamp <= (c.input.EndDate as Date)) });
    const green = (c.input.MetricDataQueries ?? []).some((q) => q.MetricStat?.Metric?.Dimensions?.some((d) => d.Value?.includes("payments-green")));
    const v: Record<string, number> = green ? { errors: 20, requests: 10_000, p99: 0.51 } : { errors: 10, requests: 10_000, p99: 0.5 };
    return Promise.resolve({ MetricDataResults: (c.input.MetricDataQueries ?? []).map((q) => ({ Id: q.Id, Values: [v[q.Id as string]] })) });
  }) as unknown as CloudWatchClient["send"];
  return client;
};

describe("cli: remedy promote-env from staging to prod (issue 38, 8; moto)", function () {
  this.timeout(60_000);
  useMoto();
  let saved: NodeJS.ProcessEnv;
  let dir: string;
  let config: string;
  let me: string;
  let bundleId: string;

  beforeEach(async () => {
    alarmHistory = [];
    saved = { ...process.env };
    await createReleaseTables("remedy-prod-releases", "remedy-staging-releases");
    const ddb = new DynamoDBClient({});
    // A release manager's session, as AWS names one (an assumed role).
    const role = (await new IAMClient({}).send(new CreateRoleCommand({ RoleName: "release-managers", AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: "sts:AssumeRole" }] }) }))).Role?.Arn as string;
    const creds = (await new STSClient({}).send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: "alice" }))).Credentials;
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: creds?.AccessKeyId, AWS_SECRET_ACCESS_KEY: creds?.SecretAccessKey, AWS_SESSION_TOKEN: creds?.SessionToken });
    me = (await new STSClient({}).send(new GetCallerIdentityCommand({}))).Arn as string;
    assert.match(me, /^arn:aws:sts::123456789012:assumed-role\/release-managers\/alice$/);
    // Staging: v2.3.1 released as a bundle 5 h ago, promoted 4 h ago.
    const staging = new ReleaseStore(ddb, "remedy-staging-releases");
    const bundle = makeBundle(
      { service: "payments", version: "v2.3.1", image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"2".repeat(64)}`, api: { schemaSha256: createHash("sha256").update(fs.readFileSync(path.join(ROOT, "api/payments/v2.3.1.graphql"))).digest("hex"), verdict: "compatible" }, migrations: [], configSha256: "c".repeat(64) },
      { source: "acme/remedy/staging", createdAt: at(-300), releaser: "arn:aws:sts::123456789012:assumed-role/ci-deployer/run-9" },
    );
    bundleId = bundle.id;
    await staging.recordBundle("payments", { ...bundle });
    let s = initialState("payments", { slot: "blue", version: "v2.3.0" }, ROUTING, at(-2000));
    await staging.create(s);
    for (const e of [
      { type: "start-release" as const, candidate: { slot: "green" as const, version: "v2.3.1", bundle: bundle.id }, weight: 10, at: at(-300), by: "pulumi:staging" },
      { type: "promote" as const, rollbackWindowMinutes: 60, at: at(-240), by: "release-driver" },
    ]) {
      const t = applyEvent(s, e);
      if (t.kind !== "applied") throw new Error(t.reason);
      await staging.commit(s.revision, t.state, t.entry);
      s = t.state;
    }
    // Prod's stack file, with its policy: staging, 60 min of soak, one approval by this identity.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-promote-"));
    fs.symlinkSync(path.join(ROOT, "api"), path.join(dir, "api"));
    const prod = { ...stackYaml("prod"), "remedy:promotion": { sources: [{ stack: "acme/remedy/staging" }], soakMinutes: 60, approvals: { count: 1, approvers: ["arn:aws:sts::123456789012:assumed-role/release-managers/*"] } } };
    config = path.join(dir, "Pulumi.prod.yaml");
    fs.writeFileSync(config, yaml.dump({ config: prod }));
  });
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const promote = (...extra: string[]) => promoteAt(T0, ...extra);
  const promoteAt = async (nowMs: number, ...extra: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await promoteEnvCommand(["payments", "--from", "staging", "--to", "prod", "--config", config, ...extra], false, { out: (s) => out.push(s), err: (s) => err.push(s) }, { nowMs, cloudwatch });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  it("waits for an approval, then allows and says what to ship; each decision recorded in prod's table", async () => {
    const waiting = await promote();
    assert.equal(waiting.code, 4, waiting.err);
    assert.equal(waiting.out.split("\n")[0], `payments v2.3.1 (${bundleId}) from acme/remedy/staging to prod: WAIT`);
    assert.match(waiting.out, new RegExp(`^  wait   approvals  0 of 1 approval\\(s\\): remedy approve ${bundleId} by `, "m"));
    assert.equal((await runRemedy(["approve", "payments", bundleId, "--stack", "prod"])).code, 0);
    const allowed = await promote("--explain");
    assert.equal(allowed.code, 0, allowed.out + allowed.err);
    assert.match(allowed.out, new RegExp(`^payments v2\\.3\\.1 \\(${bundleId}\\) from acme/remedy/staging to prod: ALLOW$`, "m"));
    for (const line of [
      /^ {2}allow {2}soak {7}soaked 240 min in acme\/remedy\/staging \(.*, still running\); 60 needed$/m,
      /^ {2}allow {2}evidence {3}acme\/remedy\/staging: 5xx 0\.10 points over stable, p99 1\.02x$/m,
      /^ {2}allow {2}rechecks {3}on prod: database v2\.3\.1 needs no migration; api compatible with prod's live v2\.3\.0 and its client operations$/m,
      /^ship it: set payments's release in prod's config to .*payments@sha256:2{64} \(version v2\.3\.1\) and run pulumi up there \(or run this with --write\)/m,
    ]) assert.match(allowed.out, line);
    // What to set: prod's config is stable blue with green at 10% (manual), and prod has no release
    // state: the bundle goes into green, at weight 0 until someone raises it; versions as strings.
    assert.deepEqual(allowed.out.split("\n").filter((l) => l.startsWith("  pulumi config set")), [
      `  pulumi config set --stack prod --path --type string 'remedy:services[0].slots.green.image' '123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"2".repeat(64)}'`,
      "  pulumi config set --stack prod --path --type string 'remedy:services[0].slots.green.version' 'v2.3.1'",
      "  pulumi config set --stack prod --path --type int 'remedy:services[0].candidate.weight' '0'",
    ]);
    assert.match(allowed.out, /inputs: \{/, "--explain shows each gate's inputs");
    const recorded = ((await new DynamoDBClient({}).send(new QueryCommand({ TableName: "remedy-prod-releases", KeyConditionExpression: "pk = :p AND begins_with(sk, :s)", ExpressionAttributeValues: { ":p": { S: "payments" }, ":s": { S: `promotion#${bundleId}#` } } }))).Items ?? []).map((i) => JSON.parse(unmarshall(i).decision as string) as { decision: string; gates: unknown[] });
    assert.deepEqual(recorded.map((r) => [r.decision, r.gates.length]).sort(), [["allow", 7], ["wait", 7]], "both, each with every gate (same clock here: two records)");
    // remedy history on prod shows them, with the approval.
    await new ReleaseStore(new DynamoDBClient({}), "remedy-prod-releases").create(initialState("payments", { slot: "blue", version: "v2.3.0" }, ROUTING, at(-600)));
    const history = await runRemedy(["history", "payments", "--stack", "prod"]);
    assert.equal(history.code, 0, history.err);
    const lines = history.out.split("\n").slice(history.out.split("\n").indexOf("promotions (bundles into or out of this stack):") + 1);
    assert.deepEqual(lines.map((l) => l.replace(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}/, "")).sort(), [
      `${bundleId}  approved by ${me}`,
      `${bundleId}  promote-env from acme/remedy/staging: ALLOW`,
      `${bundleId}  promote-env from acme/remedy/staging: WAIT (held by approvals)`,
    ]);
    // The history page shows them too, each decision with every gate's decision and message.
    const file = path.join(dir, "history.html");
    assert.equal((await runRemedy(["history", "payments", "--stack", "prod", "--html", file])).code, 0);
    const page = fs.readFileSync(file, "utf8");
    const rows = [...page.matchAll(/<tr class="promotion (\w+)" data-kind="\w+" data-bundle="([^"]+)"(?: data-decision="(\w+)")?>([\s\S]*?)<\/tr>/g)];
    assert.deepEqual(rows.map((r) => [r[1], r[2], r[3]]).sort(), [["approval", bundleId, undefined], ["decision", bundleId, "allow"], ["decision", bundleId, "wait"]]);
    const waitRow = rows.find((r) => r[3] === "wait")?.[4] ?? "";
    assert.deepEqual([...waitRow.matchAll(/data-gate="(\w+)" data-decision="(\w+)"/g)].map((m) => `${m[1]}:${m[2]}`), ["blocked:allow", "verified:allow", "soak:allow", "evidence:allow", "rechecks:allow", "approvals:wait", "windows:allow"]);
    assert.match(waitRow, /<strong>wait<\/strong> approvals: 0 of 1 approval\(s\): remedy approve /);
  });

  it("--write puts the bundle into the slot release state calls idle, catching a lagging stable up, comments kept, only on allow", async () => {
    fs.writeFileSync(config, `# prod: what it runs\n${fs.readFileSync(config, "utf8")}`);
    const before = fs.readFileSync(config, "utf8");
    const held = await promote("--write");
    assert.equal(held.code, 4);
    assert.equal(fs.readFileSync(config, "utf8"), before, "a decision that does not allow writes nothing");
    assert.equal((await runRemedy(["approve", "payments", bundleId, "--stack", "prod"])).code, 0);
    // The release driver promoted green (v2.3.0, over v2.2.9) in prod; config still says stable blue.
    const prod = new ReleaseStore(new DynamoDBClient({}), "remedy-prod-releases");
    let s = initialState("payments", { slot: "blue", version: "v2.2.9" }, ROUTING, at(-600));
    await prod.create(s);
    for (const e of [
      { type: "start-release" as const, candidate: { slot: "green" as const, version: "v2.3.0" }, weight: 10, at: at(-500), by: "pulumi:prod" },
      { type: "promote" as const, rollbackWindowMinutes: 60, at: at(-400), by: "release-driver" },
    ]) {
      const t = applyEvent(s, e);
      if (t.kind !== "applied") throw new Error(t.reason);
      await prod.commit(s.revision, t.state, t.entry);
      s = t.state;
    }
    const w = await promote("--write");
    assert.equal(w.code, 0, w.out + w.err);
    assert.match(w.out, new RegExp(`^ship it: wrote .*payments@sha256:2{64} \\(version v2\\.3\\.1\\) into ${config.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}; commit it and run pulumi up --stack prod`, "m"));
    const text = fs.readFileSync(config, "utf8");
    assert.ok(text.startsWith("# prod: what it runs\n"), "comments kept");
    const payments = ((yaml.load(text) as { config: Record<string, { name: string; stable: string; slots: Record<string, { image: string; version: string }>; candidate?: { weight: number } }[]> }).config["remedy:services"]).find((x) => x.name === "payments");
    assert.equal(payments?.stable, "green", "stable caught up with release state");
    assert.deepEqual(payments?.slots.blue, { image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"2".repeat(64)}`, version: "v2.3.1" }, "into the slot release state calls idle, not config's");
    assert.equal(payments?.slots.green.image, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1", "the live slot untouched");
    assert.equal(payments?.candidate?.weight, 0);
    assert.equal((await runRemedy(["validate", config])).code, 0, "still valid config");
  });

  it("records a failed re-check in staging, which revokes the bundle there until a re-check passes (the soak restarts from it)", async () => {
    assert.equal((await runRemedy(["approve", "payments", bundleId, "--stack", "prod"])).code, 0);
    // Prod's config names another file for v2.3.1 than the schema the bundle was made with.
    const other = path.join(dir, "v2.3.1-other.graphql");
    fs.writeFileSync(other, `${fs.readFileSync(path.join(ROOT, "api/payments/v2.3.1.graphql"), "utf8")}\n# edited\n`);
    const good = fs.readFileSync(config, "utf8");
    fs.writeFileSync(config, good.replace("api/payments/v2.3.1.graphql", other));
    const failed = await promoteAt(T0 - 30 * 60_000);
    assert.equal(failed.code, 1, failed.out);
    assert.match(failed.out, /^ {2}deny {3}rechecks {3}on prod, api: .* is not the schema the bundle was made with/m);
    const staging = new ReleaseStore(new DynamoDBClient({}), "remedy-staging-releases");
    assert.deepEqual((await staging.rechecks("payments", bundleId)).map((r) => [r.passed, r.target]), [[false, "prod"]], "recorded in the source");
    const again = await promoteAt(T0 - 20 * 60_000);
    assert.match(again.out, /^ {2}deny {3}verified {3}.* completed in 0 of the 1 source\(s\) needed; revoked by a failed re-check in acme\/remedy\/staging \(re-check on prod: api: /m);
    assert.equal((await staging.rechecks("payments", bundleId)).length, 1, "the same failure again is not a new record");
    // Fixed: the re-check passes and is recorded; the soak starts again from it, so 60 min are needed again.
    fs.writeFileSync(config, good);
    const fixed = await promoteAt(T0 - 10 * 60_000);
    assert.equal(fixed.code, 4, fixed.out);
    assert.match(fixed.out, /^ {2}wait {3}soak {7}soaking in acme\/remedy\/staging since 2026-12-07T11:50:00\.000Z: 0 of 60 min/m);
    const later = await promote();
    assert.match(later.out, /^ {2}wait {3}soak {7}soaking in acme\/remedy\/staging since 2026-12-07T11:50:00\.000Z: 10 of 60 min; promotable at 2026-12-07T12:50:00\.000Z/m);
    assert.deepEqual((await staging.rechecks("payments", bundleId)).map((r) => r.passed), [false, true]);
    const history = await runRemedy(["history", "payments", "--stack", "staging"]);
    assert.match(history.out, new RegExp(`${bundleId} {2}re-checked on prod: FAILED: api: `));
    assert.match(history.out, new RegExp(`${bundleId} {2}re-checked on prod: passed: database `));
  });

  it("remedy wait --until promotable: sleeps until a gate's time or the interval, records each change once, exits when the bundle may go on", async () => {
    // Staging's soak restarted 10 min ago (an alarm): promotable at +50 min, and it needs an approval.
    alarmHistory = [{ AlarmName: "remedy-staging/payments/green/error-rate", Timestamp: new Date(T0 - 10 * 60_000), HistoryItemType: "StateUpdate", HistoryData: JSON.stringify({ newState: { stateValue: "ALARM", stateReason: "5xx" } }) }];
    let clock = T0;
    const sleeps: number[] = [];
    const out: string[] = [];
    const err: string[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      clock += ms;
      // Someone approves during the second sleep.
      if (sleeps.length === 2) assert.equal((await runRemedy(["approve", "payments", bundleId, "--stack", "prod"])).code, 0);
    };
    const code = await waitCommand(["payments", "--until", "promotable", "--from", "staging", "--to", "prod", "--config", config, "--interval", "1200", "--timeout", "7200"], false, { out: (x) => out.push(x), err: (x) => err.push(x) }, { now: () => clock, sleep, cloudwatch });
    assert.equal(code, 0, out.join("\n") + err.join("\n"));
    // 20 min (the interval, before the soak's end), 20 min, then 10 min to the soak's end at +50;
    // without an approval the decision names no time (one may come at any time).
    assert.deepEqual(sleeps, [1_200_000, 1_200_000, 600_000]);
    assert.deepEqual(out.slice(0, 3).map((l) => l.replace(/: soak: .*$/, ": soak: …")), [
      `12:00:00 payments v2.3.1 (${bundleId}) to prod: WAIT: soak: …`,
      `12:40:00 payments v2.3.1 (${bundleId}) to prod: WAIT until ${at(50)}: soak: …`,
      `12:50:00 payments v2.3.1 (${bundleId}) to prod: ALLOW`,
    ]);
    assert.match(out[0], /approvals: 0 of 1 approval/);
    assert.doesNotMatch(out[1], /approvals/, "the approval came");
    assert.match(out.join("\n"), new RegExp(`^ {2}payments {2}promotable {2}${bundleId} {2}remedy promote-env payments --from staging --to prod --write$`, "m"));
    const decisions = await new ReleaseStore(new DynamoDBClient({}), "remedy-prod-releases").promotionRecords("payments");
    assert.deepEqual(decisions.filter((d) => d.kind === "decision").map((d) => d.text.replace(/ \(held by .*\)$/, "")), ["promote-env from acme/remedy/staging: WAIT", "promote-env from acme/remedy/staging: WAIT until " + at(50), "promote-env from acme/remedy/staging: ALLOW"], "one record per change (not at 12:20, when only the soak's minutes grew)");
  });

  it("remedy wait --until promotable: a refusal ends it with 1; a wait past --timeout with 5", async () => {
    assert.equal((await runRemedy(["block", "payments", bundleId, "--stack", "staging", "--reason", "INC-6002"])).code, 0);
    const run = async (...extra: string[]) => {
      let clock = T0;
      const out: string[] = [];
      const code = await waitCommand(["payments", "--until", "promotable", "--from", "staging", "--to", "prod", "--config", config, ...extra], false, { out: (x) => out.push(x), err: (x) => out.push(x) }, { now: () => clock, sleep: async (ms) => void (clock += ms), cloudwatch });
      return { code, out: out.join("\n") };
    };
    const refused = await run();
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.out, /^ {2}payments {2}refused {5}b-[0-9a-f]{16} {2}remedy promote-env payments --from staging --to prod --explain$/m);
    assert.equal((await runRemedy(["unblock", "payments", bundleId, "--stack", "staging", "--reason", "fixed"])).code, 0);
    const timedOut = await run("--timeout", "120");
    assert.equal(timedOut.code, 5, timedOut.out);
    assert.match(timedOut.out, /TIMED OUT/);
    assert.match((await runRemedy(["wait", "payments", "--until", "promotable", "--to", "prod", "--config", config])).err, /--from <stack> and --to <stack> are required/);
    assert.match((await runRemedy(["wait", "payments", "--from", "staging", "--outputs", "x.json"])).err, /--from is for --until promotable/);
  });

  it("refuses a blocked bundle, and one the target cannot re-check, saying why", async () => {
    assert.equal((await runRemedy(["approve", "payments", bundleId, "--stack", "prod"])).code, 0);
    assert.equal((await runRemedy(["block", "payments", bundleId, "--stack", "staging", "--reason", "INC-6001: refunds double-posted"])).code, 0);
    const blocked = await promote();
    assert.equal(blocked.code, 1);
    assert.match(blocked.out, new RegExp(`^ {2}deny {3}blocked {4}blocked by .* at .*: INC-6001: refunds double-posted; remedy unblock ${bundleId} --reason <text> once it is safe$`, "m"));
    // A block's reason is shown as text: terminal control sequences in it do not reach the terminal (issue 35, 11).
    assert.equal((await runRemedy(["unblock", "payments", bundleId, "--stack", "staging", "--reason", "INC-6001 fixed"])).code, 0);
    assert.equal((await runRemedy(["block", "payments", bundleId, "--stack", "staging", "--reason", "INC-6003 \u001b[2J\u001b]8;;https://evil.example\u0007click"])).code, 0);
    const shown = (await promote()).out;
    assert.ok(!shown.includes("\u001b") && !shown.includes("\u0007"), "nor through promote-env's gate messages");
    assert.match(shown, /^ {2}deny {3}blocked {4}blocked by .*: INC-6003 \?\?click; remedy unblock /m);
    const listed = await runRemedy(["history", "payments", "--stack", "staging"]);
    assert.ok(!listed.out.includes("\u001b") && !listed.out.includes("\u0007"), listed.out);
    assert.match(listed.out, new RegExp(`${bundleId} {2}blocked by .*: INC-6003 \\?\\?click`));
    // Without CloudWatch's percentiles and alarm history (the emulator has neither), there is no evidence: refused, saying so.
    const unmeasured = await runRemedy(["promote-env", "payments", "--from", "staging", "--to", "prod", "--config", config]);
    assert.equal(unmeasured.code, 1, unmeasured.err);
    assert.match(unmeasured.out, /deny {3}evidence {3}acme\/remedy\/staging: its alarm history could not be read \(.*\), so alarms during the soak are unknown; no error-rate and p99 evidence over the soak from any source/);
  });

  it("names usage and configuration problems with exit 2", async () => {
    assert.match((await runRemedy(["promote-env", "payments", "--to", "prod"])).err, /--from <stack> and --to <stack> are required/);
    assert.match((await runRemedy(["promote-env", "payments", "--from", "qa", "--to", "prod", "--config", config])).err, /qa is not a source of prod \(remedy:promotion\.sources: acme\/remedy\/staging\)/);
    assert.match((await runRemedy(["promote-env", "payments", "--from", "qa", "--to", "staging", "--config", path.join(ROOT, "Pulumi.staging.yaml")])).err, /has no remedy:promotion: staging takes nothing from other environments/);
  });

  it("an alarm of the bundle's slot in staging restarts its soak, whether or not it rolled anything back", async () => {
    assert.equal((await runRemedy(["approve", "payments", bundleId, "--stack", "prod"])).code, 0);
    // Page-only, 10 minutes ago: no rollback in the history, but the soak starts again.
    alarmHistory = [
      { AlarmName: "remedy-staging/payments/green/latency-p99", Timestamp: new Date(T0 - 10 * 60_000), HistoryItemType: "StateUpdate", HistoryData: JSON.stringify({ version: "1.0", oldState: { stateValue: "OK" }, newState: { stateValue: "ALARM", stateReason: "Threshold Crossed: p99 0.9 >= 0.8" } }) },
      { AlarmName: "remedy-staging/orders/green/latency-p99", Timestamp: new Date(T0 - 5 * 60_000), HistoryItemType: "StateUpdate", HistoryData: JSON.stringify({ newState: { stateValue: "ALARM" } }) },
    ];
    const w = await promote();
    assert.equal(w.code, 4, "the 230 min before it no longer count");
    assert.match(w.out, new RegExp(`^ {2}wait {3}soak {7}soaking in acme/remedy/staging since ${at(-10).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: 10 of 60 min; promotable at ${at(50).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} if nothing fires$`, "m"));
  });
});
