/**
 * The API compatibility gate inside the program: `stacks/index.ts` under Pulumi mocks with
 * Pulumi.prod.yaml, payments' candidate schema swapped for compatible and breaking variants.
 */
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { captureWarnings, type CapturedWarnings } from "../../cli/rehearsal/pulumiRuntime";
import { ApiCompatibilityError } from "../../stacks/apiGate";
import { setReleaseBackendFactory } from "../../stacks/releases";
import { MemoryReleaseBackend } from "../../stacks/memoryReleases";
import { stackYaml } from "../helpers/fixtures";
import { runStackEntry } from "../helpers/stackProgram";
import { T, installMocks, ofType, recorded, settle } from "../helpers/pulumiMocks";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const FIX = "test/fixtures/graphql";

/** Pulumi.prod.yaml with payments' `api` block changed by `edit`. */
function prodWithApi(edit: (api: Obj) => void): Record<string, unknown> {
  const config = structuredClone(stackYaml("prod")) as Obj;
  edit((config["remedy:services"] as Obj[])[0].api as Obj);
  return config;
}

describe("stacks: the API compatibility gate in pulumi preview/up", () => {
  let backend: MemoryReleaseBackend;
  let restore: () => void;
  const warnings: string[] = [];
  let captured: CapturedWarnings;

  before(async () => {
    await installMocks("prod");
    captured = captureWarnings(warnings);
  });
  after(() => {
    captured.restore();
    pulumi.runtime.setAllConfig({});
  });
  beforeEach(() => {
    warnings.length = 0;
    backend = new MemoryReleaseBackend();
    restore = setReleaseBackendFactory(() => backend);
  });
  afterEach(() => restore());

  async function run(config: Record<string, unknown>): Promise<Obj> {
    recorded.resources.length = 0;
    const exports = await runStackEntry(config);
    await settle();
    return exports;
  }

  it("lets the shipped prod config through: v2.3.1 only adds a field", async () => {
    await run(stackYaml("prod"));
    assert.equal(ofType(T.rule).length, 3);
    assert.deepEqual(warnings.filter((w) => w.includes("API")), []);
  });

  it("refuses a candidate that breaks the live schema and a known operation, before deploying anything", async () => {
    await assert.rejects(
      run(prodWithApi((api) => (api.schemas["v2.3.1"] = `${FIX}/candidate-used-break.graphql`))),
      (err: Error) => {
        assert.ok(err instanceof ApiCompatibilityError, String(err));
        assert.match(err.message, /^API compatibility gate refused 1 release\(s\):\nservice payments: candidate v2\.3\.1 breaks the API of live v2\.3\.0:/);
        assert.match(err.message, /BREAKING {3}Payment\.amount {2}Field 'amount' was removed from object type 'Payment': never @deprecated: .* \(used by PaymentStatus \(.*api\/payments\/operations\/checkout\.graphql\)\)/);
        assert.match(err.message, /BROKEN {5}operation PaymentStatus/);
        assert.match(err.message, /set services\[0\]\.api\.override \{ version: "v2\.3\.1", reason: "\.\.\." \}/);
        return true;
      },
    );
    assert.deepEqual(recorded.resources.filter((r) => !r.type.startsWith("remedy:")), [], "nothing registered");
  });

  it("ships a breaking candidate with an override for that version, warns, and records the reason", async () => {
    await run(
      prodWithApi((api) => {
        api.schemas["v2.3.1"] = `${FIX}/candidate-used-break.graphql`;
        api.override = { version: "v2.3.1", reason: "amount renamed; all clients migrated per ADR-17" };
      }),
    );
    assert.ok(warnings.some((w) => w === "service payments: API v2.3.0 -> v2.3.1 is NOT compatible; shipping anyway by override: amount renamed; all clients migrated per ADR-17"), warnings.join("\n"));
    assert.ok(warnings.some((w) => /^service payments: API v2\.3\.0 -> v2\.3\.1 has 1 dangerous change\(s\): Status\.REFUNDED/.test(w)), "dangerous changes are warnings");
    const entry = backend.store.history.find((h) => h.service === "payments" && h.action === "start-release");
    assert.match(entry?.summary ?? "", /; API compatibility overridden: amount renamed; all clients migrated per ADR-17$/);
  });

  it("ignores an override written for another version, and names a missing schema", async () => {
    await assert.rejects(
      run(
        prodWithApi((api) => {
          api.schemas["v2.3.1"] = `${FIX}/candidate-used-break.graphql`;
          api.override = { version: "v2.3.0", reason: "an old override that must not carry over" };
        }),
      ),
      ApiCompatibilityError,
    );
    await assert.rejects(
      run(prodWithApi((api) => delete api.schemas["v2.3.1"])),
      /services\[0\]\.api\.schemas: no schema for candidate version v2\.3\.1 of payments; add "v2\.3\.1: <path to its SDL>" or remove api/,
    );
    await assert.rejects(
      run(prodWithApi((api) => (api.schemas["v2.3.1"] = `${FIX}/invalid.graphql`))),
      /services\[0\]\.api \(payments\): .*invalid\.graphql:7:10: Syntax Error: Expected ":", found Name "Int"\./,
    );
  });
});
