/**
 * The migration gate and the migration Job in the program: `stacks/index.ts` under mocks with
 * Pulumi.prod.yaml plus `remedy:database`, using the shipped plan migrations/0001-rename-payments-amount.
 */
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { MigrationGateError } from "../../stacks/main";
import { setReleaseBackendFactory } from "../../stacks/releases";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { lane, stackYaml } from "../helpers/fixtures";
import { runStackEntry } from "../helpers/stackProgram";
import { validateK8sObject } from "../helpers/k8sSchema";
import { npxProblem } from "../../core/config/stack";
import { T, installMocks, ofType, one, recorded, settle, stackReferenceOutputs } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PLAN = "0001-rename-payments-amount";
const JOB = {
  image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/remedy:0.1.0",
  namespace: "payments",
  databaseUrlSecret: { name: "payments-db", key: "url" },
  checkDatabaseUrlSecret: { name: "payments-db-check", key: "url" },
};

function prod(database: Obj, uses: Record<string, string[]>): Record<string, unknown> {
  const config = structuredClone(stackYaml("prod")) as Obj;
  (config["remedy:services"] as Obj[])[0].database = { uses };
  return { ...config, "remedy:database": database };
}

describe("stacks: the migration gate and migration Job", () => {
  let restore: () => void;
  before(async () => {
    await installMocks("prod");
    restore = setReleaseBackendFactory(() => new MemoryReleaseBackend());
  });
  after(() => {
    restore();
    pulumi.runtime.setAllConfig({});
  });

  async function run(config: Record<string, unknown>): Promise<void> {
    recorded.resources.length = 0;
    await runStackEntry(config);
    await settle();
  }

  const old = ["payments.id", "payments.amount"];
  const renamed = ["payments.id", "payments.amount_minor"];

  it("never lets npx fetch remedy from the registry at run time: the defaults pass --no-install, a configured plain npx is refused", async () => {
    // Prepare: an image without a local remedy would make `npx remedy` install the public package
    // of that name and run it with DATABASE_URL in its environment.
    const plain = { ...JOB, command: ["npx", "remedy", "migrate", "apply"], checkCommand: ["/usr/local/bin/npx", "-y", "remedy", "migrate", "check"] };
    // Act + Assess
    await assert.rejects(
      run(prod({ run: { plan: PLAN, phase: "expand" }, job: plain }, { "v2.3.0": old, "v2.3.1": old })),
      (err: Error) =>
        /database\.job\.command: \["npx","remedy","migrate","apply"\] lets npx install or run a package from the registry or its cache at run time \(with DATABASE_URL in its environment\) when the image has none; call the installed entry point/.test(err.message) &&
        /database\.job\.checkCommand: /.test(err.message),
    );
    assert.equal(ofType("kubernetes:batch/v1:Job").length, 0, "nothing built");
    // The installed entry point, or npx --no-install, is accepted.
    await run(prod({ run: { plan: PLAN, phase: "expand" }, job: { ...JOB, command: ["remedy", "migrate", "apply"], checkCommand: ["npx", "--no-install", "remedy", "migrate", "check"] } }, { "v2.3.0": old, "v2.3.1": old }));
    assert.deepEqual(((one("kubernetes:batch/v1:Job", "migrate").inputs as Obj).spec.template.spec.containers[0] as Obj).command.slice(0, 3), ["remedy", "migrate", "apply"]);
  });

  it("accepts npx only with --no-install (or --no) before the package: after it, --offline or -y is refused (issue 35, 16)", () => {
    const bad = [
      ["npx", "remedy", "--no-install", "migrate", "apply"],
      ["npx", "--offline", "remedy", "migrate", "apply"],
      ["npx", "-y", "--no-install", "remedy", "migrate", "apply"],
      ["/usr/bin/npx", "remedy", "migrate", "apply"],
    ];
    for (const cmd of bad) assert.ok(npxProblem(cmd), JSON.stringify(cmd));
    assert.match(npxProblem(["npx", "remedy", "--no-install", "migrate"]) ?? "", /--no-install after the package name is the package's argument, not npx's/);
    for (const cmd of [["npx", "--no-install", "remedy", "migrate", "apply"], ["npx", "--no", "remedy", "migrate"], ["remedy", "migrate"], ["node_modules/.bin/remedy", "migrate"]]) assert.equal(npxProblem(cmd), undefined, JSON.stringify(cmd));
  });

  it("refuses a schema gate without its own read-only credential, or with the migration's, naming the grants", async () => {
    const { checkDatabaseUrlSecret: _omit, ...noCheck } = JOB;
    void _omit;
    await assert.rejects(
      run(prod({ run: { plan: PLAN, phase: "expand" }, job: noCheck }, { "v2.3.0": old, "v2.3.1": old })),
      /database\.job\.checkDatabaseUrlSecret: required: the Secret \{ name, key \} holding a read-only DATABASE_URL .*GRANT CONNECT ON DATABASE <db>, GRANT USAGE ON SCHEMA public, GRANT SELECT ON remedy_migrations/,
    );
    await assert.rejects(
      run(prod({ run: { plan: PLAN, phase: "expand" }, job: { ...JOB, checkDatabaseUrlSecret: JOB.databaseUrlSecret } }, { "v2.3.0": old, "v2.3.1": old })),
      /database\.job\.checkDatabaseUrlSecret: is the migration's own credential \(payments-db\/url\)/,
    );
  });

  it("runs the expand phase as a Job before the releases, with the database URL from a Secret", async () => {
    await run(prod({ run: { plan: PLAN, phase: "expand" }, job: JOB }, { "v2.3.0": old, "v2.3.1": old }));
    const job = one("kubernetes:batch/v1:Job", "migrate");
    validateK8sObject(job);
    const spec = (job.inputs as Obj).spec;
    assert.equal((job.inputs as Obj).metadata.name, "migrate-0001-rename-payments-amount-expand");
    assert.equal(spec.backoffLimit, 0);
    const container = spec.template.spec.containers[0];
    assert.deepEqual(container.command, ["node_modules/.bin/remedy", "migrate", "apply", PLAN, "expand"]);
    assert.deepEqual(container.env[0], { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "payments-db", key: "url" } } });
    assert.deepEqual(spec.template.spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    assert.deepEqual(container.securityContext, { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } });
    assert.equal(ofType("remedy:database:MigrationJob").length, 1);
    // Pulumi waits as long as Kubernetes lets the Job run (3600 s) plus scheduling, not its default 10 minutes.
    assert.equal(spec.activeDeadlineSeconds, 3600);
    assert.deepEqual(job.options.customTimeouts, { create: "70m", update: "70m", delete: "" });
    assert.match(job.provider ?? "", /::pulumi:providers:kubernetes::cluster::/, "on the stack's explicit cluster provider");
  });

  it("refuses a candidate that needs a column whose expand phase has not run", async () => {
    await assert.rejects(run(prod({}, { "v2.3.0": old, "v2.3.1": renamed })), (err: Error) => {
      assert.ok(err instanceof MigrationGateError, String(err));
      assert.match(err.message, /payments v2\.3\.1 \(candidate\) uses payments\.amount_minor, which 0001-rename-payments-amount adds in its expand phase, not applied yet; run that phase first \(database\.run\)/);
      return true;
    });
    assert.deepEqual(recorded.resources.filter((r) => !r.type.startsWith("remedy:")), [], "nothing deployed");
    // Running the expand is not enough: existing rows read NULL until the backfill has run.
    await assert.rejects(
      run(prod({ run: { plan: PLAN, phase: "expand" }, job: JOB }, { "v2.3.0": old, "v2.3.1": renamed })),
      /payments v2\.3\.1 \(candidate\) uses payments\.amount_minor, which 0001-rename-payments-amount fills in its backfill phase, not applied yet: existing rows would read NULL/,
    );
    // The backfill Job runs first in the same deployment: allowed, and each slot's pods check the
    // real ledger before they start (init container), whatever config claims is applied.
    await run(prod({ applied: [`${PLAN}:expand`], run: { plan: PLAN, phase: "backfill" }, job: JOB }, { "v2.3.0": old, "v2.3.1": renamed }));
    const green = (one("kubernetes:apps/v1:Deployment", "payments-green").inputs as Obj).spec.template.spec;
    assert.deepEqual(green.initContainers[0].command, ["node_modules/.bin/remedy", "migrate", "check", "--uses", "payments.amount_minor,payments.id"]);
    assert.equal(green.initContainers[0].image, JOB.image);
    // The read-only credential: the migration's DDL-capable Secret never reaches app pods.
    assert.deepEqual(green.initContainers[0].env, [{ name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "payments-db-check", key: "url" } } }]);
    assert.ok(!JSON.stringify(ofType(T.deployment).map((d) => d.inputs)).includes('"payments-db"'), "no app pod references payments-db");
    const blue = (one("kubernetes:apps/v1:Deployment", "payments-blue").inputs as Obj).spec.template.spec;
    assert.deepEqual(blue.initContainers[0].command.slice(-1), ["payments.amount,payments.id"]);
    validateK8sObject(one("kubernetes:apps/v1:Deployment", "payments-green"));
    assert.equal((one("kubernetes:apps/v1:Deployment", "orders-green").inputs as Obj).spec.template.spec.initContainers, undefined, "orders declares no columns");
  });

  it("refuses a contract while the stable version still uses the old column, and skipped phases", async () => {
    await assert.rejects(
      run(prod({ applied: [`${PLAN}:expand`, `${PLAN}:backfill`], run: { plan: PLAN, phase: "contract" }, job: JOB }, { "v2.3.0": old, "v2.3.1": renamed })),
      /contract of 0001-rename-payments-amount drops payments\.amount, still used by payments v2\.3\.0 \(stable\)/,
    );
    await assert.rejects(
      run(prod({ run: { plan: PLAN, phase: "backfill" }, job: JOB }, { "v2.3.0": old, "v2.3.1": old })),
      /database\.run: 0001-rename-payments-amount:backfill needs 0001-rename-payments-amount:expand first/,
    );
    await assert.rejects(run(prod({}, { "v2.3.0": old })), /services\[0\]\.database\.uses: no entry for payments v2\.3\.1 \(candidate\)/);
  });

  it("counts a legacy lane's version as a reader: a contract that drops what it reads waits for the lane's retirement (issue 37, 6)", async () => {
    const config = prod({ applied: [`${PLAN}:expand`, `${PLAN}:backfill`], run: { plan: PLAN, phase: "contract" }, job: JOB }, { "v2.3.0": renamed, "v2.3.1": renamed, "v1.9.4": old });
    const services = config["remedy:services"] as Obj[];
    services[0].legacy = [lane({ priority: 90 })];
    // The stack's last update (a stack reference to itself): the lane as deployed, frozen since.
    stackReferenceOutputs.set("acme/remedy/prod", { services: { payments: { legacy: [{ version: "v1.9.4", image: lane().image }] } } });
    (services[0].database as Obj).writesNull = { "v2.3.0": [], "v2.3.1": [], "v1.9.4": [] };
    services[1].database = { uses: { "v5.8.1": [], "v5.8.2": [] } };
    services[2].database = { uses: { "2026.11.3": [] } };
    await assert.rejects(run(config), /contract of 0001-rename-payments-amount drops payments\.amount, still used by payments v1\.9\.4 \(legacy\)/);
    delete (services[0].database as Obj).uses["v1.9.4"];
    await assert.rejects(run(config), /services\[0\]\.database\.uses: no entry for payments v1\.9\.4 \(legacy\)/, "fails closed on an undeclared lane version");
    stackReferenceOutputs.delete("acme/remedy/prod");
  });

  it("keeps a legacy lane frozen: its image changes only with a hotfix reason, its version never in place (issue 37, 3)", async () => {
    const config = prod({}, { "v2.3.0": old, "v2.3.1": old, "v1.9.4": old, "v1.9.5": old });
    const services = config["remedy:services"] as Obj[];
    const rebuilt = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"7".repeat(64)}`;
    stackReferenceOutputs.set("acme/remedy/prod", { services: { payments: { legacy: [{ version: "v1.9.4", image: lane().image }] } } });
    try {
      services[0].legacy = [lane({ image: rebuilt })];
      await assert.rejects(run(config), /services\[0\]\.legacy\[0\]\.image: changes .*@sha256:9f2c.* -> .*@sha256:7{64}, but a lane is frozen: its image changes only as a hotfix; set services\[0\]\.legacy\[0\]\.hotfix \{ reason \}/);
      assert.deepEqual(recorded.resources.filter((r) => !r.type.startsWith("remedy:") && r.type !== "pulumi:pulumi:StackReference"), [], "refused before anything is deployed");
      services[0].legacy = [lane({ version: "v1.9.5" })];
      await assert.rejects(run(config), /services\[0\]\.legacy\[0\]\.version: payments's lane v1\.9\.4 would become v1\.9\.5: a lane keeps its version \(feature releases go to the service, not the lane\)/);
      // The governed path: a hotfix with a reason, said in the update.
      services[0].legacy = [lane({ image: rebuilt, hotfix: { reason: "INC-5120: TLS to the card vault fails on the old client" } })];
      await run(config);
      const lane0 = one(T.deployment, "payments-legacy").inputs as Obj;
      assert.equal(lane0.spec.template.spec.containers[0].image, rebuilt);
    } finally {
      stackReferenceOutputs.delete("acme/remedy/prod");
    }
  });

  it("fails closed: a contract is refused while a service has not declared what it uses", async () => {
    // orders and catalog say nothing about their columns: either might read payments.amount.
    await assert.rejects(
      run(prod({ applied: [`${PLAN}:expand`, `${PLAN}:backfill`], run: { plan: PLAN, phase: "contract" }, job: JOB }, { "v2.3.0": renamed, "v2.3.1": renamed })),
      (err: Error) => {
        assert.ok(err instanceof MigrationGateError);
        assert.match(err.message, /services\[1\]\.database\.uses: required while a contract phase runs \(database\.run\): declare the "table\.column"s each version of orders uses/);
        assert.match(err.message, /services\[2\]\.database\.uses: required while a contract phase runs/);
        return true;
      },
    );
    assert.deepEqual(recorded.resources.filter((r) => !r.type.startsWith("remedy:")), [], "nothing deployed");
  });

  it("runs an allowed contract as a Job after the releases, re-checking the window it was given", async () => {
    const config = prod({ applied: [`${PLAN}:expand`, `${PLAN}:backfill`], run: { plan: PLAN, phase: "contract" }, job: JOB }, { "v2.3.0": renamed, "v2.3.1": renamed });
    const services = config["remedy:services"] as Obj[];
    services[1].database = { uses: { "v5.8.1": [], "v5.8.2": [] } };
    services[2].database = { uses: { "2026.11.3": [] } };
    // The contract makes amount_minor NOT NULL: the versions using it must say whether they write NULL there.
    await assert.rejects(run(config), /makes payments\.amount_minor NOT NULL, but payments v2\.3\.0 \(stable\), payments v2\.3\.1 \(candidate\) use it without saying whether they write NULL there; set database\.writesNull for "v2\.3\.0", "v2\.3\.1"/);
    (services[0].database as Obj).writesNull = { "v2.3.0": [], "v2.3.1": [] };
    await run(config);
    const env = (one("kubernetes:batch/v1:Job", "migrate").inputs as Obj).spec.template.spec.containers[0].env as Obj[];
    const window = JSON.parse(env.find((e) => e.name === "REMEDY_ROLLBACK_WINDOW")?.value as string) as Obj[];
    assert.deepEqual(window.find((w) => w.version === "v2.3.0")?.writesNull, [], "the Job re-checks the declaration");
    assert.deepEqual(window.map((w) => [w.service, w.version, w.role]), [
      ["payments", "v2.3.0", "stable"],
      ["payments", "v2.3.1", "candidate"],
      ["orders", "v5.8.2", "stable"],
      ["orders", "v5.8.1", "candidate"],
      ["catalog", "2026.11.3", "stable"],
    ]);
  });
});
