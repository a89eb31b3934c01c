import { strict as assert } from "node:assert";
import { NoticeEvent, hotfixExpiredNotice, lifecycleNotice, type Notice } from "../../core/lifecycle";
import { normalizeStrategy } from "../../core/progressive";
import { type ReleaseEvent, type ReleaseState, applyEvent, initialState } from "../../core/releaseState";
import { Slot } from "../../core/slots";

const ROUTING = { ruleArn: "arn:aws:elasticloadbalancing:r", targetGroupArns: { blue: "arn:aws:elasticloadbalancing:b", green: "arn:aws:elasticloadbalancing:g" }, stickinessSeconds: 0 };
const at = (m: number) => new Date(Date.UTC(2026, 11, 1, 10, m)).toISOString();
const check = { kind: "http" as const, url: "https://api.example.com/healthz", header: "x-remedy-candidate", value: "0123456789abcdef", expectStatus: [200, 299] as const, timeoutSeconds: 5 };

/** Applies each event, collecting the notice each transition owes (or null). */
function notices(state: ReleaseState, events: ReleaseEvent[], steps = false): { state: ReleaseState; notices: (Notice | null)[] } {
  const out: (Notice | null)[] = [];
  for (const e of events) {
    const t = applyEvent(state, e);
    assert.equal(t.kind, "applied", t.kind === "applied" ? "" : `${e.type}: ${t.reason}`);
    if (t.kind !== "applied") break;
    out.push(lifecycleNotice(state, t.state, t.entry, { stack: "prod", steps }) ?? null);
    state = t.state;
  }
  return { state, notices: out };
}

const base = () => initialState("payments", { slot: Slot.Blue, version: "v1", image: "r/payments:v1" }, ROUTING, at(0));
const start: ReleaseEvent = {
  type: "start-release",
  candidate: { slot: Slot.Green, version: "v2", image: "r/payments:v2" },
  weight: 0,
  progressive: { strategy: normalizeStrategy({ kind: "canary", weight: 10, minutes: 5, bakeMinutes: 10, pauseBeforeFull: true }), rollbackWindowMinutes: 60, preTraffic: { check, maxAttempts: 2 } },
  at: at(1),
  by: "pulumi:prod",
};

