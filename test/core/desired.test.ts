/**
 * Image mode: a service names only the version to run and remedy picks the slot from release
 * state. Pure: config parsing and resolution against hand-built release states.
 */
import { strict as assert } from "node:assert";
import { type StackConfig, parseStackConfig } from "../../core/config";
import * as defaults from "../../core/defaults";
import { resolveDesiredReleases } from "../../core/desired";
import { Phase, type ReleaseEvent, type ReleaseState, initialState } from "../../core/releaseState";
import { Slot } from "../../core/slots";
import { applyAll, configProblems, stackInput } from "../helpers/fixtures";

const REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders";
const ROUTING = { ruleArn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/a/1/2/3", targetGroupArns: { blue: "arn:aws:elasticloadbalancing:b", green: "arn:aws:elasticloadbalancing:g" }, stickinessSeconds: 0 };
const T0 = "2026-12-01T10:00:00.000Z";
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

function imageService(overrides: Record<string, unknown> = {}) {
  return { name: "orders", port: 8080, healthPath: "/healthz", routing: { paths: ["/orders/*"], priority: 10 }, replicas: 3, image: `${REPO}:1.5.0`, ...overrides };
}

const problems = configProblems;

const parse = (overrides: Record<string, unknown> = {}): StackConfig => parseStackConfig(stackInput([imageService(overrides)]));

/** A release state reached by applying events in order, failing on any that does not apply. */
function stateAfter(...events: ReleaseEvent[]): ReleaseState {
  return applyAll(initialState("orders", { slot: Slot.Blue, version: "1.4.0", image: `${REPO}:1.4.0` }, ROUTING, at(0)), ...events);
}
const strategy = { steps: [{ kind: "weight" as const, weight: 10, minutes: 5 }, { kind: "weight" as const, weight: 100, minutes: 0 }], bakeMinutes: 10 };
const start = (version: string, slot: Slot, minute: number) =>
  ({ type: "start-release", candidate: { slot, version, image: `${REPO}:${version}` }, weight: 0, progressive: { strategy, rollbackWindowMinutes: 60 }, at: at(minute), by: "pulumi:prod" }) as const;

function resolve(state: ReleaseState | undefined, minute: number, overrides: Record<string, unknown> = {}) {
  const r = resolveDesiredReleases(parse(overrides), new Map([["orders", state]]), at(minute));
  return { spec: r.config.services[0], warnings: r.warnings };
}

describe("core/desired: image mode picks the slot from release state", () => {
  describe("config", () => {
    it("takes a pinned image, or a repository plus version, and defaults to a canary strategy", () => {
      // Act
      const pinned = parse().services[0];
      const bumped = parse({ image: REPO, version: "1.6.0" }).services[0];

      // Assess
      assert.deepEqual(pinned.desired, { image: `${REPO}:1.5.0`, version: "1.5.0", resolved: false });
      assert.deepEqual(bumped.desired, { image: `${REPO}:1.6.0`, version: "1.6.0", resolved: false }, "version names the tag of an untagged repository");
      assert.deepEqual(pinned.strategy?.steps, [
        { kind: "weight", weight: defaults.DEFAULT_IMAGE_MODE_STRATEGY.weight, minutes: defaults.DEFAULT_IMAGE_MODE_STRATEGY.minutes },
        { kind: "weight", weight: 100, minutes: 0 },
      ]);
      assert.equal(pinned.strategy?.bakeMinutes, defaults.DEFAULT_BAKE_MINUTES);
    });

    it("refuses slot-mode keys, a manual strategy, hotfix mode and an unpinned image, naming each field", () => {
      // Act
      const mixed = problems(() => parse({ stable: "blue", slots: { blue: { image: `${REPO}:1.4.0` } }, candidate: { weight: 10 }, strategy: { kind: "manual" } }));
      const unpinned = problems(() => parse({ image: REPO }));
      const latest = problems(() => parse({ image: `${REPO}:latest` }));
      const hotfix = problems(() => parseStackConfig({ ...stackInput([imageService({ hotfix: { reason: "INC-1 checkout 500s", expires: at(600) } })]), hotfixStack: "acme/remedy/hotfix" }));

      // Assess
      assert.ok(mixed.some((p) => p.startsWith("services[0].stable: cannot be combined with image")), mixed.join("\n"));
      assert.ok(mixed.some((p) => p.startsWith("services[0].slots: cannot be combined with image")), mixed.join("\n"));
      assert.ok(mixed.some((p) => p.startsWith("services[0].candidate: cannot be combined with image")), mixed.join("\n"));
      assert.ok(mixed.some((p) => p.startsWith("services[0].strategy.kind: manual cannot be combined with image")), mixed.join("\n"));
      assert.deepEqual(unpinned, [`services[0].image: has no tag or digest; pin a version tag or a digest, or set version to the tag to run (image: repository, version: tag), got "${REPO}"`]);
      assert.ok(latest[0].startsWith('services[0].image: uses the mutable tag "latest"'), latest[0]);
      assert.ok(hotfix.some((p) => p.startsWith("services[0].hotfix: needs stable + slots")), hotfix.join("\n"));
    });

    it("in slot mode still requires stable and slots, and refuses a service-level version", () => {
      // Act
      const none = problems(() => parseStackConfig(stackInput([{ ...imageService({ image: undefined }) }])));
      const version = problems(() => parseStackConfig(stackInput([{ ...imageService({ image: undefined, version: "1.5.0" }), stable: "blue", slots: { blue: { image: `${REPO}:1.4.0` } } }])));

      // Assess
      assert.deepEqual(none, [
        'services[0].stable: required: the stable slot, "blue" or "green" (or set image to let remedy pick the idle slot)',
        "services[0].slots: required: the slots block { blue?: { image }, green?: { image } } (or set image to let remedy pick the idle slot)",
      ]);
      assert.deepEqual(version, ["services[0].version: only applies with image (image mode); with slots, set slots.<slot>.version"]);
    });
  });

  describe("resolution", () => {
    it("a first deployment runs the version in blue; the same version later stays where it is", () => {
      // Act
      const first = resolve(undefined, 0);
      const again = resolve(stateAfter(), 1, { image: `${REPO}:1.4.0` });

      // Assess
      assert.equal(first.spec.stable, "blue");
      assert.deepEqual(first.spec.slots, { blue: { image: `${REPO}:1.5.0`, version: "1.5.0", replicas: 3 } });
      assert.deepEqual(first.spec.desired, { image: `${REPO}:1.5.0`, version: "1.5.0", resolved: true, role: "stable" });
      assert.deepEqual(again.spec.slots, { blue: { image: `${REPO}:1.4.0`, version: "1.4.0", replicas: 3 } });
    });

    it("a new version goes into the idle slot, the live one keeps its slot and image, whichever slot is live", () => {
      // Prepare: 1.4.0 live in blue; then 1.5.0 promoted into green.
      const onBlue = stateAfter();
      const onGreen = stateAfter(start("1.5.0", Slot.Green, 1), { type: "advance-step", stepIndex: 2, weight: 100, at: at(2), by: "release-driver" }, { type: "promote", rollbackWindowMinutes: 0, at: at(3), by: "release-driver" });

      // Act
      const a = resolve(onBlue, 4);
      const b = resolve(onGreen, 4, { image: `${REPO}:1.6.0` });

      // Assess
      assert.equal(a.spec.stable, "blue");
      assert.deepEqual(a.spec.slots, { blue: { image: `${REPO}:1.4.0`, version: "1.4.0", replicas: 3 }, green: { image: `${REPO}:1.5.0`, version: "1.5.0", replicas: 3 } });
      assert.equal(a.spec.desired?.role, "candidate");
      assert.equal(b.spec.stable, "green", "the slot the driver promoted stays stable; config never named it");
      assert.deepEqual(b.spec.slots.blue, { image: `${REPO}:1.6.0`, version: "1.6.0", replicas: 3 });
      assert.equal(b.spec.slots.green?.image, `${REPO}:1.5.0`);
      assert.deepEqual(b.warnings, []);
    });

    it("keeps a release in progress, and a rolled-back one held, in the slot it is in", () => {
      // Prepare
      const releasing = stateAfter(start("1.5.0", Slot.Green, 1), { type: "advance-step", stepIndex: 0, weight: 10, at: at(2), by: "release-driver" });
      const rolledBack = stateAfter(start("1.5.0", Slot.Green, 1), { type: "advance-step", stepIndex: 0, weight: 10, at: at(2), by: "release-driver" }, { type: "roll-back", failedSlot: Slot.Green, observedAt: at(3), reason: "5xx", at: at(3), by: "remedy-prod/orders/green/error-rate" });

      // Act
      const r1 = resolve(releasing, 4);
      const r2 = resolve(rolledBack, 4);

      // Assess
      for (const r of [r1, r2]) {
        assert.equal(r.spec.stable, "blue");
        assert.equal(r.spec.slots.green?.version, "1.5.0");
        assert.equal(r.spec.slots.blue?.version, "1.4.0");
      }
      assert.equal(rolledBack.phase, Phase.RolledBack);
    });

    it("keeps the promoted-away version in the idle slot; a new version replacing it inside its window is warned about", () => {
      // Prepare: 1.5.0 promoted with a 60-minute window; 1.4.0 is the warm rollback target in blue.
      const promoted = stateAfter(start("1.5.0", Slot.Green, 1), { type: "advance-step", stepIndex: 2, weight: 100, at: at(2), by: "release-driver" }, { type: "promote", rollbackWindowMinutes: 60, at: at(3), by: "release-driver" });

      // Act
      const unchanged = resolve(promoted, 10);
      const next = resolve(promoted, 10, { image: `${REPO}:1.6.0` });
      const back = resolve(promoted, 10, { image: `${REPO}:1.4.0` });

      // Assess
      assert.equal(unchanged.spec.stable, "green");
      assert.deepEqual(unchanged.spec.slots.blue, { image: `${REPO}:1.4.0`, version: "1.4.0", replicas: 3 }, "the warm target keeps running");
      assert.equal(unchanged.spec.desired?.role, "stable");
      assert.equal(next.spec.slots.blue?.version, "1.6.0");
      assert.deepEqual(next.warnings, [
        `service orders: 1.6.0 goes into blue, replacing 1.4.0, the warm rollback target until ${at(63)}; once 1.6.0 starts, a rollback goes to 1.5.0`,
      ]);
      assert.equal(back.spec.desired?.role, "candidate", "going back to the promoted-away version is a release of it");
      assert.equal(back.spec.slots.blue?.version, "1.4.0");
    });

    it("refuses a record without the live image, and a new image reusing the live version label, before anything changes", () => {
      // Prepare: a record written before images were recorded.
      const old = { ...stateAfter(), stable: { slot: Slot.Blue, version: "1.4.0" } };
      const live = stateAfter();
      const config = parse({ image: `${REPO}:1.5.0` });

      // Act
      const missing = problems(() => resolveDesiredReleases(config, new Map([["orders", old]]), at(1)));
      const relabel = problems(() => resolve(live, 1, { image: `${REPO}@sha256:${"a".repeat(64)}`, version: "1.4.0" }));

      // Assess
      assert.deepEqual(missing, [
        "services[0].image: release state of orders does not record the image of its stable version 1.4.0 (blue) (recorded by a remedy before image mode); run one `pulumi up` with stable: blue and slots.blue.image set to that image (it records it), then switch back to image",
      ]);
      assert.equal(config.services[0].desired?.resolved, false, "the config passed in is untouched");
      assert.deepEqual(relabel, [
        `services[0].version: ${REPO}@sha256:${"a".repeat(64)} has the version label 1.4.0, which the live stable ${REPO}:1.4.0 (blue) already carries; a new image needs a new version label (set version)`,
      ]);
    });
  });
});

describe("core/desired: images taken from release state must be ones this stack deployed", () => {
  const live = () => stateAfter(); // 1.4.0 live on blue, as recorded
  const check = (deployed: ReadonlyMap<string, ReadonlySet<string>> | null | undefined, overrides: Record<string, unknown> = {}) =>
    resolveDesiredReleases(parse(overrides), new Map([["orders", live()]]), at(5), deployed);

  it("accepts a recorded live image the last deployment ran, and a first deployment with nothing recorded", () => {
    const r = check(new Map([["orders", new Set([`${REPO}:1.4.0`])]]));
    assert.equal(r.config.services[0].slots.blue?.image, `${REPO}:1.4.0`);
    assert.equal(r.config.services[0].slots.green?.image, `${REPO}:1.5.0`);
    const first = resolveDesiredReleases(parse(), new Map([["orders", undefined]]), at(5), null);
    assert.equal(first.config.services[0].slots.blue?.image, `${REPO}:1.5.0`);
  });

  it("refuses a recorded image the stack never ran (a forged table), naming the field that confirms it; the confirmation lets it through", () => {
    // Prepare: the table says the live slot runs an image the last `up` never deployed.
    const deployed = new Map([["orders", new Set([`${REPO}:1.3.9`])]]);
    // Act + Assess
    assert.deepEqual(problems(() => check(deployed)), [
      `services[0].image: release state of orders records ${REPO}:1.4.0 for its live slot, but this stack's last deployment ran ${REPO}:1.3.9: the release table was written outside remedy, and image mode would deploy what it says. Check the table's history; if you deployed ${REPO}:1.4.0 yourself, set services[0].confirmRecordedImage to "${REPO}:1.4.0"`,
    ]);
    assert.equal(problems(() => check(null)).length, 1, "no previous outputs, yet a record: unverified");
    assert.equal(check(deployed, { confirmRecordedImage: `${REPO}:1.4.0` }).config.services[0].slots.blue?.image, `${REPO}:1.4.0`);
    assert.equal(problems(() => check(deployed, { confirmRecordedImage: `${REPO}:9.9.9` })).length, 1, "confirming another image confirms nothing");
    // Without the deployment's outputs to compare (callers that do not ask), nothing is checked.
    assert.equal(check(undefined).config.services[0].slots.blue?.image, `${REPO}:1.4.0`);
    // Slot mode names every image itself: the confirmation is refused there.
    assert.match(problems(() => parseStackConfig(stackInput([{ ...imageService(), image: undefined, stable: "blue", slots: { blue: { image: `${REPO}:1.4.0` } }, confirmRecordedImage: "x" }])))[0] ?? "", /^services\[0\]\.confirmRecordedImage: only applies with image/);
  });
});

describe("core/desired: boundaries (examples)", () => {
  const promoted = (window: number) =>
    stateAfter(start("1.5.0", Slot.Green, 1), { type: "advance-step", stepIndex: 2, weight: 100, at: at(2), by: "release-driver" }, { type: "promote", rollbackWindowMinutes: window, at: at(3), by: "release-driver" });

  it("refuses a new image that reuses the candidate's version label, and keeps the candidate when the image is the same", () => {
    const releasing = stateAfter(start("1.5.0", Slot.Green, 1), { type: "advance-step", stepIndex: 0, weight: 10, at: at(2), by: "release-driver" });
    assert.deepEqual(problems(() => resolve(releasing, 4, { image: `${REPO}@sha256:${"b".repeat(64)}`, version: "1.5.0" })), [
      `services[0].version: ${REPO}@sha256:${"b".repeat(64)} has the version label 1.5.0, which the candidate ${REPO}:1.5.0 (green) already carries; a new image needs a new version label (set version)`,
    ]);
    const same = resolve(releasing, 4);
    assert.deepEqual([same.spec.stable, same.spec.slots, same.warnings, same.spec.desired?.role, same.spec.candidateWeight], [
      "blue",
      { blue: { image: `${REPO}:1.4.0`, version: "1.4.0", replicas: 3 }, green: { image: `${REPO}:1.5.0`, version: "1.5.0", replicas: 3 } },
      [],
      "candidate",
      0,
    ]);
  });

  it("warns when a new version replaces a candidate that takes traffic, naming its weight", () => {
    const releasing = stateAfter(start("1.5.0", Slot.Green, 1), { type: "advance-step", stepIndex: 0, weight: 10, at: at(2), by: "release-driver" });
    const r = resolve(releasing, 4, { image: `${REPO}:1.6.0` });
    assert.deepEqual(r.warnings, ["service orders: 1.6.0 replaces candidate 1.5.0 (at 10%) in green; the new release starts at 0%"]);
    assert.deepEqual(r.spec.slots.green, { image: `${REPO}:1.6.0`, version: "1.6.0", replicas: 3 });
    // Replacing a rolled-back candidate is not a replacement of live traffic: no warning.
    const rolledBack = stateAfter(start("1.5.0", Slot.Green, 1), { type: "advance-step", stepIndex: 0, weight: 10, at: at(2), by: "release-driver" }, { type: "roll-back", failedSlot: Slot.Green, observedAt: at(3), reason: "5xx", at: at(3), by: "alarm" });
    assert.deepEqual(resolve(rolledBack, 4, { image: `${REPO}:1.6.0` }).warnings, []);
  });

  it("keeps the promoted-away image in the idle slot while its window is open (refusing a record without it), and after it only when recorded", () => {
    const p = promoted(60); // window open until minute 63
    const inside = resolve(p, 62.99);
    assert.deepEqual(inside.spec.slots, { green: { image: `${REPO}:1.5.0`, version: "1.5.0", replicas: 3 }, blue: { image: `${REPO}:1.4.0`, version: "1.4.0", replicas: 3 } });
    const noImage = { ...p, previous: { slot: Slot.Blue, version: "1.4.0" } };
    assert.deepEqual(problems(() => resolve(noImage, 62.99, { image: `${REPO}:1.5.0` })), [
      "services[0].image: release state of orders does not record the image of its warm previous version 1.4.0 (blue) (recorded by a remedy before image mode); run one `pulumi up` with stable: blue and slots.blue.image set to that image (it records it), then switch back to image",
    ]);
    // After the window: the slot keeps a recorded image (the program scales it down); none recorded, no slot and no error.
    assert.deepEqual(resolve(p, 63).spec.slots.blue, { image: `${REPO}:1.4.0`, version: "1.4.0", replicas: 3 });
    assert.deepEqual(resolve(noImage, 63).spec.slots, { green: { image: `${REPO}:1.5.0`, version: "1.5.0", replicas: 3 } });
    // A new version after the window: no warning about a warm target.
    assert.deepEqual(resolve(p, 63, { image: `${REPO}:1.6.0` }).warnings, []);
    // Without a window the promoted-away slot is not a rollback target.
    assert.deepEqual(resolve(promoted(0), 4, { image: `${REPO}:1.6.0` }).warnings, []);
  });

  it("leaves slot-mode and already-resolved services as they are, and resolves each image-mode service against its own state", () => {
    const slotMode = { name: "payments", port: 8080, healthPath: "/healthz", routing: { paths: ["/payments/*"], priority: 20 }, replicas: 2, stable: "blue", slots: { blue: { image: `${REPO}:9.0.0` } } };
    const config = parseStackConfig(stackInput([imageService(), slotMode]));
    const r = resolveDesiredReleases(config, new Map([["orders", stateAfter()]]), at(1));
    assert.equal(r.config.services[1], config.services[1], "slot mode: the same object");
    assert.equal(r.config.services[0].desired?.resolved, true);
    const again = resolveDesiredReleases(r.config, new Map([["orders", undefined]]), at(1));
    assert.equal(again.config.services[0], r.config.services[0], "resolved once: not again (against another state)");
  });

  it("names a forged image per slot, also for a candidate taken from state, and never the image config asks for", () => {
    const releasing = stateAfter(start("1.5.0", Slot.Green, 1));
    const deployed = new Map([["orders", new Set<string>()]]);
    const p = problems(() => resolveDesiredReleases(parse({ image: `${REPO}:1.5.0` }), new Map([["orders", releasing]]), at(4), deployed));
    assert.deepEqual(p.map((x) => /records (\S+) for its live slot/.exec(x)?.[1]), [`${REPO}:1.4.0`], "the wanted 1.5.0 is not questioned");
    assert.match(p[0], /this stack's last deployment ran no image of it/);
  });
});
