/**
 * A release bundle's id from what the release is, not where its files are (stacks/bundles.ts,
 * issue 38, 2): the same service config and API files in another checkout (staging's pipeline,
 * prod's, the rehearsal run from anywhere) make the same bundle; an edited client operation,
 * schema or field retirement makes another.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseStackConfig } from "../../core/config";
import type { ReleaseEvent } from "../../core/releaseState";
import { releaseBundle } from "../../stacks/bundles";
import { remedyConfig } from "../helpers/fixtures";

const ROOT = path.join(__dirname, "..", "..");
const IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"2".repeat(64)}`;
const START: Extract<ReleaseEvent, { type: "start-release" }> = { type: "start-release", candidate: { slot: "green", version: "v2.3.1", image: IMAGE }, weight: 10, at: "2030-01-07T10:00:00.000Z", by: "pulumi:staging" };

describe("stacks/bundles: a bundle is its content, wherever its files are (issue 38, 2)", () => {
  let copy: string;
  beforeEach(() => {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-checkout-"));
    fs.cpSync(path.join(ROOT, "api"), path.join(copy, "api"), { recursive: true });
  });
  afterEach(() => fs.rmSync(copy, { recursive: true, force: true }));

  /** payments' bundle from a checkout at `dir`, its API paths as written (relative) or made absolute. */
  const bundleFrom = (dir: string, absolute = false) => {
    const spec = parseStackConfig(remedyConfig("prod")).services[0];
    const api = spec.api as NonNullable<typeof spec.api>;
    const abs = (f: string) => (absolute ? path.join(dir, f) : f);
    const placed = { ...spec, api: { ...api, schemas: Object.fromEntries(Object.entries(api.schemas).map(([v, f]) => [v, abs(f)])), operations: api.operations.map(abs), ...(api.fieldRetirements ? { fieldRetirements: abs(api.fieldRetirements) } : {}) } };
    const b = releaseBundle(placed, START, { source: "organization/remedy/staging", releaser: "arn:aws:sts::123456789012:assumed-role/ci/1", now: START.at, plans: [], applied: [], baseDir: dir });
    if (typeof b === "string") throw new Error(b);
    return b;
  };

  it("is the same bundle from another checkout, with relative or absolute paths", () => {
    const here = bundleFrom(ROOT);
    assert.equal(bundleFrom(copy).id, here.id);
    assert.equal(bundleFrom(copy, true).id, here.id, "absolute paths into another directory");
    assert.equal(bundleFrom(ROOT, true).configSha256, here.configSha256);
  });

  it("is another bundle when a client operation, the schema or a field retirement changes", () => {
    const here = bundleFrom(ROOT).id;
    const ops = path.join(copy, "api/payments/operations");
    const first = fs.readdirSync(ops, { recursive: true, withFileTypes: true }).find((e) => e.isFile() && /\.(graphql|gql)$/.test(e.name));
    assert.ok(first, "payments has operation files");
    const file = path.join(first.parentPath, first.name);
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/\{/, "{ __typename "));
    assert.notEqual(bundleFrom(copy).id, here, "an edited operation");
    fs.cpSync(path.join(ROOT, "api"), path.join(copy, "api"), { recursive: true });
    assert.equal(bundleFrom(copy).id, here, "restored");
    fs.appendFileSync(path.join(copy, "api/payments/v2.3.1.graphql"), "\n# a comment\n");
    assert.notEqual(bundleFrom(copy).id, here, "an edited schema");
    fs.cpSync(path.join(ROOT, "api"), path.join(copy, "api"), { recursive: true });
    const retirements = path.join(copy, "api/payments/field-retirements.json");
    const r = JSON.parse(fs.readFileSync(retirements, "utf8")) as Record<string, { after: string }>;
    const [field] = Object.keys(r);
    r[field] = { ...r[field], after: "2031-01-01" };
    fs.writeFileSync(retirements, JSON.stringify(r));
    assert.notEqual(bundleFrom(copy).id, here, "another deletion date");
  });
});
