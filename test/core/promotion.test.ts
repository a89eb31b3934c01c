/**
 * Promotion across environments (issue 38): the immutable bundle, the `remedy:promotion` policy as
 * config, and every gate's decision with its message: blocked, verified, an honest soak (reset by
 * an alarm, ended by a rollback, revoked by a failed re-check, the longest counting after the
 * source moved on), evidence values and age, the target's re-checks, approvals bound to the bundle
 * (no self-approval, expiry, who), and windows (deny wins; never for a rollback or a hotfix).
 */
import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import { ConfigError, parseStackConfig } from "../../core/config";
import { type BundleContent, bundleId, bundleProblem, canonicalJson, makeBundle, serviceConfigSha256 } from "../../core/promotion/bundle";
import { type PromotionRequest, type SourceEvidence, approverMatches, decidePromotion, soakSegments } from "../../core/promotion/gates";
import { approverPrincipalPatterns, normalisePromotion, releaseTableOf } from "../../core/promotion/policy";
import { serviceInput, stackInput } from "../helpers/fixtures";

const DIGEST = `sha256:${"4".repeat(64)}`;
const content: BundleContent = {
  service: "payments",
  version: "v2.4.0",
  image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments@${DIGEST}`,
  api: { schemaSha256: "a".repeat(64), verdict: "compatible" },
  migrations: [{ plan: "0007-add-refunds", needs: ["expand"], applied: ["expand"] }],
  configSha256: "c".repeat(64),
};
const RELEASER = "arn:aws:sts::123456789012:assumed-role/ci-deployer/run-4411";
const bundle = makeBundle(content, { source: "acme/remedy/staging", createdAt: "2026-12-01T09:00:00.000Z", releaser: RELEASER });
const T0 = Date.parse("2026-12-07T12:00:00.000Z"); // a Monday
const at = (minutesFromT0: number) => new Date(T0 + minutesFromT0 * 60_000).toISOString();

const policy = normalisePromotion({ sources: [{ stack: "acme/remedy/staging" }], soakMinutes: 60 });
/** Staging completed the bundle's release 2 h ago and it still runs, measured and read just now. */
const staging = (over: Partial<SourceEvidence> = {}): SourceEvidence => ({
  source: "acme/remedy/staging",
  readAt: at(0),
  bundle,
  releases: [{ releaseId: "green:v2.4.0:1", startedAt: at(-150), completedAt: at(-120), completedBy: "release-driver" }],
  incidents: [],
  metrics: { errorRatePoints: 0.1, p99Ratio: 1.05, from: at(-120), to: at(0) },
  ...over,
});
const request = (over: Partial<PromotionRequest> = {}): PromotionRequest => ({
  target: "acme/remedy/prod",
  bundle,
  policy,
  evidence: [staging()],
  approvals: [],
  blocks: [],
  rechecks: { database: { passed: true, detail: "0007-add-refunds expand applied" }, api: { passed: true, detail: "compatible with v2.3.6 and 4 client versions" } },
  kind: "promotion",
  nowMs: T0,
  ...over,
});
const gate = (r: PromotionRequest, name: string) => decidePromotion(r).gates.find((g) => g.gate === name);

describe("core/promotion: the release bundle (issue 38, 2)", () => {
  it("is named by its content: the same content in any key order is the same bundle, any change another", () => {
    const reordered = JSON.parse(canonicalJson({ configSha256: content.configSha256, migrations: content.migrations, api: content.api, image: content.image, version: content.version, service: content.service })) as BundleContent;
    assert.equal(bundleId(reordered), bundle.id);
    assert.match(bundle.id, /^b-[0-9a-f]{16}$/);
    for (const changed of [{ image: content.image.replace("4444", "5555") }, { configSha256: "d".repeat(64) }, { api: { ...content.api, verdict: "breaking-override" as const, override: "ADR-17" } }, { migrations: [] }]) {
      assert.notEqual(bundleId({ ...content, ...changed }), bundle.id, JSON.stringify(changed));
    }
    assert.equal(bundleId({ ...content, migrations: [{ ...content.migrations[0], applied: [] }] }), bundle.id, "what a stack had applied is its state, not the release");
    assert.equal(bundle.releaser, RELEASER, "who started it, kept beside the content");
    assert.equal(bundleId({ ...bundle }), bundle.id, "where and when it was made is not content");
  });

  it("takes only digest-pinned images: a tag may point elsewhere tomorrow", () => {
    const tagged = { ...content, image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:v2.4.0" };
    assert.match(bundleProblem(tagged) ?? "", /^payments v2\.4\.0: image .*:v2\.4\.0 is not pinned by digest; a bundle names exactly what ran/);
    assert.throws(() => makeBundle(tagged, { source: "s", createdAt: at(0), releaser: RELEASER }), /not pinned by digest/);
  });

  it("hashes the config that belongs to the code, not what differs between environments", () => {
    const base = { name: "payments", port: 8080, healthPath: "/healthz", database: { uses: { "v2.4.0": ["payments.amount_minor"] } }, api: { schemas: { "v2.4.0": "api/payments/v2.4.0.graphql" } } };
    const a = serviceConfigSha256({ ...base, namespace: "payments-staging", routing: { hosts: ["api.staging.example.com"] }, replicas: 2, alarms: { errorRate: { thresholdPercent: 5 } }, slots: { green: { image: "x" } }, stable: "green" });
    assert.equal(a, serviceConfigSha256({ ...base, namespace: "payments", routing: { hosts: ["api.example.com"] }, replicas: 6, alarms: { errorRate: { thresholdPercent: 2 } }, slots: { blue: { image: "y" } }, stable: "blue" }), "staging and prod: the same bundle");
    assert.equal(a, serviceConfigSha256({ ...base, api: { ...base.api, override: { version: "v2.4.0", reason: "prod's own call" } } }), "an environment's API override is not the bundle");
    for (const changed of [{ port: 9090 }, { healthPath: "/ready" }, { database: { uses: { "v2.4.0": ["payments.amount"] } } }, { api: { schemas: { "v2.4.0": "api/payments/other.graphql" } } }]) {
      assert.notEqual(serviceConfigSha256({ ...base, ...changed }), a, JSON.stringify(changed));
    }
  });
});

describe("core/promotion: remedy:promotion in a stack's config (issue 38, 3)", () => {
  const parse = (promotion: unknown) => parseStackConfig({ ...(stackInput([serviceInput()]) as Record<string, unknown>), promotion });
  const problems = (promotion: unknown) => {
    try {
      parse(promotion);
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.issues.map((i) => `${i.path}: ${i.message}`);
    }
  };

  it("takes a policy with its defaults, each source's table named after its stack", () => {
    const p = parse({ sources: [{ stack: "acme/remedy/staging" }, { stack: "acme/remedy/staging-eu", roleArn: "arn:aws:iam::210987654321:role/remedy-evidence-reader", region: "eu-central-1" }], verifiedBy: 2, approvals: { count: 1, approvers: ["arn:aws:sts::123456789012:assumed-role/release-managers/*"] } }).promotion;
    assert.deepEqual(p?.sources, [
      { stack: "acme/remedy/staging", table: "remedy-staging-releases" },
      { stack: "acme/remedy/staging-eu", table: "remedy-staging-eu-releases", region: "eu-central-1", roleArn: "arn:aws:iam::210987654321:role/remedy-evidence-reader" },
    ]);
    assert.deepEqual([p?.verifiedBy, p?.soakMinutes, p?.evidence, p?.approvals?.expiresHours], [2, 1440, { maxAgeMinutes: 60, maxErrorRatePoints: 1, maxP99Ratio: 1.5, drill: false }, 24]);
    assert.equal(releaseTableOf("acme/remedy/staging"), "remedy-staging-releases");
    assert.equal(parse(undefined).promotion, undefined, "no policy: nothing promoted from elsewhere");
  });

  it("refuses each bad field naming it and the fix", () => {
    assert.deepEqual(
      problems({
        sources: [{ stack: "acme/remedy/staging" }, { stack: "acme/remedy/staging" }],
        verifiedBy: 3,
        windows: { allow: [{ days: ["mon"], from: "17:00", to: "09:00" }], deny: [{ from: "2026-12-24T00:00:00Z", to: "2026-12-23T00:00:00Z", reason: "christmas freeze" }] },
      }),
      [
        "promotion.verifiedBy: is 3, but only 2 source(s) are named; name more sources or lower it",
        "promotion.sources[1].stack: names acme/remedy/staging again (sources[0]); each source once",
        "promotion.windows.allow[0].to: is 09:00, not after from 17:00; split a window across midnight into two",
        "promotion.windows.deny[0].to: is 2026-12-23T00:00:00Z, not after from 2026-12-24T00:00:00Z",
      ],
    );
    assert.match(problems({ sources: [{ stack: "staging" }] })[0], /^promotion\.sources\[0\]\.stack: must be a full stack name such as "acme\/remedy\/staging"/);
    assert.match(problems({ sources: [] })[0], /^promotion\.sources: name at least one source environment/);
    assert.match(problems({ sources: [{ stack: "acme/remedy/staging" }], approvals: { count: 1, approvers: ["alice"] } })[0], /^promotion\.approvals\.approvers\[0\]: must be an IAM role or user ARN/);
    assert.match(problems({ sources: [{ stack: "acme/remedy/staging" }], windows: { allow: [{ days: ["monday"], from: "09:00", to: "17:00" }] } })[0], /^promotion\.windows\.allow\[0\]\.days\[0\]: must be one of mon, tue, wed, thu, fri, sat, sun/);
    assert.match(problems({ sources: [{ stack: "acme/remedy/staging" }], soak: 10 })[0], /^promotion\.soak: unknown key; did you mean "soakMinutes"\?$/);
  });
});

describe("core/promotion: the gates (issue 38, 4 to 7)", () => {
  it("allows a bundle that completed, soaked, measured well, re-checked and is inside its windows", () => {
    const d = decidePromotion(request());
    assert.equal(d.decision, "allow", JSON.stringify(d.gates, null, 1));
    assert.deepEqual(
      d.gates.map((g) => [g.gate, g.decision, g.message]),
      [
        ["blocked", "allow", "not blocked"],
        ["verified", "allow", "completed in acme/remedy/staging (1 needed)"],
        ["soak", "allow", `soaked 120 min in acme/remedy/staging (${at(-120)} to ${at(0)}, still running); 60 needed`],
        ["evidence", "allow", "acme/remedy/staging: 5xx 0.10 points over stable, p99 1.05x"],
        ["rechecks", "allow", "on acme/remedy/prod: database 0007-add-refunds expand applied; api compatible with v2.3.6 and 4 client versions"],
        ["approvals", "allow", "none required"],
        ["windows", "allow", "no windows"],
      ],
    );
  });

  it("soak: waits for a running soak until it is long enough; an alarm restarts it; a rollback ends it", () => {
    const young = request({ evidence: [staging({ releases: [{ releaseId: "r", startedAt: at(-40), completedAt: at(-20) }] })] });
    assert.deepEqual([decidePromotion(young).decision, decidePromotion(young).until], ["wait", at(40)]);
    assert.equal(gate(young, "soak")?.message, `soaking in acme/remedy/staging since ${at(-20)}: 20 of 60 min; promotable at ${at(40)} if nothing fires`);
    // An alarm 10 minutes ago restarts it: the 110 min before it no longer count, only the 10 since.
    const alarmed = request({ evidence: [staging({ incidents: [{ at: at(-10), kind: "alarm", what: "green/error-rate" }] })] });
    assert.deepEqual([gate(alarmed, "soak")?.decision, gate(alarmed, "soak")?.until], ["wait", at(50)], "reset: the 110 min before the alarm do not count");
    // Nor after the source moved on: a soak an alarm ended is reset, whatever its length.
    const alarmedThenMoved = request({ evidence: [staging({ releases: [{ releaseId: "r", startedAt: at(-300), completedAt: at(-290), endedAt: at(-100) }], incidents: [{ at: at(-110), kind: "alarm", what: "green/error-rate" }] })] });
    assert.equal(gate(alarmedThenMoved, "soak")?.decision, "deny");
    assert.match(gate(alarmedThenMoved, "soak")?.message ?? "", /the longest was 180 min in acme\/remedy\/staging, ended by alarm: green\/error-rate/);
    const alarmedEarly = request({ evidence: [staging({ incidents: [{ at: at(-100), kind: "alarm", what: "green/error-rate" }, { at: at(-50), kind: "alarm", what: "green/latency-p99" }] })] });
    assert.deepEqual([gate(alarmedEarly, "soak")?.decision, gate(alarmedEarly, "soak")?.until], ["wait", at(10)], "the longest stretch was 50 min; the running one since the last alarm");
    // A rollback ends the release: nothing runs, so it is refused, saying how long it had soaked.
    const rolled = request({ evidence: [staging({ incidents: [{ at: at(-90), kind: "rollback", what: "roll back v2.4.0 (green): 5xx" }] })] });
    assert.equal(gate(rolled, "soak")?.decision, "deny");
    assert.equal(gate(rolled, "soak")?.message, `no soak of ${bundle.id} is running; the longest was 30 min in acme/remedy/staging, ended by rollback: roll back v2.4.0 (green): 5xx; 60 min needed: release it again where it can soak`);
  });

  it("soak: the longest completed soak counts after the source moved on; a failed re-check revokes it until one passes", () => {
    const movedOn = request({ evidence: [staging({ releases: [{ releaseId: "r", startedAt: at(-2000), completedAt: at(-1900), endedAt: at(-1000) }] })] });
    assert.equal(gate(movedOn, "soak")?.message, `soaked 900 min in acme/remedy/staging (${at(-1900)} to ${at(-1000)}); 60 needed`);
    const revoked = request({ evidence: [staging({ incidents: [{ at: at(-5), kind: "recheck-failed", what: "check-api: Payment.amount removed" }] })] });
    assert.equal(decidePromotion(revoked).decision, "deny");
    assert.match(gate(revoked, "verified")?.message ?? "", /completed in 0 of the 1 source\(s\) needed; revoked by a failed re-check in acme\/remedy\/staging \(check-api: Payment\.amount removed\)/);
    const restored = request({ evidence: [staging({ incidents: [{ at: at(-100), kind: "recheck-failed", what: "x" }, { at: at(-90), kind: "recheck-passed", what: "x" }] })] });
    assert.deepEqual([gate(restored, "verified")?.decision, gate(restored, "soak")?.decision], ["allow", "allow"], "90 min since the passing re-check");
    assert.deepEqual(soakSegments(staging({ incidents: [{ at: at(-100), kind: "recheck-failed", what: "x" }, { at: at(-90), kind: "recheck-passed", what: "x" }] }), T0), [
      { source: "acme/remedy/staging", start: at(-120), end: at(-100), ongoing: false, endedBy: "recheck-failed: x" },
      { source: "acme/remedy/staging", start: at(-90), end: at(0), ongoing: true },
    ]);
  });

  it("verified: needs as many sources as the policy says, waits for one in progress, refuses a source that never ran the bundle", () => {
    const two = { ...policy, verifiedBy: 2, sources: [...policy.sources, { stack: "acme/remedy/staging-eu", table: "remedy-staging-eu-releases" }] };
    const inProgress: SourceEvidence = { ...staging(), source: "acme/remedy/staging-eu", releases: [{ releaseId: "r2", startedAt: at(-5) }] };
    assert.equal(gate(request({ policy: two, evidence: [staging(), inProgress] }), "verified")?.decision, "wait");
    const other: SourceEvidence = { ...staging(), source: "acme/remedy/staging-eu", bundle: { ...bundle, id: "b-0000000000000000" } };
    const d = gate(request({ policy: two, evidence: [staging(), other] }), "verified");
    assert.deepEqual([d?.decision, d?.message], ["deny", `${bundle.id} completed in 1 of the 2 source(s) needed; release it in acme/remedy/staging or acme/remedy/staging-eu first`]);
    // Rolled back before it completed: the refusal says where, when and why.
    const rolled = request({ evidence: [staging({ releases: [{ releaseId: "r", startedAt: at(-45), endedAt: at(-38) }], incidents: [{ at: at(-38), kind: "rollback", what: "roll back v2.4.0 (green): 5xx" }] })] });
    assert.equal(gate(rolled, "verified")?.message, `${bundle.id} completed in 0 of the 1 source(s) needed; rolled back in acme/remedy/staging at ${at(-38)} (roll back v2.4.0 (green): 5xx); release it in acme/remedy/staging first`);
  });

  it("evidence: values, not booleans, each limit named; stale evidence renewed; a drill when required", () => {
    const bad = request({ evidence: [staging({ readAt: at(-90), metrics: { errorRatePoints: 2.5, p99Ratio: 1.8, from: at(-120), to: at(0) } })], policy: { ...policy, evidence: { ...policy.evidence, drill: true } } });
    assert.equal(gate(bad, "evidence")?.message, [
      "acme/remedy/staging's evidence was read 90 min ago (at most 60): read it again (remedy promote-env renews it)",
      `acme/remedy/staging: the candidate's 5xx rate was 2.50 points above the stable's (${at(-120)} to ${at(0)}); at most 1`,
      `acme/remedy/staging: the candidate's p99 was 1.80x the stable's (${at(-120)} to ${at(0)}); at most 1.5x`,
      `no passed drill of ${bundle.id} in any source (remedy drill there)`,
    ].join("; "));
    const unmeasured = request({ evidence: [staging({ metrics: undefined })] });
    assert.equal(gate(unmeasured, "evidence")?.message, "no error-rate and p99 evidence over the soak from any source");
  });

  it("rechecks: refused when not re-checked on the target, or when the database or API check fails there", () => {
    assert.match(gate(request({ rechecks: undefined }), "rechecks")?.message ?? "", /^not re-checked on acme\/remedy\/prod: the database gate against its expand state and check-api against its live schema must pass first$/);
    const failing = request({ rechecks: { database: { passed: false, detail: "0007-add-refunds:expand not applied on prod; run it first" }, api: { passed: true, detail: "compatible" } } });
    assert.equal(gate(failing, "rechecks")?.message, "on acme/remedy/prod, database: 0007-add-refunds:expand not applied on prod; run it first");
  });

  it("approvals: bound to the bundle, by an approver, not the releaser, within their expiry; each rejection said", () => {
    const p = { ...policy, approvals: { count: 2, approvers: ["arn:aws:sts::123456789012:assumed-role/release-managers/*", RELEASER], expiresHours: 24 } };
    const alice = "arn:aws:sts::123456789012:assumed-role/release-managers/alice";
    const r = request({
      policy: p,
      approvals: [
        { bundle: bundle.id, by: alice, at: at(-60) },
        { bundle: bundle.id, by: alice, at: at(-30) },
        { bundle: bundle.id, by: RELEASER, at: at(-10) },
        { bundle: bundle.id, by: "arn:aws:sts::123456789012:assumed-role/release-managers/bob", at: at(-25 * 60) },
        { bundle: "b-0000000000000000", by: "arn:aws:sts::123456789012:assumed-role/release-managers/carol", at: at(-5) },
        { bundle: bundle.id, by: "arn:aws:sts::123456789012:assumed-role/developers/dave", at: at(-5) },
      ],
    });
    const g = gate(r, "approvals");
    assert.equal(g?.decision, "wait");
    assert.equal(
      g?.message,
      `1 of 2 approval(s): remedy approve ${bundle.id} by arn:aws:sts::123456789012:assumed-role/release-managers/* or ${RELEASER}; not counted: ${RELEASER} (the releaser may not approve their own release), arn:aws:sts::123456789012:assumed-role/release-managers/bob (expired (${at(-25 * 60)}, valid 24 h)), arn:aws:sts::123456789012:assumed-role/release-managers/carol (for another bundle (b-0000000000000000)), arn:aws:sts::123456789012:assumed-role/developers/dave (not one of the approvers)`,
    );
    assert.equal(approverMatches("arn:aws:sts::123456789012:assumed-role/release-managers/alice", ["arn:aws:sts::123456789012:assumed-role/release-managers/*"]), true);
    assert.equal(approverMatches("arn:aws:sts::123456789012:assumed-role/release-managers-x/alice", ["arn:aws:sts::123456789012:assumed-role/release-managers/*"]), false, "a prefix of the role name is not the role");
    // A role's ARN: any session of it, as STS names it (without the role's path); not another role's.
    assert.equal(approverMatches("arn:aws:sts::123456789012:assumed-role/cab/bob", ["arn:aws:iam::123456789012:role/governance/cab"]), true);
    assert.equal(approverMatches("arn:aws:sts::123456789012:assumed-role/cab-x/bob", ["arn:aws:iam::123456789012:role/governance/cab"]), false);
    assert.equal(approverMatches("arn:aws:sts::210987654321:assumed-role/cab/bob", ["arn:aws:iam::123456789012:role/cab"]), false, "another account's role of that name");
    assert.equal(approverMatches("arn:aws:iam::123456789012:user/carol", ["arn:aws:iam::123456789012:user/carol"]), true, "an IAM user, as GetCallerIdentity names one");
    // What IAM evaluates as aws:PrincipalArn for them (the release table's policy lets these write).
    assert.deepEqual(approverPrincipalPatterns(["arn:aws:sts::123456789012:assumed-role/release-managers/*", "arn:aws:iam::123456789012:role/governance/cab", "arn:aws:iam::123456789012:user/carol"]), [
      "arn:aws:iam::123456789012:role/*/release-managers",
      "arn:aws:iam::123456789012:role/governance/cab",
      "arn:aws:iam::123456789012:role/release-managers",
      "arn:aws:iam::123456789012:user/carol",
    ]);
  });

  it("blocks: a blocked bundle is refused everywhere until unblocked", () => {
    const blocks = [{ bundle: bundle.id, by: "arn:aws:sts::123456789012:assumed-role/oncall/erin", at: at(-3), reason: "INC-6001: refunds double-posted in staging" }];
    assert.equal(gate(request({ blocks }), "blocked")?.message, `blocked by arn:aws:sts::123456789012:assumed-role/oncall/erin at ${at(-3)}: INC-6001: refunds double-posted in staging; remedy unblock ${bundle.id} --reason <text> once it is safe`);
    assert.equal(decidePromotion(request({ blocks: [{ ...blocks[0], unblockedAt: at(-1) }] })).decision, "allow");
  });

  it("the decision is the strictest gate's: deny over wait over allow, waiting until the latest known time (property)", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 200 }), (blocked, rechecked, approved, soakedMinutes) => {
        const r = request({
          blocks: blocked ? [{ bundle: bundle.id, by: "x", at: at(-1), reason: "held" }] : [],
          ...(rechecked ? {} : { rechecks: undefined }),
          policy: { ...policy, ...(approved ? {} : { approvals: { count: 1, approvers: ["arn:aws:iam::123456789012:role/release-managers"], expiresHours: 24 } }) },
          evidence: [staging({ releases: [{ releaseId: "r", startedAt: at(-soakedMinutes - 1), completedAt: at(-soakedMinutes) }] })],
        });
        const d = decidePromotion(r);
        const verdicts = d.gates.map((g) => g.decision);
        assert.equal(d.decision, verdicts.includes("deny") ? "deny" : verdicts.includes("wait") ? "wait" : "allow");
        assert.equal(d.decision === "deny", blocked || !rechecked, "blocked or not re-checked: refused");
        if (d.decision === "wait" && approved) assert.equal(d.until, at(60 - soakedMinutes), "only the soak waits: until it is long enough");
        if (d.decision === "wait" && !approved) assert.equal(d.until, undefined, "an approval has no known time");
        if (d.decision === "allow") assert.ok(soakedMinutes >= 60 && approved);
      }),
    );
  });

  it("windows: deny wins, the next allowed time is said, and a rollback or a hotfix is never held", () => {
    const windows = { allow: [{ days: ["mon", "tue", "wed", "thu", "fri"] as ("mon" | "tue" | "wed" | "thu" | "fri")[], from: "09:00", to: "17:00" }], deny: [{ from: at(-60), to: at(120), reason: "payments freeze" }] };
    const r = request({ policy: { ...policy, windows } });
    assert.deepEqual([decidePromotion(r).decision, decidePromotion(r).until], ["wait", at(120)], "the freeze ends at 14:00 inside Monday's window");
    assert.equal(gate(r, "windows")?.message, `inside a deny window (payments freeze, until ${at(120)}); next allowed at ${at(120)}`);
    // Saturday 10:00: the next allowed time is Monday 09:00.
    const saturday = Date.parse("2026-12-12T10:00:00.000Z");
    const weekend = request({ policy: { ...policy, windows: { ...windows, deny: [] } }, nowMs: saturday, evidence: [staging({ readAt: new Date(saturday).toISOString() })] });
    assert.deepEqual([gate(weekend, "windows")?.decision, gate(weekend, "windows")?.until], ["wait", "2026-12-14T09:00:00.000Z"]);
    // Never for a rollback or the hotfix path.
    for (const kind of ["rollback", "hotfix"] as const) assert.equal(gate(request({ policy: { ...policy, windows }, kind }), "windows")?.message, `windows never block a ${kind}`);
    // No allowed time at all: refused, naming the setting.
    const never = request({ policy: { ...policy, windows: { allow: [{ days: ["sun"], from: "00:00", to: "23:59" }], deny: [{ from: at(-60), to: at(60 * 24 * 30), reason: "migration to the new region" }] } } });
    assert.equal(gate(never, "windows")?.decision, "deny");
    assert.match(gate(never, "windows")?.message ?? "", /and no allowed time in the next two weeks; change remedy:promotion\.windows$/);
  });
});
