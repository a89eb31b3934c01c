/**
 * Operators' overrides, server-side (issue 35, 4), against moto: the rollback function's
 * function-URL path records the caller Lambda verified (never one the body names), refuses a
 * request without a verified IAM identity, and `remedy rollback/abort/promote` reach it with a
 * SigV4-signed request. The function URL itself is a loopback stand-in that checks the signature
 * (service lambda, the caller's key) and passes the verified ARN as Lambda does; moto cannot host
 * a function URL.
 */
import { strict as assert } from "node:assert";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Hash } from "@smithy/hash-node";
import { SignatureV4 } from "@smithy/signature-v4";
import { createOverrideHandler, isFunctionUrlEvent } from "../../lambdas/commons/overrides";
import { useMoto } from "../helpers/moto";
import { runRemedy } from "../helpers/cli";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { PREFIX, clients, createWorld, handlerDeps, startProgressive, type World } from "../helpers/rollbackWorld";

const OPERATOR = "arn:aws:sts::123456789012:assumed-role/oncall/ana";
const CREDENTIALS = { accessKeyId: "AKIDOPERATOR", secretAccessKey: "operator-secret" };

/** A function URL request as Lambda delivers it (payload 2.0), with the identity it verified. */
function urlEvent(body: unknown, opts: { method?: string; userArn?: string } = {}) {
  return {
    version: "2.0",
    rawPath: "/",
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { http: { method: opts.method ?? "POST" }, ...(opts.userArn === undefined ? {} : { authorizer: { iam: { userArn: opts.userArn } } }) },
  };
}

