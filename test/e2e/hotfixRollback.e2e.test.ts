/**
 * A hotfix release on prod is rolled back automatically like any other: the prod program, in
 * hotfix release mode, deployed into moto; the hotfix goes straight to 100%; its alarm fires;
 * the deployed rollback bundle puts 100% back on the stable version; the next `up` holds.
 */
import { strict as assert } from "node:assert";
import { CloudWatchClient, DescribeAlarmsCommand, SetAlarmStateCommand } from "@aws-sdk/client-cloudwatch";
import * as path from "node:path";
import { createAwsMocks } from "../../cli/rehearsal/awsMocks";
import { createNetwork } from "../../cli/rehearsal/moto";
import { REHEARSAL_REGION, loadDeployedHandler, pulumiUp, rehearsalConfig, type Harness } from "../../cli/rehearsal/rehearse";
import { checkHotfixReleases, parseStackConfig } from "../../core/config";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { Traffic } from "../../lambdas/commons/traffic";
import { alarmActionEvent } from "../helpers/alarmEvents";
import { startMoto, motoEnv, type MotoServer } from "../helpers/moto";
import { installMocks } from "../helpers/pulumiMocks";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const HOTFIX_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1-hotfix.1@sha256:56c43f791317df527fb158ed72512f4abd6b88efdcf61ce1311494d5b4bd886f";

describe("e2e: a hotfix release on prod rolls back automatically (moto)", function () {
  this.timeout(120_000);
  let moto: MotoServer;
  const saved = { ...process.env };

  before(async () => {
    moto = await startMoto();
    Object.assign(process.env, motoEnv(moto.endpoint, REHEARSAL_REGION));
  });
  after(async () => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await moto?.stop();
    await installMocks("prod");
  });

  it("ships the hotfix at 100%, rolls it back on its alarm, and holds it on the next up", async () => {
    // Prepare: prod's config in hotfix mode for payments, checked as the program checks it.
    const cfg = { endpoint: moto.endpoint, region: REHEARSAL_REGION };
    const { vpcId, subnetIds: subnets } = await createNetwork(moto.endpoint, REHEARSAL_REGION);
    const config = rehearsalConfig(path.resolve(__dirname, "..", ".."), vpcId, subnets, HOTFIX_IMAGE) as Obj;
    const payments = (config.services as Obj[])[0];
    delete payments.candidate;
    payments.hotfix = { reason: "INC-4711: card payments fail for EUR", expires: new Date(Date.now() + 6 * 3_600_000).toISOString() };
    config.hotfixStack = "organization/remedy/hotfix";
    checkHotfixReleases(parseStackConfig(config), { payments: HOTFIX_IMAGE }, new Date().toISOString());
    const h: Harness = { aws: createAwsMocks(moto.endpoint, REHEARSAL_REGION), warnings: [] };
    const store = new ReleaseStore(new DynamoDBClient(cfg), "remedy-prod-releases");
    const traffic = new Traffic(new ElasticLoadBalancingV2Client(cfg));
    const weights = async () => {
      const s = await store.get("payments");
      if (!s) throw new Error("no release state");
      return traffic.currentWeights(s.routing);
    };

    // Act 1: pulumi up with the hotfix.
    await pulumiUp(h, config);
    // Assess: straight to 100%, recorded as a hotfix.
    assert.deepEqual(await weights(), { blue: 0, green: 100 });
    const history = await store.history("payments");
    assert.match(history.at(-1)?.summary ?? "", /^HOTFIX release v2\.3\.1-hotfix\.1 \(green\) at 100%; stable v2\.3\.0 \(blue\); reason: INC-4711/);

    // Act 2: the hotfix misbehaves; CloudWatch invokes the deployed rollback Lambda.
    const cw = new CloudWatchClient(cfg);
    const name = "remedy-prod/payments/green/error-rate";
    await cw.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: "ALARM", StateReason: "Threshold Crossed: 5xx rate 40.0 >= 2.0" }));
    const alarm = (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms?.[0];
    if (!alarm) throw new Error("alarm not deployed");
    const handler = await loadDeployedHandler(h.aws, moto.endpoint);
    const result = await handler(alarmActionEvent(alarm), {});
    // Assess: all traffic back on the stable version.
    assert.equal(result.outcome, "rolled-back", JSON.stringify(result));
    assert.deepEqual(await weights(), { blue: 100, green: 0 });
    const state = await store.get("payments");
    assert.equal(state?.phase, "rolled-back");
    assert.equal(state?.lastRollback?.fromVersion, "v2.3.1-hotfix.1");

    // Act 3: the same config again.
    h.warnings.length = 0;
    await pulumiUp(h, config);
    // Assess: the hold applies to hotfixes too.
    assert.deepEqual(await weights(), { blue: 100, green: 0 });
    assert.ok(h.warnings.some((w) => w.startsWith("service payments: candidate v2.3.1-hotfix.1 was rolled back")), h.warnings.join("\n"));
  });
});
