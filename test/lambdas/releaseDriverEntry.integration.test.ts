/**
 * The release driver as Lambda runs it: the esbuild bundle of `lambdas/releaseDriver.ts`, loaded
 * from a file with only its environment (as the ReleaseDriver component sets it, plus
 * AWS_ENDPOINT_URL pointing at moto), invoked with an EventBridge scheduled event and a Lambda
 * context. Shows what only the entry decides: ticks are timed from the event's `time`, and a
 * service whose tick failed makes the invocation fail (the Errors metric the paging alarm watches)
 * after the other services had their turn.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Context } from "aws-lambda";
import { bundleLambda } from "../../components/rollback/bundle";
import { useMotoBehindProxy } from "../helpers/faultProxy";
import { PREFIX, REGION, TABLE, createWorld, startProgressive, type World } from "../helpers/rollbackWorld";

type Handler = (event: unknown, context: Context) => Promise<{ service: string; decision: string; reason: string }[]>;

/** A Lambda context as the runtime passes it, with `ms` left in the invocation. */
function lambdaContext(ms: number): Context {
  const started = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "remedy-test-release-driver",
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:remedy-test-release-driver`,
    memoryLimitInMB: "256",
    awsRequestId: "5d1f0c1e-6a84-4c1d-9a8e-2f0b9a8c7e61",
    logGroupName: "/aws/lambda/remedy-test-release-driver",
    logStreamName: "2026/12/02/[$LATEST]0123456789abcdef",
    getRemainingTimeInMillis: () => ms - (Date.now() - started),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

describe("lambdas/releaseDriver: the bundled entry, invoked as Lambda does, against moto_server", function () {
  this.timeout(120_000);
  const env = useMotoBehindProxy();
  let world: World;
  let dir: string;
  let handler: Handler;
  const saved: Record<string, string | undefined> = {};
  const vars = (endpoint: string): Record<string, string> => ({
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    RELEASE_TABLE: TABLE,
    ALARM_PREFIX: PREFIX,
    POWERTOOLS_SERVICE_NAME: "remedy-release-driver",
    POWERTOOLS_LOG_LEVEL: "CRITICAL",
  });

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-driver-"));
    fs.writeFileSync(path.join(dir, "index.js"), bundleLambda("releaseDriver").code);
    // As the ReleaseDriver component packages it: the service list next to index.js.
    fs.writeFileSync(path.join(dir, "driver.json"), JSON.stringify({ services: ["orders", "payments"] }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  beforeEach(async () => {
    // Recorded an hour ago, before the release the test starts 10 minutes ago: history never goes back in time.
    world = await createWorld(env.moto.endpoint, ["orders", "payments"], 10, { recordedAt: Date.now() - 3_600_000 });
    // The module reads its environment once, at cold start: a fresh load per test.
    for (const [k, v] of Object.entries(vars(env.moto.endpoint))) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    const file = path.join(dir, "index.js");
    delete require.cache[file];
    handler = (require(file) as { handler: Handler }).handler;
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it("times the step from the schedule's time, and fails the invocation naming the service whose tick failed, after the others ran", async () => {
    // Prepare: both services start a canary 10 minutes ago; orders' record names a rule that does not exist.
    const scheduled = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const started = new Date(scheduled.getTime() - 10 * 60_000).toISOString();
    await startProgressive(world, "payments", started);
    const orders = await startProgressive(world, "orders", started);
    const missingRule = orders.routing.ruleArn.replace(/\/[0-9a-f]+$/, "/0123456789abcdef");
    await world.store.commit(orders.revision, { ...orders, revision: orders.revision + 1, routing: { ...orders.routing, ruleArn: missingRule } }, { service: "orders", revision: orders.revision + 1, at: started, by: "test", action: "update-routing", releaseId: orders.releaseId, summary: "a rule that is gone", weights: orders.weights });
    const event = { version: "0", id: "1b8f6c5e", "detail-type": "Scheduled Event", source: "aws.events", account: "123456789012", time: scheduled.toISOString().replace(/\.\d{3}Z$/, "Z"), region: REGION, resources: [], detail: {} };

    // Act
    // 15 s left: the failing service's tick runs until the budget ends (it takes what it is given).
    const invocation = handler(event, lambdaContext(15_000));

    // Assess: the invocation fails, naming orders and why...
    await assert.rejects(invocation, /^Error: release driver tick failed for orders \(failed: .*\)$/);
    // ...and payments moved all the same, its step recorded at the scheduled minute.
    assert.deepEqual(await world.traffic.currentWeights(world.services.payments.routing), { blue: 90, green: 10 });
    const step = (await world.store.history("payments")).find((h) => h.action === "advance-step");
    assert.equal(step?.at, scheduled.toISOString());
    assert.equal((await world.store.get("orders"))?.progress?.stepIndex, -1, "nothing recorded for the failed service");
  });
});
