/**
 * A declared legacy lane's config (issue 37, 2): accepted as declared, refused field by field
 * with what to do, before anything is deployed (remedy validate and preview run these checks).
 */
import { strict as assert } from "node:assert";
import { ConfigError, parseServiceSpec } from "../../core/config";
import { frozenLaneProblems } from "../../core/config/legacyLane";
import { day, lane, serviceInput, LANE_DIGEST as DIGEST } from "../helpers/fixtures";

/** The messages parseServiceSpec gives for `legacy`, by path. */
function problems(legacy: unknown[], extra: Record<string, unknown> = {}): string[] {
  try {
    parseServiceSpec(serviceInput({ legacy, ...extra }));
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
}

describe("core/config: a service's legacy lane (issue 37, 2)", () => {
  it("takes brownouts between the deprecation and the sunset, one at a time, and refuses the rest naming each (issue 37, 7)", () => {
    const at = (d: number, hh = "10:00") => `${day(d)}T${hh}:00Z`;
    const spec = parseServiceSpec(serviceInput({ legacy: [lane({ brownouts: [{ start: at(20), minutes: 30 }, { start: at(40), minutes: 120 }] })] }));
    assert.deepEqual(spec.legacy[0].brownouts, [
      { start: `${day(20)}T10:00:00.000Z`, end: `${day(20)}T10:30:00.000Z` },
      { start: `${day(40)}T10:00:00.000Z`, end: `${day(40)}T12:00:00.000Z` },
    ]);
    assert.deepEqual(problems([lane({ brownouts: [{ start: at(-20), minutes: 30 }, { start: at(79, "23:00"), minutes: 120 }, { start: at(40), minutes: 60 }, { start: at(40, "10:30"), minutes: 10 }] })]), [
      `service.legacy[0].brownouts[0].start: is before deprecatedAt ${day(-10)}: callers are told before they are browned out`,
      `service.legacy[0].brownouts[1].minutes: ends after the sunset ${day(80)}; end it before`,
      "service.legacy[0].brownouts[3].start: overlaps brownouts[2]; one window at a time",
    ]);
    assert.match(problems([lane({ brownouts: [{ start: day(20), minutes: 30 }] })])[0], /^service\.legacy\[0\]\.brownouts\[0\]\.start: must be a UTC time, YYYY-MM-DDTHH:MM:SSZ/);
    assert.match(problems([lane({ brownouts: [{ start: at(20), minutes: 0 }] })])[0], /^service\.legacy\[0\]\.brownouts\[0\]\.minutes: /);
  });

  it("accepts a declared lane and normalises it (sunset in force, replicas)", () => {
    const spec = parseServiceSpec(serviceInput({ legacy: [lane({ extension: { until: day(100), reason: "acme-pos 3.x ships in March, confirmed by their CTO" } })] }));
    assert.equal(spec.legacy.length, 1);
    // As declared, with the sunset in force (the extension's), the declared one kept, and defaults.
    assert.deepEqual({ ...spec.legacy[0], extension: undefined }, { ...lane(), sunsetAt: day(100), declaredSunsetAt: day(80), replicas: 2, clients: [], brownouts: [], extension: undefined });
    assert.equal(spec.legacy[0].image, `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@${DIGEST}`);
    assert.deepEqual(parseServiceSpec(serviceInput()).legacy, [], "no lane by default");
  });

  it("refuses each broken field, naming it and the fix", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v1.9.4" }, /^service\.legacy\[0\]\.image: must be pinned by digest \(registry\/app@sha256:<64 hex>\): a lane is frozen/],
      [{ priority: 100 }, /^service\.legacy\[0\]\.priority: is 100, not lower than routing\.priority 100: the main rule would match the lane's callers first; use a number below 100$/],
      [{ sunsetAt: day(-20) }, /^service\.legacy\[0\]\.sunsetAt: is .*, not after deprecatedAt/],
      [{ sunsetAt: day(200) }, /^service\.legacy\[0\]\.sunsetAt: is 210 days after deprecatedAt: a lane lives at most 180 days; set an earlier sunset$/],
      [{ deprecatedAt: day(-100), sunsetAt: day(-1) }, /^service\.legacy\[0\]\.sunsetAt: .* has passed: retire the lane \(remedy retire, once its retirement gate allows\) or record an extension \{ until, reason \}$/],
      [{ route: {} }, /^service\.legacy\[0\]\.route: name how callers reach the lane: a header \{ name, values \} or a pathPrefix \(or both\)$/],
      [{ route: { header: { name: "X-Api-Version", values: ["1"] }, stripPrefix: true } }, /^service\.legacy\[0\]\.route\.stripPrefix: strips the pathPrefix, so set one$/],
      [{ route: { pathPrefix: "/v1/", stripPrefix: true } }, /^service\.legacy\[0\]\.route\.pathPrefix: must be a path prefix such as "\/v1"/],
      [{ link: "http://docs.example.com/x" }, /^service\.legacy\[0\]\.link: must be an https URL/],
      [{ callers: { logGroup: "/eks/prod/payments", clientField: "clientId" } }, /^service\.legacy\[0\]\.callers\.clientField: must be a JSON path into the service's log lines, e\.g\. "\$\.clientId"/],
      [{ reason: "legacy" }, /^service\.legacy\[0\]\.reason: must say why in at least 10 characters, got "legacy"$/],
      [{ extension: { until: day(70), reason: "acme-pos needs longer, per their CTO" } }, /^service\.legacy\[0\]\.extension\.until: is .*, not after the sunset .* it extends$/],
      [{ route: { pathPrefix: "/v1", header: { name: "X-Api-Version", values: ["1", "1.0", "1.1", "1.2"] } } }, /^service\.legacy\[0\]\.route: makes a rule of 7 condition values \(1 hosts, 2 paths, 4 header values\); an ALB rule takes at most 5$/],
    ];
    for (const [over, want] of cases) {
      const got = problems([lane(over)]);
      assert.ok(got.some((g) => want.test(g)), `${JSON.stringify(over)}: ${got.join(" | ")}`);
    }
    // The test route's priority, and a second lane without a reasoned override.
    assert.ok(problems([lane({ priority: 19 })], { testRoute: { priority: 19, sourceCidrs: ["10.0.0.0/8"] } }).some((g) => /legacy\[0\]\.priority: is the test route's priority 19/.test(g)));
    const two = [lane(), lane({ version: "v1.8.0", priority: 91, route: { header: { name: "X-Api-Version", values: ["0"] } } })];
    assert.deepEqual(problems(two), ["service.legacy: 2 legacy lanes: one version beside the live one is the most a service runs; set legacyOverride { reason } to run more, or retire one"]);
    assert.deepEqual(problems(two, { legacyOverride: { reason: "two partner integrations on different old versions, both sunset in Q1" } }), []);
    assert.ok(problems([lane(), lane({ version: "v1.8.0" })], { legacyOverride: { reason: "two partner integrations on different old versions" } }).some((g) => /legacy\[1\]\.priority: is legacy\[0\]'s priority too/.test(g)));
    // Kubernetes' name rules: a 50-character service's 10th lane would name its hotfix's previous side with 64 characters.
    const name = `p${"a".repeat(49)}`;
    const ten = Array.from({ length: 10 }, (_, i) => lane({ version: `v1.${i}.0`, priority: 80 + i }));
    const over = problems(ten, { name, legacyOverride: { reason: "ten partner integrations, each on its own old version" } });
    assert.deepEqual(over.filter((g) => /Service name/.test(g)), [`service.legacy[9]: would name its objects ${name}-legacy10-prev during a lane hotfix (64 characters); a Kubernetes Service name is at most 63: shorten the service name, or retire a lane first`]);
    assert.deepEqual(problems(ten.slice(0, 9), { name, legacyOverride: { reason: "nine partner integrations, each on its own old version" } }).filter((g) => /Service name/.test(g)), [], "legacy9-prev fits: 63 characters");
  });

  it("keeps a lane frozen against what the last update deployed (issue 37, 3)", () => {
    const spec = (over: Record<string, unknown> = {}) => ({ name: "payments", legacy: parseServiceSpec(serviceInput({ legacy: [lane(over)] })).legacy });
    const deployed = new Map([["payments", [{ version: "v1.9.4", image: lane().image as string }]]]);
    assert.deepEqual(frozenLaneProblems([spec()], deployed), { problems: [], hotfixes: [] }, "unchanged");
    assert.deepEqual(frozenLaneProblems([spec()], new Map()), { problems: [], hotfixes: [] }, "first declared");
    const other = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"7".repeat(64)}`;
    assert.deepEqual(frozenLaneProblems([spec({ image: other })], deployed).problems.map((p) => p.path), ["services[0].legacy[0].image"]);
    const fixed = frozenLaneProblems([spec({ image: other, hotfix: { reason: "INC-5120: TLS to the card vault" } })], deployed);
    assert.deepEqual(fixed.problems, []);
    assert.match(fixed.hotfixes[0], /^service payments: legacy lane v1\.9\.4 HOTFIX .* -> .*7{64}: INC-5120: TLS to the card vault$/);
    assert.deepEqual(frozenLaneProblems([spec({ version: "v1.9.5" })], deployed).problems.map((p) => p.path), ["services[0].legacy[0].version"]);
    // Back to the image it ran before its hotfix (accepting a lane rollback) needs no new reason.
    const during = new Map([["payments", [{ version: "v1.9.4", image: other, rollbackTo: spec().legacy[0].image }]]]);
    const back = frozenLaneProblems([spec()], during);
    assert.deepEqual(back.problems, []);
    assert.match(back.hotfixes[0], /^service payments: legacy lane v1\.9\.4 back to .*@sha256:9f2c.*, the image it ran before its hotfix$/);
    const third = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@sha256:${"8".repeat(64)}`;
    assert.deepEqual(frozenLaneProblems([spec({ image: third })], during).problems.map((p) => p.path), ["services[0].legacy[0].image"], "any other image is a hotfix");
  });
});
