/**
 * pulumi preview of a stack with remedy:promotion (issue 38, 3): the program under Pulumi's
 * mocks, its sources' release tables on moto. A release prod would start is refused before
 * anything is deployed unless it is a bundle its source proved, naming each gate that holds it;
 * a tag is no bundle; a release already known to release state and the hotfix path are not held.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { parseStackConfig } from "../../core/config";
import { applyEvent, initialState } from "../../core/releaseState";
import { ReleaseStore } from "../../lambdas/commons/releaseStore";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { releaseBundle } from "../../stacks/bundles";
import { setReleaseBackendFactory } from "../../stacks/releases";
import { remedyConfig, stackYaml } from "../helpers/fixtures";
import { createReleaseTables, useMoto } from "../helpers/moto";
import { installMocks, recorded, settle } from "../helpers/pulumiMocks";
import { runStackEntry } from "../helpers/stackProgram";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const ROOT = path.join(__dirname, "..", "..");
const DIGEST_IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"2".repeat(64)}`;

describe("stacks: pulumi preview of a stack that takes releases from others (issue 38, 3)", function () {
  this.timeout(60_000);
  useMoto();
  let backend: MemoryReleaseBackend;
  let restore: () => void;
  const ROUTING = { ruleArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/remedy/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee", targetGroupArns: { blue: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-blue-1a2b3c4d/1", green: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/payments-green-5e6f7a8b/2" }, stickinessSeconds: 0 };
  beforeEach(async () => {
    backend = new MemoryReleaseBackend();
    restore = setReleaseBackendFactory(() => backend);
    await createReleaseTables("remedy-staging-releases");
    // Prod as it runs: payments v2.3.0; orders v5.8.2 with v5.8.1 kept warm; catalog.
    const at = new Date(Date.now() - 3_600_000).toISOString();
    backend.store.states.set("payments", initialState("payments", { slot: "blue", version: "v2.3.0" }, ROUTING, at));
    backend.store.states.set("orders", { ...initialState("orders", { slot: "green", version: "v5.8.2" }, ROUTING, at), previous: { slot: "blue", version: "v5.8.1" } });
    backend.store.states.set("catalog", initialState("catalog", { slot: "blue", version: "2026.11.3" }, ROUTING, at));
  });
  afterEach(() => restore());

  /** Prod's config with a policy, payments' candidate v2.3.1 at `image`. */
  const prod = (image: string, extra: Record<string, unknown> = {}) => {
    const c = structuredClone(stackYaml("prod")) as Obj;
    c["remedy:promotion"] = { sources: [{ stack: "acme/remedy/staging" }], soakMinutes: 60 };
    c["remedy:services"][0].slots.green = { image, version: "v2.3.1" };
    Object.assign(c["remedy:services"][0], extra);
    return c;
  };
  const preview = async (c: Obj) => {
    await installMocks("prod", true);
    recorded.resources.length = 0;
    await runStackEntry(c);
    await settle();
  };

  it("refuses a tag: this stack takes only bundles", async () => {
    await assert.rejects(preview(prod("123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.3.1")), (err: Error) => {
      assert.equal(err.name, "PromotionGateError");
      assert.match(err.message, /services\[0\] \(payments v2\.3\.1\): this stack takes only bundles proved in acme\/remedy\/staging, and payments v2\.3\.1: image .*payments:v2\.3\.1 is not pinned by digest/);
      return true;
    });
    assert.deepEqual(recorded.resources.filter((r) => !r.type.startsWith("remedy:") && r.type !== "pulumi:pulumi:StackReference"), [], "refused before anything is deployed");
  });

  it("names what a bundle its source ran still lacks; never holds a release in progress or the hotfix path", async () => {
    // Staging ran exactly this bundle: the same image, schema and code config as prod computes.
    const spec = parseStackConfig(remedyConfig("prod")).services[0];
    const made = releaseBundle(spec, { type: "start-release", candidate: { slot: "green", version: "v2.3.1", image: DIGEST_IMAGE }, weight: 10, at: new Date().toISOString(), by: "pulumi:staging" }, { source: "acme/remedy/staging", releaser: "arn:aws:sts::123456789012:assumed-role/ci-deployer/run-1", now: new Date().toISOString(), plans: [], applied: [], baseDir: ROOT });
    if (typeof made === "string") throw new Error(made);
    const bundle = made;
    assert.equal(bundle.api.schemaSha256, createHash("sha256").update(fs.readFileSync(path.join(ROOT, "api/payments/v2.3.1.graphql"))).digest("hex"));
    const staging = new ReleaseStore(new DynamoDBClient({}), "remedy-staging-releases");
    await staging.recordBundle("payments", { ...bundle });
    let s = initialState("payments", { slot: "blue", version: "v2.3.0" }, ROUTING, new Date(Date.now() - 600 * 60_000).toISOString());
    await staging.create(s);
    const t = applyEvent(s, { type: "start-release", candidate: { slot: "green", version: "v2.3.1", bundle: bundle.id }, weight: 10, at: new Date(Date.now() - 10 * 60_000).toISOString(), by: "pulumi:staging" });
    if (t.kind !== "applied") throw new Error(t.reason);
    await staging.commit(s.revision, t.state, t.entry);
    s = t.state;
    // Act: it is still releasing in staging, and the emulator has no percentiles or alarm history.
    await assert.rejects(preview(prod(DIGEST_IMAGE)), (err: Error) => {
      assert.match(err.message, new RegExp(`services\\[0\\] \\(payments v2\\.3\\.1\\), bundle ${bundle.id}: refused; verified \\(wait\\): ${bundle.id} completed in 0 of the 1 source\\(s\\) needed; its release is in progress in acme/remedy/staging`));
      assert.match(err.message, /soak \(deny\): no soak of .* is running; 60 min needed/);
      assert.match(err.message, /evidence \(deny\): no error-rate and p99 evidence over the soak from any source/);
      assert.doesNotMatch(err.message, /rechecks/, "the bundle's schema passes on prod");
      assert.match(err.message, /remedy promote-env <service> --from <source> --to <this stack> --explain/);
      assert.doesNotMatch(err.message, /orders|catalog/, "what prod already runs is not held");
      return true;
    });
    // A release prod's state already knows (started before the policy, or a rollback target) is not held again.
    const known = initialState("payments", { slot: "blue", version: "v2.3.0" }, ROUTING, new Date(Date.now() - 60_000).toISOString());
    const started = applyEvent(known, { type: "start-release", candidate: { slot: "green", version: "v2.3.1" }, weight: 10, at: new Date().toISOString(), by: "pulumi:prod" });
    if (started.kind !== "applied") throw new Error(started.reason);
    backend.store.states.set("payments", started.state);
    await preview(prod(DIGEST_IMAGE));
    backend.store.states.set("payments", known);
    // The hotfix path is governed on its own, not held here.
    await preview(prod(DIGEST_IMAGE, { hotfix: { reason: "INC-7001: card vault TLS", expires: new Date(Date.now() + 86_400_000).toISOString() } })).catch((err: Error) => assert.doesNotMatch(err.message, /promotion gate/));
  });
});
