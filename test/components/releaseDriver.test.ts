import { strict as assert } from "node:assert";
import { ReleaseDriver, releaseDriverPolicy } from "../../components/rollback/releaseDriver";
import { MOCK_ACCOUNT, MOCK_REGION, archiveFile, one, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const base = {
  alarmNamePrefix: "remedy-prod",
  tableName: "remedy-prod-releases",
  tableArn: `arn:aws:dynamodb:${MOCK_REGION}:${MOCK_ACCOUNT}:table/remedy-prod-releases`,
};

describe("components/rollback: ReleaseDriver services it steps and services it only watches", () => {
  it("writes both lists into its code package: stepped services, and manual-weight ones it only watches", async () => {
    new ReleaseDriver("release-driver", { ...base, services: ["payments"], watchServices: ["orders", "search"] });
    await settle();
    const code = (one("aws:lambda/function:Function", "release-driver").inputs as Obj).code as Obj;
    assert.deepEqual(JSON.parse(await archiveFile(code, "driver.json")), { services: ["payments"], watch: ["orders", "search"] });
  });

  it("may exist for watched services alone, and leaves `watch` out when there are none", async () => {
    new ReleaseDriver("watch-only", { ...base, services: [], watchServices: ["orders"] });
    new ReleaseDriver("steps-only", { ...base, services: ["payments"] });
    new ReleaseDriver("lanes-only", { ...base, services: [], laneServices: ["payments"] });
    await settle();
    const file = async (name: string) => JSON.parse(await archiveFile((one("aws:lambda/function:Function", name).inputs as Obj).code as Obj, "driver.json")) as Obj;
    assert.deepEqual(await file("watch-only"), { services: [], watch: ["orders"] });
    assert.deepEqual(await file("steps-only"), { services: ["payments"] });
    assert.deepEqual(await file("lanes-only"), { services: [], lanes: ["payments"] }, "a stack whose only work is keeping legacy lanes (issue 37)");
  });

  it("may read the table's items (Query) for legacy lanes' evidence even without notifications (issue 37)", () => {
    const base = { rules: "arn:aws:elasticloadbalancing:*:123456789012:listener-rule/app/*", scope: "remedy-prod", table: "arn:aws:dynamodb:eu-west-1:123456789012:table/remedy-prod-releases", logs: "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/d", alarms: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:remedy-prod/*" };
    const queries = (p: ReturnType<typeof releaseDriverPolicy>) => p.Statement.filter((st) => (st.Action as string[]).includes("dynamodb:Query")).map((st) => st.Sid);
    assert.deepEqual(queries(releaseDriverPolicy({ ...base, lanes: true })), ["LaneEvidence"]);
    assert.deepEqual(queries(releaseDriverPolicy(base)), [], "no lanes, no notifications: no Query");
  });

  it("refuses nothing to do, and a service named in both lists, naming the arg", () => {
    assert.throws(() => new ReleaseDriver("none", { ...base, services: [] }), /`services`: name at least one progressive service to drive \(or one in `watchServices` to watch, or in `laneServices` whose legacy lanes to keep\)/);
    assert.throws(() => new ReleaseDriver("both", { ...base, services: ["payments"], watchServices: ["payments"] }), /`watchServices`: payments is already driven \(`services`\); name each service once/);
  });
});
