import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { describeAlarm } from "../../lambdas/commons/alarmState";
import { LAMBDA_SDK_CONFIG } from "../../lambdas/commons/sdk";

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

  it("is what every client the Lambda entry points create is built with", () => {
    const dir = path.join(__dirname, "..", "..", "lambdas");
    const files = [...fs.readdirSync(dir).map((f) => path.join(dir, f)), ...fs.readdirSync(path.join(dir, "commons")).map((f) => path.join(dir, "commons", f))].filter((f) => f.endsWith(".ts"));
    const constructions = files.flatMap((f) => {
      const text = fs.readFileSync(f, "utf8");
      // `sdk` is the release driver's settings, built from LAMBDA_SDK_CONFIG (checked below).
      return [...text.matchAll(/new (\w+Client)\(([^)]*)\)/g)].map((m) => ({ file: path.basename(f), client: m[1], arg: m[2] }));
    });
    assert.ok(constructions.length >= 10, `found ${constructions.length} client constructions`);
    assert.deepEqual(
      constructions.filter((c) => c.arg !== "LAMBDA_SDK_CONFIG" && c.arg !== "sdk"),
      [],
    );
    assert.match(fs.readFileSync(path.join(dir, "releaseDriver.ts"), "utf8"), /const sdk = \{ \.\.\.LAMBDA_SDK_CONFIG,/);
  });
});
