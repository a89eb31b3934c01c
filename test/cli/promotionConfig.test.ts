/**
 * What a promoted bundle sets in the target's stack file (cli/commands/promotionConfig.ts, issue
 * 38, 8): image mode takes the digest and version; the `pulumi config set` lines quote for a shell
 * and say the type (Pulumi's `--path` would take "2026" as a number); a write that would leave the
 * file invalid writes nothing.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { configSetCommands, promotionSettings, writeSettings } from "../../cli/commands/promotionConfig";
import { stackYaml } from "../helpers/fixtures";

const DIGEST = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders@sha256:${"5".repeat(64)}`;

describe("cli: promotion settings for the target's stack file (issue 38, 8)", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "remedy-promotion-config-"));
    file = path.join(dir, "Pulumi.prod.yaml");
    const config = stackYaml("prod");
    const services = config["remedy:services"] as Record<string, unknown>[];
    // orders in image mode: the repository and the version to run.
    const i = services.findIndex((s) => s.name === "orders");
    const rest = Object.fromEntries(Object.entries(services[i]).filter(([k]) => !["stable", "slots", "candidate"].includes(k)));
    services[i] = { ...rest, image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders", version: "v5.8.2" };
    fs.writeFileSync(file, `# kept\n${yaml.dump({ config })}`);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("image mode: the bundle's digest-pinned image and its version; written, still valid", () => {
    const settings = promotionSettings(file, "orders", { image: DIGEST, version: "2026" }, "green");
    assert.deepEqual(settings, [
      { path: ["remedy:services", 1, "image"], value: DIGEST },
      { path: ["remedy:services", 1, "version"], value: "2026" },
    ]);
    assert.deepEqual(configSetCommands(settings, "prod"), [
      `pulumi config set --stack prod --path --type string 'remedy:services[1].image' '${DIGEST}'`,
      "pulumi config set --stack prod --path --type string 'remedy:services[1].version' '2026'",
    ]);
    writeSettings(file, settings);
    const text = fs.readFileSync(file, "utf8");
    assert.ok(text.startsWith("# kept\n"));
    const orders = ((yaml.load(text) as { config: Record<string, { name: string; image: string; version: unknown }[]> }).config["remedy:services"]).find((s) => s.name === "orders");
    assert.deepEqual([orders?.image, orders?.version], [DIGEST, "2026"], "the version stays a string in YAML");
  });

  it("quotes a value with a quote for the shell", () => {
    assert.deepEqual(configSetCommands([{ path: ["remedy:services", 0, "version"], value: "it's" }], "prod"), [`pulumi config set --stack prod --path --type string 'remedy:services[0].version' 'it'\\''s'`]);
  });

  it("writes nothing when the result would not be valid stack config, or the file has no such service", () => {
    const before = fs.readFileSync(file, "utf8");
    assert.throws(() => writeSettings(file, [{ path: ["remedy:services", 0, "port"], value: "eighty" }]), /^Error: not written: .*Pulumi\.prod\.yaml with the bundle would not be valid \(.*port/);
    assert.equal(fs.readFileSync(file, "utf8"), before);
    assert.deepEqual(fs.readdirSync(dir), ["Pulumi.prod.yaml"], "no temporary file left");
    assert.throws(() => promotionSettings(file, "billing", { image: DIGEST, version: "1" }, undefined), /has no service billing under remedy:services/);
  });
});
