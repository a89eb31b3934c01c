import { strict as assert } from "node:assert";
import { buildSchema, findBreakingChanges, findDangerousChanges } from "graphql";
import * as fs from "node:fs";
import * as path from "node:path";
import { ApiInputError, Category, checkCompatibility, loadSchema, parseManifest, parseOperations } from "../../core/apiCompat";
import { CHANGE_CASES } from "../fixtures/graphql/changeCases";

const FIX = path.join(__dirname, "..", "fixtures", "graphql");
const API = path.join(__dirname, "..", "..", "api", "payments");
const read = (f: string) => fs.readFileSync(path.join(FIX, f), "utf8");
/** The live schema and client operations are the shipped example's (Pulumi.prod.yaml's payments). */
const liveSdl = fs.readFileSync(path.join(API, "v2.3.0.graphql"), "utf8");
const checkoutOps = fs.readFileSync(path.join(API, "operations", "checkout.graphql"), "utf8");

describe("core/apiCompat: schema changes", () => {
  for (const c of CHANGE_CASES) {
    it(`reports graphql-js ${c.graphqlJsType} as ${c.category} at ${c.coordinate}`, async () => {
      // Prepare
      const live = buildSchema(c.live);
      const candidate = buildSchema(c.candidate);
      const reference = [...findBreakingChanges(live, candidate), ...findDangerousChanges(live, candidate)].map((x) => x.type as string);
      assert.ok(reference.includes(c.graphqlJsType), `fixture triggers ${c.graphqlJsType} in graphql-js (got ${reference.join()})`);
      // Act
      const r = await checkCompatibility(live, candidate);
      // Assess
      const hit = r.changes.find((x) => x.coordinate === c.coordinate && x.category === c.category);
      assert.ok(hit, `expected ${c.category} at ${c.coordinate}; got ${JSON.stringify(r.changes)}`);
      assert.ok(hit.message.length > 10);
      assert.equal(r.compatible, c.category !== "breaking");
    });
  }

  it("treats removing an already-deprecated field as breaking by default, dangerous when configured", async () => {
    const live = loadSchema(liveSdl, "live.graphql");
    const candidate = buildSchema(liveSdl.replace(/\s+legacyTotal: Int @deprecated\(reason: "use payments"\)/, ""));
    const strict = await checkCompatibility(live, candidate);
    assert.deepEqual(strict.changes.map((c) => [c.category, c.coordinate]), [["breaking", "Query.legacyTotal"]]);
    const lenient = await checkCompatibility(live, candidate, { deprecatedRemoval: "dangerous" });
    assert.deepEqual(lenient.changes.map((c) => [c.category, c.coordinate]), [["dangerous", "Query.legacyTotal"]]);
    assert.equal(lenient.compatible, true);
  });

  it("reports safe additions as safe and an identical schema as compatible with no changes", async () => {
    const live = loadSchema(liveSdl, "live.graphql");
    assert.deepEqual((await checkCompatibility(live, live)).changes, []);
    const added = buildSchema(`${liveSdl}\ntype Refund { id: ID! }`);
    const r = await checkCompatibility(live, added);
    assert.deepEqual(r.changes.map((c) => [c.category, c.coordinate]), [["safe", "Refund"], ["safe", "Refund.id"]]);
    assert.equal(r.compatible, true);
  });
});

