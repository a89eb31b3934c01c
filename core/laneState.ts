/**
 * A legacy lane in the service's release state (issue 37, 2 and 7): what `pulumi up` deployed
 * for it (its rule, its target group, its image, and during a lane hotfix the previous image kept
 * warm behind a second target group), whether an alarm sent its callers back to that previous
 * image, and whether a brownout is answering them with 410 right now.
 *
 * Pure transitions: `core/releaseState.ts` applies them as release events, so a lane's changes
 * are recorded, conditional and in history like a slot's. A lane is frozen: the only way back is
 * to the image it ran before its last hotfix, and an image rolled back is never shipped again
 * until a person sets another.
 */

/** A lane as `pulumi up` deployed it. */
export interface LaneRouting {
  readonly version: string;
  readonly image: string;
  readonly ruleArn: string;
  readonly targetGroupArn: string;
  /** During a lane hotfix: the image the lane ran before it, still running behind its own target group. */
  readonly rollback?: { readonly image: string; readonly targetGroupArn: string };
  /** Scheduled brownouts: the release driver answers 410 with `message` in each window (issue 37, 7). */
  readonly brownouts?: { readonly windows: readonly { readonly start: string; readonly end: string }[]; readonly message: string };
  /**
   * The sunset in force (YYYY-MM-DD) and the client versions still active on the lane, for the
   * release driver's retirement step at the sunset (issue 37, 6 and 7).
   */
  readonly sunset?: { readonly at: string; readonly activeClients: readonly string[]; readonly message: string };
}

/** A lane's record: its routing plus what happened to it since. */
export interface LaneState extends LaneRouting {
  /** An alarm (or an operator) sent the lane's callers back to `rollback.image`. */
  readonly rolledBack?: { readonly at: string; readonly by: string; readonly reason: string; readonly image: string; readonly toImage: string };
  /** The lane answers its callers with 410 until `until` (a scheduled brownout, issue 37, 7). */
  readonly brownout?: { readonly since: string; readonly until: string };
  /**
   * The retirement gate at the sunset (the release driver's step): allowed, the lane answers 410
   * until pulumi up removes it; refused, it keeps serving and its blockers were told.
   */
  readonly sunsetDecision?: { readonly at: string; readonly allowed: boolean; readonly blockers: readonly string[] };
}