describe("lambdas/overrides: operators' rollback, abort and promote through the stack's function URL (issue 35, 4)", function () {
  this.timeout(60_000);
  const suite = useMoto();
  let world: World;
  let override: ReturnType<typeof createOverrideHandler>;
  /** The rollback function's alarm path (CloudWatch's invoke, which moto never makes). */
  let onAlarm: ReturnType<typeof handlerDeps>["handler"];

  beforeEach(async () => {
    world = await createWorld(suite.moto.endpoint, ["payments"]); // v2 on green at 10%
    const h = handlerDeps(suite.moto.endpoint, world.topicArn);
    onAlarm = h.handler;
    const c = clients(suite.moto.endpoint);
    override = createOverrideHandler({ rollback: h.handler, store: world.store, sns: c.sns, topicArn: world.topicArn, drill: { store: world.store, traffic: world.traffic, cloudwatch: c.cw, alarmPrefix: PREFIX } });
  });

  it("rolls back for the caller Lambda verified, recorded and paged as that caller", async () => {
    const r = await override(urlEvent({ action: "rollback", service: "payments", reason: "checkout errors" }, { userArn: OPERATOR }));
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 100, green: 0 });
    const last = (await world.store.history("payments")).at(-1);
    assert.equal(last?.action, "roll-back");
    assert.equal(last?.by, `operator:${OPERATOR}`);
    assert.match((await world.notifications())[0]?.message ?? "", /operator:arn:aws:sts::123456789012:assumed-role\/oncall\/ana/);
  });

  it("refuses a request without a verified IAM identity, a body that names a caller, a GET and a promote of a hand-set release", async () => {
    assert.equal((await override(urlEvent({ action: "rollback", service: "payments", reason: "x" }))).statusCode, 403, "auth type NONE gives no identity");
    assert.equal((await override(urlEvent({ action: "rollback", service: "payments", reason: "x" }, { userArn: "someone" }))).statusCode, 403, "not an ARN");
    const named = await override(urlEvent({ action: "rollback", service: "payments", reason: "x", by: "operator:someone-else" }, { userArn: OPERATOR }));
    assert.equal(named.statusCode, 400);
    assert.match(named.body, /invalid override request: .*by|Unrecognized key/);
    assert.equal((await override(urlEvent({}, { method: "GET", userArn: OPERATOR }))).statusCode, 405);
    const promote = await override(urlEvent({ action: "promote", service: "payments", mode: "step" }, { userArn: OPERATOR }));
    assert.equal(promote.statusCode, 409);
    assert.match(promote.body, /remedy promote applies to a progressive release/);
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 90, green: 10 }, "nothing moved");
    assert.ok(isFunctionUrlEvent(urlEvent({})) && !isFunctionUrlEvent({ source: "aws.cloudwatch", alarmData: {} }));
  });

  describe("remedy rollback / promote through a signing-checking stand-in of the URL", () => {
    let server: http.Server;
    let url: string;
    const seen: string[] = [];
    let saved: NodeJS.ProcessEnv;

    beforeEach(async () => {
      saved = { ...process.env };
      seen.length = 0;
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          void (async () => {
            const body = Buffer.concat(chunks).toString("utf8");
            const auth = String(req.headers.authorization ?? "");
            seen.push(auth);
            // What Lambda checks: a SigV4 signature for service lambda by this key, over this request.
            const signer = new SignatureV4({ service: "lambda", region: "eu-west-1", credentials: CREDENTIALS, sha256: Hash.bind(null, "sha256") });
            const headers = { host: String(req.headers.host), "content-type": String(req.headers["content-type"]) };
            const expected = await signer.sign(
              { method: req.method ?? "POST", protocol: "http:", hostname: "127.0.0.1", port: (server.address() as AddressInfo).port, path: req.url ?? "/", query: {}, headers, body },
              { signingDate: new Date(String(req.headers["x-amz-date"]).replace(/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/, "$1-$2-$3T$4:$5:$6Z")) },
            );
            const ok = auth.includes("Credential=AKIDOPERATOR/") && auth.includes("/eu-west-1/lambda/aws4_request") && auth === expected.headers.authorization;
            const r = ok ? await override(urlEvent(JSON.parse(body), { userArn: OPERATOR })) : { statusCode: 403, body: JSON.stringify({ error: "signature does not match" }) };
            res.writeHead(r.statusCode, { "content-type": "application/json" });
            res.end(r.body);
          })();
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      process.env.AWS_REGION = "eu-west-1";
    });
    afterEach(async () => {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      await new Promise((r) => server.close(r));
    });

    it("rollback: signed for service lambda with the operator's key; the function acts and records the verified caller", async () => {
      const r = await runRemedy(["rollback", "payments", "--reason", "checkout errors", "--stack", "test", "--url", url], { credentials: CREDENTIALS });
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /rolled back payments; blue\/green 100\/0 \(recorded as operator:arn:aws:sts::123456789012:assumed-role\/oncall\/ana\)/);
      assert.equal(seen.length, 1);
      assert.match(seen[0], /^AWS4-HMAC-SHA256 Credential=AKIDOPERATOR\/\d{8}\/eu-west-1\/lambda\/aws4_request/);
      assert.equal((await world.store.history("payments")).at(-1)?.by, `operator:${OPERATOR}`);
    });

    it("drill: the function forces the alarm and restores the release with its own role; the operator only calls the URL and reads (issue 35, 4)", async () => {
      // Act: moto fires no alarm actions, so the test delivers the event CloudWatch would send.
      const r = await runRemedy(["drill", "payments", "--stack", "test", "--timeout", "10", "--json", "--url", url], {
        credentials: CREDENTIALS,
        afterAlarm: async (alarm: Parameters<typeof alarmActionEvent>[0]) => void (await onAlarm(alarmActionEvent(alarm))),
      });

      // Assess: flipped and restored, both steps signed requests to the URL.
      assert.equal(r.code, 0, r.err);
      const result = JSON.parse(r.out) as { flipped: boolean; restored: boolean; alarm: string };
      assert.deepEqual([result.flipped, result.restored, result.alarm], [true, true, "remedy-test/payments/green/error-rate"]);
      assert.equal(seen.length, 2, "drill and drill-restore");
      assert.ok(seen.every((a) => a.includes("Credential=AKIDOPERATOR/")));
      assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 90, green: 10 });
      const history = (await world.store.history("payments")).slice(-2).map((e) => [e.action, e.by]);
      assert.deepEqual(history, [
        ["roll-back", "remedy-test/payments/green/error-rate"],
        ["resume-after-drill", `operator:${OPERATOR} (drill restore)`],
      ]);
      const alarm = (await clients(suite.moto.endpoint).cw.send(new DescribeAlarmsCommand({ AlarmNames: [result.alarm] }))).MetricAlarms?.[0];
      assert.equal(alarm?.StateValue, "OK");
      assert.match(alarm?.StateReason ?? "", /^remedy drill by operator:arn:aws:sts::123456789012:assumed-role\/oncall\/ana: restored by operator:arn:aws:sts::123456789012:assumed-role\/oncall\/ana$/);

      // A restore with no drill running, and a drill of a service without a live candidate, are refused.
      const again = await override(urlEvent({ action: "drill-restore", service: "payments" }, { userArn: OPERATOR }));
      assert.equal(again.statusCode, 409);
      assert.match(again.body, /no drill of payments is running/);
      await override(urlEvent({ action: "rollback", service: "payments", reason: "make it stable" }, { userArn: OPERATOR }));
      const stable = await runRemedy(["drill", "payments", "--stack", "test", "--url", url], { credentials: CREDENTIALS });
      assert.equal(stable.code, 1);
      assert.match(stable.err, /remedy drill: refused: payments has no candidate receiving traffic \(phase rolled-back\); --allow-stable/);
    });

    it("promote: a refusal is exit 1 with the function's reason; a URL that is not a function URL is refused before any call", async () => {
      await startProgressive(world, "payments", new Date(Date.now() - 60_000).toISOString());
      const refused = await runRemedy(["abort", "payments", "--reason", "wrong build", "--stack", "test", "--url", url], { credentials: CREDENTIALS });
      assert.equal(refused.code, 1, `${refused.out}\n${refused.err}`);
      assert.match(refused.err, /remedy abort: refused: nothing to roll back/);
      const promoted = await runRemedy(["promote", "payments", "--stack", "test", "--url", url], { credentials: CREDENTIALS });
      assert.equal(promoted.code, 0, promoted.err);
      assert.match(promoted.out, /payments: promotion requested \(past the current pause\).*recorded as operator:/);
      const bad = await runRemedy(["promote", "payments", "--stack", "test", "--url", "https://evil.example/"], { credentials: CREDENTIALS });
      assert.equal(bad.code, 2);
      assert.match(bad.err, /is not a Lambda function URL/);
      assert.equal(seen.length, 2, "nothing was sent to the bad URL");
    });
  });
});