describe("core/apiCompat: usage-aware check against known operations", () => {
  const live = () => loadSchema(liveSdl, "live.graphql");
  const ops = () => [
    ...parseOperations(checkoutOps, "ops/checkout.graphql"),
    ...parseManifest(read("ops/persisted.json"), "ops/persisted.json"),
  ];

  it("downgrades a breaking change no operation uses to safe-by-usage, and stays compatible", async () => {
    const r = await checkCompatibility(live(), loadSchema(read("candidate-unused-break.graphql"), "c"), { operations: ops() });
    assert.deepEqual(r.changes.map((c) => [c.category, c.coordinate]).sort(), [["safe", "Payment.reference"], ["safe-by-usage", "Payment.note"]]);
    assert.equal(r.compatible, true);
    assert.deepEqual(r.brokenOperations, []);
  });

  it("names each operation and file a breaking change breaks, through fragments and persisted manifests", async () => {
    const r = await checkCompatibility(live(), loadSchema(read("candidate-used-break.graphql"), "c"), { operations: ops() });
    const amount = r.changes.find((c) => c.coordinate === "Payment.amount");
    assert.equal(amount?.category, Category.Breaking);
    assert.deepEqual(amount?.usedBy, ["PaymentStatus (ops/checkout.graphql)", "Totals (ops/persisted.json#a1b2c3)"]);
    // Removed fields follow the retirement rule (issue 37, 1): deprecated, but no deletion date recorded.
    assert.equal(r.changes.find((c) => c.coordinate === "Query.legacyTotal")?.category, Category.Breaking);
    assert.equal(r.changes.find((c) => c.coordinate === "Status.REFUNDED")?.category, Category.Dangerous);
    assert.deepEqual(r.brokenOperations.map((b) => [b.operation, b.file, b.errors[0]]), [
      ["PaymentStatus", "ops/checkout.graphql", 'Cannot query field "amount" on type "Payment".'],
      ["Totals", "ops/persisted.json#a1b2c3", 'Cannot query field "amount" on type "Payment".'],
    ]);
    assert.equal(r.compatible, false);
  });

  it("counts an enum value removal as used when the enum is used anywhere (values arrive in variables)", async () => {
    const candidate = buildSchema(liveSdl.replace("  FAILED\n", ""));
    const r = await checkCompatibility(live(), candidate, { operations: ops() });
    const removed = r.changes.find((c) => c.coordinate === "Status.FAILED");
    assert.equal(removed?.category, Category.Breaking);
    assert.ok((removed?.usedBy ?? []).some((u) => u.startsWith("RecentPayments")));
  });

  it("reads persisted manifests as an object or an array, naming anonymous operations by id", () => {
    assert.deepEqual(parseManifest(read("ops/persisted.json"), "m.json").map((o) => o.name), ["Totals", "d4e5f6"]);
    const arr = parseManifest(JSON.stringify([{ id: "x1", body: "{ payments { id } }" }]), "a.json");
    assert.deepEqual(arr.map((o) => [o.name, o.file]), [["x1", "a.json#x1"]]);
  });
});

describe("core/apiCompat: bad input", () => {
  it("names file, line and column of an invalid SDL or operation", () => {
    assert.throws(
      () => loadSchema(read("invalid.graphql"), "invalid.graphql"),
      (err: Error) => err instanceof ApiInputError && err.message === 'invalid.graphql:7:10: Syntax Error: Expected ":", found Name "Int".' && err.line === 7 && err.column === 10,
    );
    assert.throws(() => parseOperations("query { payments { id }", "ops/broken.graphql"), /^ApiInputError|ops\/broken\.graphql:1:24: Syntax Error/);
    assert.throws(() => loadSchema("type Query { a: Missing }", "s.graphql"), (err: Error) => err instanceof ApiInputError && err.message === 's.graphql:1:17: Unknown type "Missing".');
    assert.throws(() => parseManifest("{not json", "m.json"), /m\.json:1:2: not JSON: Expected property name/);
  });

  it("reports a field defined twice where it is defined again, with every other SDL problem (GitHub's schema 15.26.0 has one)", () => {
    // Act + Assess
    assert.throws(
      () => loadSchema("type Query {\n  a: String\n  b: Int\n  a: String\n}\ninput I { x: Int, x: Int }\n", "dup.graphql"),
      (err: Error) =>
        err instanceof ApiInputError &&
        err.line === 4 &&
        err.column === 3 &&
        err.message === 'dup.graphql:4:3: Field "Query.a" can only be defined once.; Field "I.x" can only be defined once. (6:19)',
    );
    // GitHub's published schema 15.26.0 (the first definition is line 15003, the second 15153).
    const github = fs.readFileSync(path.join(__dirname, "..", "..", "node_modules", "github-schema-15.26.0", "schema.graphql"), "utf8");
    assert.throws(
      () => loadSchema(github, "schema.graphql"),
      (err: Error) => err instanceof ApiInputError && err.message.startsWith('schema.graphql:15153:3: Field "EnterpriseOwnerInfo.repositoryDeployKeySetting" can only be defined once.;'),
    );
    assert.throws(() => parseManifest('{"x": 5}', "m.json"), /m\.json: entry x: document must be a string/);
  });
});