/** A lane transition's outcome, applied by `core/releaseState.ts`. */
export type LaneChange =
  | { readonly kind: "applied"; readonly lanes: Readonly<Record<string, LaneState>>; readonly summary: string }
  | { readonly kind: "unchanged"; readonly reason: string }
  | { readonly kind: "refused"; readonly reason: string };

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** An image as history shows it: its name and the digest's first 12 hex (`payments@sha256:2b4d6f8a0c1e`). */
export const shortImage = (image: string): string => image.replace(/^.*\//, "").replace(/(@sha256:[0-9a-f]{12})[0-9a-f]{52}$/, "$1");

/**
 * What the program deploys now (`lanes`, by lane key) over what the record has. A lane whose
 * image was rolled back stays rolled back while config names that image (held: its callers stay
 * on the previous image, which the program must keep running, or the record is refused); the
 * image it went back to accepts the rollback, another one is a new hotfix. A brownout in
 * progress stays (the release driver owns it).
 */
export function recordLanes(service: string, before: Readonly<Record<string, LaneState>> | undefined, lanes: Readonly<Record<string, LaneRouting>>): LaneChange {
  const old = before ?? {};
  const next: Record<string, LaneState> = {};
  const said: string[] = [];
  for (const [key, lane] of Object.entries(lanes)) {
    const was = old[key];
    const kept = was && was.version === lane.version ? was : undefined;
    // Held: the image that was rolled back stays out of traffic while config still names it.
    const held = kept?.rolledBack && lane.image === kept.rolledBack.image ? kept.rolledBack : undefined;
    if (held && lane.rollback?.image !== held.toImage) {
      return {
        kind: "refused",
        reason: `${service}'s legacy lane ${lane.version} went back from ${held.image} to ${held.toImage} at ${held.at} (${held.reason}), and this update would not keep ${held.toImage} running; set legacy[].image to ${held.toImage} to accept the rollback, or to a fixed image with legacy[].hotfix { reason }`,
      };
    }
    // The driver's sunset decision stands for that sunset only: an extension asks again.
    const decided = kept?.sunsetDecision && kept.sunset?.at === lane.sunset?.at ? kept.sunsetDecision : undefined;
    const state: LaneState = { ...lane, ...(held ? { rolledBack: held } : {}), ...(kept?.brownout ? { brownout: kept.brownout } : {}), ...(decided ? { sunsetDecision: decided } : {}) };
    next[key] = state;
    if (!kept) said.push(`lane ${key} ${lane.version} = ${shortImage(lane.image)}`);
    else if (kept.rolledBack && !state.rolledBack) said.push(lane.image === kept.rolledBack.toImage ? `lane ${key} ${lane.version}: rollback to ${shortImage(lane.image)} accepted` : `lane ${key} ${lane.version}: after its rollback, HOTFIX ${shortImage(lane.image)}`);
    else if (kept.image !== lane.image) said.push(`lane ${key} ${lane.version}: HOTFIX ${shortImage(kept.image)} -> ${shortImage(lane.image)}${lane.rollback ? ` (${shortImage(lane.rollback.image)} kept warm to go back to)` : ""}`);
    else if (!same({ ...kept, rolledBack: undefined, brownout: undefined, sunsetDecision: undefined }, { ...lane, rolledBack: undefined, brownout: undefined, sunsetDecision: undefined })) said.push(lane.rollback ? `lane ${key} ${lane.version}: routing` : `lane ${key} ${lane.version}: hotfix settled, ${kept.rollback ? shortImage(kept.rollback.image) : "the previous image"} no longer kept`);
  }
  for (const [key, was] of Object.entries(old)) if (!(key in lanes)) said.push(`lane ${key} ${was.version} retired`);
  if (same(old, next)) return { kind: "unchanged", reason: "lanes as recorded" };
  return { kind: "applied", lanes: next, summary: `legacy ${said.join("; ") || "lanes recorded"}` };
}

/** The lane's callers go back to the image it ran before its hotfix. */
export function rollBackLane(service: string, before: Readonly<Record<string, LaneState>> | undefined, e: { readonly lane: string; readonly at: string; readonly by: string; readonly reason: string }): LaneChange {
  const lane = before?.[e.lane];
  if (!lane) return { kind: "unchanged", reason: `${service} has no legacy lane ${e.lane}` };
  if (lane.rolledBack) return { kind: "unchanged", reason: `${service}'s legacy lane ${lane.version} already went back to ${lane.rolledBack.toImage} at ${lane.rolledBack.at}` };
  if (!lane.rollback) return { kind: "unchanged", reason: `${service}'s legacy lane ${lane.version} has no previous image to go back to (no lane hotfix in its rollback window); its alarms page` };
  if (lane.brownout && Date.parse(lane.brownout.until) > Date.parse(e.at)) return { kind: "unchanged", reason: `${service}'s legacy lane ${lane.version} is browned out until ${lane.brownout.until}: its callers get 410 by design, not a failure of ${lane.image}` };
  if (lane.sunsetDecision?.allowed) return { kind: "unchanged", reason: `${service}'s legacy lane ${lane.version} is past its sunset and retired (its callers get 410 until pulumi up removes it)` };
  const rolledBack = { at: e.at, by: e.by, reason: e.reason, image: lane.image, toImage: lane.rollback.image };
  return { kind: "applied", lanes: { ...before, [e.lane]: { ...lane, rolledBack } }, summary: `legacy lane ${e.lane} ${lane.version} rolled back: ${shortImage(lane.image)} -> ${shortImage(lane.rollback.image)}: ${e.reason}` };
}

/** A brownout starts (until `until`) or ends (`until` null). */
export function brownOutLane(service: string, before: Readonly<Record<string, LaneState>> | undefined, e: { readonly lane: string; readonly at: string; readonly until: string | null }): LaneChange {
  const lane = before?.[e.lane];
  if (!lane) return { kind: "unchanged", reason: `${service} has no legacy lane ${e.lane}` };
  if (e.until === null) {
    if (!lane.brownout) return { kind: "unchanged", reason: `${service}'s legacy lane ${lane.version} is not browned out` };
    const rest = { ...lane };
    delete (rest as { brownout?: unknown }).brownout;
    return { kind: "applied", lanes: { ...before, [e.lane]: rest }, summary: `legacy lane ${e.lane} ${lane.version}: brownout over, callers served again` };
  }
  if (lane.brownout?.until === e.until) return { kind: "unchanged", reason: `${service}'s legacy lane ${lane.version} is browned out until ${e.until} already` };
  if (Date.parse(e.until) <= Date.parse(e.at)) return { kind: "refused", reason: `a brownout must end after it starts (${e.until} is not after ${e.at})` };
  return { kind: "applied", lanes: { ...before, [e.lane]: { ...lane, brownout: { since: e.at, until: e.until } } }, summary: `legacy lane ${e.lane} ${lane.version}: BROWNOUT until ${e.until}, callers get 410` };
}

/** The release driver's retirement step at the lane's sunset, once per sunset in force. */
export function sunsetLane(service: string, before: Readonly<Record<string, LaneState>> | undefined, e: { readonly lane: string; readonly at: string; readonly allowed: boolean; readonly blockers: readonly string[] }): LaneChange {
  const lane = before?.[e.lane];
  if (!lane?.sunset) return { kind: "unchanged", reason: `${service} has no legacy lane ${e.lane} with a recorded sunset` };
  if (lane.sunsetDecision) return { kind: "unchanged", reason: `${service}'s legacy lane ${lane.version} had its sunset step at ${lane.sunsetDecision.at}` };
  if (e.at.slice(0, 10) < lane.sunset.at) return { kind: "refused", reason: `${service}'s legacy lane ${lane.version} sunsets on ${lane.sunset.at}, not before` };
  const sunsetDecision = { at: e.at, allowed: e.allowed, blockers: e.blockers };
  return {
    kind: "applied",
    lanes: { ...before, [e.lane]: { ...lane, sunsetDecision } },
    summary: e.allowed
      ? `legacy lane ${e.lane} ${lane.version}: SUNSET ${lane.sunset.at}, retirement allowed: callers get 410 until pulumi up removes it`
      : `legacy lane ${e.lane} ${lane.version}: SUNSET ${lane.sunset.at}, retirement refused, still serving: ${e.blockers.join("; ")}`,
  };
}

/** Whether the lane's rule answers 410 at `nowMs`: a brownout in progress, or the sunset's allowed retirement. */
export function laneAnswersGone(lane: Pick<LaneState, "brownout" | "sunsetDecision">, nowMs: number): boolean {
  return (lane.brownout !== undefined && Date.parse(lane.brownout.until) > nowMs) || lane.sunsetDecision?.allowed === true;
}

/**
 * What a brownout answers (ALB fixed-response 410 Gone, text/plain, a body of at most 1024
 * characters: docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-action-types.html).
 */
export function brownoutMessage(service: string, lane: { readonly version: string; readonly sunsetAt: string; readonly link: string }): string {
  return `410 Gone (brownout): ${service} ${lane.version} is deprecated and stops on ${lane.sunsetAt}; move to the current version: ${lane.link}`.slice(0, 1024);
}

/** What a lane answers once retired at its sunset, until pulumi up removes it. */
export function goneMessage(service: string, lane: { readonly version: string; readonly sunsetAt: string; readonly link: string }): string {
  return `410 Gone: ${service} ${lane.version} was retired on ${lane.sunsetAt}; use the current version: ${lane.link}`.slice(0, 1024);
}

/** The brownout window `nowMs` falls in, if any. */
export function brownoutNow(lane: Pick<LaneRouting, "brownouts">, nowMs: number): { readonly start: string; readonly end: string } | undefined {
  return lane.brownouts?.windows.find((w) => Date.parse(w.start) <= nowMs && nowMs < Date.parse(w.end));
}

/** What the lane's rule forwards to: its own group, or the previous image's after a rollback. */
export function laneForward(lane: LaneRouting & Pick<LaneState, "rolledBack">): { targetGroupArn: string; weight: number }[] {
  const back = lane.rolledBack !== undefined;
  return [{ targetGroupArn: lane.targetGroupArn, weight: back ? 0 : 100 }, ...(lane.rollback ? [{ targetGroupArn: lane.rollback.targetGroupArn, weight: back ? 100 : 0 }] : [])];
}
