/**
 * Every config and plan example in the docs is one remedy accepts (issue 36, 9): a reader who
 * copies it gets no refusal. Each ```yaml block in README.md and docs/ says what it is in its info
 * string, and the test checks it the way `remedy validate` (and `pulumi preview`) would:
 *
 * - `yaml remedy-config`: stack config keys (`remedy:*`), put over Pulumi.prod.yaml's config;
 *   a `remedy:services` entry is merged into the service of that name (or added); one that
 *   names its versions (stable, slots, image, version) replaces the service's version fields;
 * - `yaml remedy-service <name>`: fields of one service (a mapping, or a `- name:` list item),
 *   merged into that service of Pulumi.prod.yaml;
 * - `yaml pipeline-workflow`, `yaml pipeline-promotion-workflow`: GitHub Actions workflows (test/docs/pipelines.test.ts).
 *
 * ```json remedy-plan-op``` blocks are operations of a migration plan, parsed as the runner does.
 * A yaml block without one of these tags fails the test: an example nobody checks is how a
 * refused example got into docs/database.md.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { validateStackFile } from "../../cli/commands/validate";
import { parsePlan } from "../../database/plan";

const ROOT = path.join(__dirname, "..", "..");
const DOCS = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => path.join("docs", f))];

interface Block {
  readonly file: string;
  readonly line: number;
  readonly lang: string;
  readonly tag: string;
  readonly arg: string;
  readonly body: string;
}

function blocks(): Block[] {
  const out: Block[] = [];
  for (const file of DOCS) {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    for (const m of text.matchAll(/^( *)```(\w+)(?: ([\w-]+))?(?: (\S+))?\n([\s\S]*?)^\1```$/gm)) {
      const indent = m[1].length;
      const body = m[5].split("\n").map((l) => l.slice(indent)).join("\n");
      out.push({ file, line: text.slice(0, m.index).split("\n").length, lang: m[2], tag: m[3] ?? "", arg: m[4] ?? "", body });
    }
  }
  return out;
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

/** `over` deep-merged into `base`: objects key by key, everything else replaced. */
function merge(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return over;
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}

/** What says which versions run: an example that names any of it says all of it. */
const RELEASE_FIELDS = ["stable", "slots", "candidate", "image", "version", "strategy"];

function mergeService(services: Raw[], service: Raw): Raw[] {
  const i = services.findIndex((s) => s.name === service.name);
  if (i < 0) return [...services, service];
  const base = { ...services[i] };
  if (RELEASE_FIELDS.some((f) => f in service)) for (const f of RELEASE_FIELDS) delete base[f];
  return services.map((s, k) => (k === i ? (merge(base, service) as Raw) : s));
}

const prodConfig = (): Raw => (yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8")) as { config: Raw }).config;

/** The stack config the example makes of Pulumi.prod.yaml's. */
function configWith(b: Block): Raw {
  const config = prodConfig();
  const doc = yaml.load(b.body);
  if (b.tag === "remedy-service") {
    const fields = (Array.isArray(doc) ? doc[0] : doc) as Raw;
    config["remedy:services"] = mergeService(config["remedy:services"] as Raw[], { name: b.arg, ...fields });
    return config;
  }
  assert.ok(isObject(doc), `${b.file}:${b.line}: a remedy-config block is a mapping of stack config keys`);
  for (const [k, v] of Object.entries(doc)) {
    if (k === "remedy:services") for (const s of v as Raw[]) config[k] = mergeService(config[k] as Raw[], s);
    else config[k] = v;
  }
  return config;
}

describe("docs: every config and plan example is accepted as written (issue 36, 9)", () => {
  const all = blocks();
  const yamlBlocks = all.filter((b) => b.lang === "yaml");

  it("tags every yaml block with what it is, so each is checked", () => {
    const untagged = yamlBlocks.filter((b) => !["remedy-config", "remedy-service", "pipeline-workflow", "pipeline-promotion-workflow"].includes(b.tag)).map((b) => `${b.file}:${b.line}`);
    assert.deepEqual(untagged, []);
    assert.ok(yamlBlocks.filter((b) => b.tag.startsWith("remedy-")).length >= 9, "the examples are found");
  });

  for (const b of yamlBlocks.filter((x) => x.tag.startsWith("remedy-"))) {
    it(`${b.file}:${b.line} (${b.tag}${b.arg ? ` ${b.arg}` : ""}) is a valid prod stack config`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-doc-config-"));
      try {
        const file = path.join(dir, "Pulumi.prod.yaml");
        fs.writeFileSync(file, yaml.dump({ config: configWith(b) }));
        const r = await validateStackFile(file);
        assert.deepEqual(r.issues.map((i) => `${i.path}: ${i.message}`), [], `${b.file}:${b.line}`);
        assert.equal(r.valid, true);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it("parses every migration operation example as the runner does", () => {
    const ops = all.filter((b) => b.lang === "json" && b.tag === "remedy-plan-op");
    assert.ok(ops.length >= 1);
    for (const b of ops) {
      const plan = parsePlan({ id: "0099-doc-example", description: "an example from the docs", operations: [JSON.parse(b.body)] }, `${b.file}:${b.line}`);
      assert.equal(plan.operations.length, 1);
    }
    const untagged = all.filter((b) => b.lang === "json" && !["remedy-plan-op", "operator-policy"].includes(b.tag)).map((b) => `${b.file}:${b.line}`);
    assert.deepEqual(untagged, [], "every json example says what it is");
  });
});
