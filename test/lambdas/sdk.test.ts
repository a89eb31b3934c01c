import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { Readable } from "node:stream";
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { describeAlarm } from "../../lambdas/commons/alarmState";
import { publishNotice } from "../../lambdas/commons/notify";
import { LAMBDA_SDK_CONFIG, LambdaConnections } from "../../lambdas/commons/sdk";

const BODY =
  '<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><DescribeTargetHealthResult><TargetHealthDescriptions><member><Target><Id>10.0.1.4</Id><Port>8080</Port></Target><TargetHealth><State>healthy</State></TargetHealth></member></TargetHealthDescriptions></DescribeTargetHealthResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></DescribeTargetHealthResponse>';

/** An HTTP handler answering every request with BODY, no network. */
const cannedHandler = {
  handle: async () => ({ response: { statusCode: 200, reason: "OK", headers: { "content-type": "text/xml" }, body: Readable.from([Buffer.from(BODY)]) } }),
  updateHttpClientConfig: () => undefined,
  httpHandlerConfigs: () => ({}),
};

/** An HTTP handler answering every request with a 500, no network. */
const failingHandler = {
  handle: async () => ({ response: { statusCode: 500, reason: "Internal", headers: {}, body: Readable.from([Buffer.from("")]) } }),
  updateHttpClientConfig: () => undefined,
  httpHandlerConfigs: () => ({}),
};