describe("core/lifecycle: what people are told as a release moves", () => {
  it("tells each lifecycle event once, with the service, versions, weights and the command to act", () => {
    // Act: a whole progressive release, steps off (the default).
    const { notices: n } = notices(base(), [
      start,
      { type: "pre-traffic-result", attempt: 1, passed: false, reason: "GET https://api.example.com/healthz answered 503", at: at(2), by: "release-driver" },
      { type: "pre-traffic-result", attempt: 2, passed: true, reason: "answered 200", at: at(3), by: "release-driver" },
      { type: "advance-step", stepIndex: 0, weight: 10, at: at(3), by: "release-driver" },
      { type: "advance-step", stepIndex: 1, weight: 10, at: at(8), by: "release-driver" },
      { type: "request-promote", mode: "step", at: at(9), by: "operator:alice" },
      { type: "advance-step", stepIndex: 2, weight: 100, at: at(10), by: "release-driver" },
      { type: "advance-step", stepIndex: 3, weight: 100, at: at(11), by: "release-driver" },
      { type: "promote", rollbackWindowMinutes: 60, at: at(21), by: "release-driver" },
      { type: "retire-previous", at: at(90), by: "release-driver" },
    ]);
    // Assess
    assert.deepEqual(
      n.map((x) => x && [x.attributes.event, x.attributes.severity, x.subject]),
      [
        [NoticeEvent.ReleaseStarted, "info", "remedy prod: payments v2 release started"],
        [NoticeEvent.PreTrafficFailed, "info", "remedy prod: payments v2 pre-traffic check failed (1/2)"],
        null,
        null,
        [NoticeEvent.Paused, "action", "remedy prod: payments v2 paused at 10%: waiting for remedy promote"],
        null,
        null,
        null,
        [NoticeEvent.Promoted, "info", "remedy prod: payments v2 promoted"],
        [NoticeEvent.PreviousRetired, "info", "remedy prod: payments rollback window closed; v1 scaled to 0"],
      ],
    );
    const [started, failed, , , paused, , , , promoted, retired] = n as Notice[];
    assert.equal(started.lines[0], "payments: releasing v2 (green) over v1 (blue) (10%/5m -> pause -> 100%/0m, bake 10m); a pre-traffic check runs before the first step.");
    assert.match(started.lines.join("\n"), /remedy abort payments --reason <text>/);
    assert.match(failed.lines[0], /failed \(1\/2\): GET https:\/\/api\.example\.com\/healthz answered 503\.$/);
    assert.match(paused.lines.join("\n"), /Act: remedy promote payments moves it on/);
    assert.equal(paused.lines.at(-1), "Traffic: blue 90% / green 10%. History: remedy history payments --stack prod");
    assert.match(promoted.lines[0], /^payments: v2 \(green\) is the stable version; v1 \(blue\) stays warm as the rollback target until 2026-12-01T11:21:00\.000Z\.$/);
    assert.match(promoted.lines[1], /remedy rollback payments --reason <text> sends traffic back to v1/);
    assert.deepEqual(retired.attributes, { event: "previous-retired", severity: "info", service: "payments", stack: "prod", stable: "v2", revision: retired.attributes.revision });
  });

  it("tells every step when asked, with the weight it moved from and to", () => {
    const { notices: n } = notices(base(), [{ ...start, progressive: { ...(start as { progressive: object }).progressive, preTraffic: undefined } } as ReleaseEvent, { type: "advance-step", stepIndex: 0, weight: 10, at: at(3), by: "release-driver" }], true);
    assert.deepEqual([n[1]?.attributes.event, n[1]?.subject, n[1]?.lines[0]], [NoticeEvent.StepAdvanced, "remedy prod: payments v2 at 10%", "payments: v2 (green) moved from 0% to 10% (step 1/3)."]);
  });

  it("holds for an operator after the last allowed pre-traffic failure, and says what to run", () => {
    const { notices: n } = notices(base(), [
      start,
      { type: "pre-traffic-result", attempt: 1, passed: false, reason: "answered 503", at: at(2), by: "release-driver" },
      { type: "pre-traffic-result", attempt: 2, passed: false, reason: "timed out after 5 s", at: at(3), by: "release-driver" },
    ]);
    const held = n[2] as Notice;
    assert.deepEqual([held.attributes.event, held.attributes.severity, held.subject], [NoticeEvent.Held, "action", "remedy prod: payments v2 HELD: pre-traffic check failed"]);
    assert.match(held.lines[1], /held at 0% for an operator\. Act: remedy promote payments runs the check again/);
  });

  it("calls a hotfix release a hotfix, with its reason and expiry, and stays quiet for manual weight changes", () => {
    const { notices: n } = notices(base(), [
      { type: "start-release", candidate: { slot: Slot.Green, version: "v1-hotfix.1" }, weight: 100, hotfix: { reason: "INC-42 card tokens rejected", expires: "2026-12-03T00:00:00Z" }, at: at(1), by: "pulumi:prod" },
    ]);
    const h = n[0] as Notice;
    assert.deepEqual([h.attributes.event, h.subject], [NoticeEvent.HotfixShipped, "remedy prod: payments HOTFIX v1-hotfix.1 shipped at 100%"]);
    assert.match(h.lines[1], /reason: INC-42 card tokens rejected; hotfix mode expires 2026-12-03T00:00:00Z/);
    const manual = notices(base(), [
      { type: "start-release", candidate: { slot: Slot.Green, version: "v2" }, weight: 10, at: at(1), by: "pulumi:prod" },
      { type: "shift-weight", weight: 50, at: at(2), by: "pulumi:prod" },
    ]).notices;
    assert.equal(manual[0]?.attributes.event, NoticeEvent.ReleaseStarted);
    assert.match(manual[0]?.lines[0] ?? "", /\(manual, at 10%\)/);
    assert.equal(manual[1], null);
  });

  it("tells an expired hotfix mode with what to do about it", () => {
    const state = applyEvent(base(), { type: "start-release", candidate: { slot: Slot.Green, version: "v1-hotfix.1" }, weight: 100, hotfix: { reason: "INC-42 tokens", expires: at(30) }, at: at(1), by: "pulumi:prod" });
    assert.equal(state.kind, "applied");
    const n = hotfixExpiredNotice(state.state, at(30), { stack: "prod", steps: false });
    assert.deepEqual([n.attributes.event, n.attributes.severity, n.subject], ["hotfix-expired", "action", "remedy prod: payments hotfix mode expired (v1-hotfix.1)"]);
    assert.match(n.lines[0], /hotfix mode of v1-hotfix\.1 \(green\) expired at 2026-12-01T10:30:00\.000Z; pulumi up refuses prod's config/);
    assert.match(n.lines[1], /remove services\[\]\.hotfix to ship it as a normal release/);
  });
});