describe("lambdas/commons/sdk: the Lambdas' SDK client settings", () => {
  const TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-blue-1a2b3c4d/0123456789abcdef";

  /** Runs `body` counting how often the SDK resolves `Command`'s middleware stack. */
  async function countingResolutions<T>(Command: { prototype: { resolveMiddleware: (...args: never[]) => unknown } }, body: (count: () => number) => Promise<T>): Promise<T> {
    const original = Command.prototype.resolveMiddleware;
    let count = 0;
    Command.prototype.resolveMiddleware = function (this: unknown, ...args: never[]) {
      count++;
      return original.apply(this, args);
    };
    try {
      return await body(() => count);
    } finally {
      Command.prototype.resolveMiddleware = original;
    }
  }

  /** Middleware stack resolutions over three sends of one command class. */
  function resolutions(config: Record<string, unknown>): Promise<{ count: number; states: (string | undefined)[] }> {
    const client = new ElasticLoadBalancingV2Client({ ...config, region: "eu-west-1", credentials: { accessKeyId: "a", secretAccessKey: "b" }, requestHandler: cannedHandler });
    return countingResolutions(DescribeTargetHealthCommand, async (count) => {
      const states: (string | undefined)[] = [];
      for (let i = 0; i < 3; i++) {
        const out = await client.send(new DescribeTargetHealthCommand({ TargetGroupArn: TG }));
        states.push(out.TargetHealthDescriptions?.[0]?.TargetHealth?.State);
      }
      return { count: count(), states };
    });
  }

  it("resolves a command's middleware once per client instead of on every request, with the same answers", async () => {
    const cached = await resolutions(LAMBDA_SDK_CONFIG);
    const uncached = await resolutions({});
    assert.equal(cached.count, 1);
    assert.equal(uncached.count, 3, "the SDK's default, for contrast: the check above is not vacuous");
    assert.deepEqual(cached.states, ["healthy", "healthy", "healthy"]);
    assert.deepEqual(cached.states, uncached.states);
  });

  it("is not defeated on the rollback path: confirming an alarm without a deadline reuses the resolved middleware", async () => {
    const cw = new CloudWatchClient({ ...LAMBDA_SDK_CONFIG, region: "eu-west-1", maxAttempts: 1, credentials: { accessKeyId: "a", secretAccessKey: "b" }, requestHandler: failingHandler });
    await countingResolutions(DescribeAlarmsCommand, async (count) => {
      for (let i = 0; i < 3; i++) await assert.rejects(describeAlarm(cw, "remedy-prod/payments/green/error-rate"));
      assert.equal(count(), 1, "an empty options object would make the SDK resolve the middleware on every send");
      // With a deadline the options are needed, and the SDK resolves anew.
      await assert.rejects(describeAlarm(cw, "remedy-prod/payments/green/error-rate", AbortSignal.timeout(60_000)));
      assert.equal(count(), 2);
    });
  });

  it("is not defeated for notifications either: a publish without a deadline reuses the resolved middleware", async () => {
    const sns = new SNSClient({ ...LAMBDA_SDK_CONFIG, region: "eu-west-1", maxAttempts: 1, credentials: { accessKeyId: "a", secretAccessKey: "b" }, requestHandler: failingHandler });
    const notice = { subject: "remedy: payments rolled back to 2.3.0", lines: ["rolled back"], attributes: { service: "payments", event: "rolled-back" } };
    await countingResolutions(PublishCommand, async (count) => {
      for (let i = 0; i < 3; i++) await assert.rejects(publishNotice(sns, "arn:aws:sns:eu-west-1:123456789012:remedy", notice));
      assert.equal(count(), 1);
    });
  });

  it("is what every client the Lambda entry points create is built with, over connections dropped when idle", () => {
    const dir = path.join(__dirname, "..", "..", "lambdas");
    const entries = fs.readdirSync(dir).filter((f) => f.endsWith(".ts"));
    const files = [...entries.map((f) => path.join(dir, f)), ...fs.readdirSync(path.join(dir, "commons")).map((f) => path.join(dir, "commons", f))].filter((f) => f.endsWith(".ts"));
    const constructions = files.flatMap((f) => {
      const text = fs.readFileSync(f, "utf8");
      return [...text.matchAll(/new (\w+Client)\(([^)]*)\)/g)].map((m) => ({ file: path.basename(f), client: m[1], arg: m[2] }));
    });
    assert.ok(constructions.length >= 10, `found ${constructions.length} client constructions`);
    // `sdk` is each entry's `connections.clientConfig(...)`, checked below.
    assert.deepEqual(
      constructions.filter((c) => !["LAMBDA_SDK_CONFIG", "sdk"].includes(c.arg) && !/^connections\.clientConfig\(/.test(c.arg)),
      [],
    );
    for (const entry of entries) {
      const text = fs.readFileSync(path.join(dir, entry), "utf8");
      if (!/new \w+Client\(/.test(text)) continue;
      assert.match(text, /const connections = new LambdaConnections\(\);/, entry);
      if (/new \w+Client\(sdk\)/.test(text)) assert.match(text, /const sdk = connections\.clientConfig\(/, entry);
      assert.match(text, /connections\.beforeInvocation\(\);[\s\S]*finally \{\s*connections\.afterInvocation\(\);/, `${entry} marks each invocation's start and end`);
    }
  });
});

/**
 * A stand-in for an endpoint (or NAT) that closed a connection while the Lambda was frozen: the
 * client learns it only when it writes the next request on it, which is reset. Serves
 * DescribeTargetHealth; resets a request that arrives on a connection idle `resetAfterMs` or more.
 */
async function endpointDroppingIdleConnections(resetAfterMs: number) {
  const lastAnswered = new WeakMap<object, number>();
  const seen = { connections: 0, resets: 0, answered: 0 };
  const server = http.createServer((req, res) => {
    const last = lastAnswered.get(req.socket);
    if (last !== undefined && Date.now() - last >= resetAfterMs) {
      seen.resets++;
      req.socket.resetAndDestroy();
      return;
    }
    req.resume();
    req.on("end", () => {
      seen.answered++;
      res.writeHead(200, { "content-type": "text/xml", "content-length": Buffer.byteLength(BODY) });
      res.end(BODY, () => lastAnswered.set(req.socket, Date.now()));
    });
  });
  server.on("connection", () => seen.connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("lambdas/commons/sdk: LambdaConnections", function () {
  this.timeout(30_000);
  const TG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-blue-1a2b3c4d/0123456789abcdef";
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** One invocation: two side-by-side reads, as the rollback's first round makes on ELB. */
  async function invocation(connections: LambdaConnections, elb: ElasticLoadBalancingV2Client) {
    const closed = connections.beforeInvocation();
    try {
      const outs = await Promise.all([0, 1].map(() => elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: TG }))));
      return { closed, attempts: outs.map((o) => o.$metadata.attempts), states: outs.map((o) => o.TargetHealthDescriptions?.[0]?.TargetHealth?.State) };
    } finally {
      connections.afterInvocation();
    }
  }

  function client(connections: LambdaConnections, endpoint: string) {
    return new ElasticLoadBalancingV2Client(connections.clientConfig({ endpoint, region: "eu-west-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } }));
  }

  it("opens fresh connections after a long idle instead of writing to ones the endpoint dropped (no reset, no retry)", async () => {
    const ep = await endpointDroppingIdleConnections(150);
    const connections = new LambdaConnections(50);
    try {
      const elb = client(connections, ep.endpoint);
      const first = await invocation(connections, elb);
      assert.deepEqual(first, { closed: 0, attempts: [1, 1], states: ["healthy", "healthy"] });
      await pause(400); // frozen between invocations, longer than both idle limits
      const second = await invocation(connections, elb);
      assert.equal(second.closed, 2, "the two pooled connections were closed");
      assert.deepEqual(second.attempts, [1, 1], "no request needed a retry");
      assert.equal(ep.seen.resets, 0);
      assert.equal(ep.seen.connections, 4);
    } finally {
      connections.httpAgent.destroy();
      await ep.close();
    }
  });

  it("without that, the same idle costs a reset and the SDK's retry (what it guards against)", async () => {
    const ep = await endpointDroppingIdleConnections(150);
    const connections = new LambdaConnections(60_000); // never idle long enough to close
    try {
      const elb = client(connections, ep.endpoint);
      await invocation(connections, elb);
      await pause(400);
      const second = await invocation(connections, elb);
      assert.equal(second.closed, 0);
      assert.ok(ep.seen.resets >= 1, `resets: ${ep.seen.resets}`);
      assert.ok(second.attempts.some((a) => (a ?? 1) > 1), `attempts: ${second.attempts.join(", ")}`);
      assert.deepEqual(second.states, ["healthy", "healthy"], "the retry still gets the answer, later");
    } finally {
      connections.httpAgent.destroy();
      await ep.close();
    }
  });

  it("keeps the connections of invocations close together", async () => {
    const ep = await endpointDroppingIdleConnections(60_000);
    const connections = new LambdaConnections(60_000);
    try {
      const elb = client(connections, ep.endpoint);
      for (let i = 0; i < 3; i++) assert.equal((await invocation(connections, elb)).closed, 0);
      assert.equal(ep.seen.connections, 2, "two connections for three invocations of two side-by-side reads");
      assert.equal(ep.seen.answered, 6);
    } finally {
      connections.httpAgent.destroy();
      await ep.close();
    }
  });

  it("measures idleness from the end of the last invocation, not its start", () => {
    let now = 0;
    const connections = new LambdaConnections(1_000, () => now);
    assert.equal(connections.beforeInvocation(), 0, "a first invocation has nothing to close");
    now = 5_000; // a long invocation
    connections.afterInvocation();
    now = 5_900;
    assert.equal(connections.beforeInvocation(), 0, "900 ms idle: kept (nothing pooled here either way)");
    assert.deepEqual(connections.clientConfig({ maxAttempts: 5 }), { cacheMiddleware: true, requestHandler: { httpAgent: connections.httpAgent, httpsAgent: connections.httpsAgent }, maxAttempts: 5 });
  });
});
