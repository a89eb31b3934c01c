/**
 * A declared legacy lane (issue 37, 2): the old version of a service kept running beside the
 * new one for the callers that cannot move yet, as a governed last resort (docs/versioning.md).
 * Its callers reach it by a header or a path prefix (a listener rule evaluated before the
 * service's main rule, optionally rewriting the prefix away: ALB `url-rewrite` transforms, one per
 * rule, regex without lookarounds or backreferences, docs.aws.amazon.com/elasticloadbalancing/
 * latest/application/rule-transforms.html). Its image is pinned by digest (it is frozen), and it
 * has a deprecation date, a sunset date within a maximum lifetime, a link for callers, an owner
 * and a reason. Checked offline (`remedy validate`) and at preview.
 */
import type { LaneState } from "../laneState";
import { laneKey, previousSide, slotObjectName } from "../naming";

/** RFC 1035 label length: a Kubernetes Service's name (and so each lane object's) is at most this. */
const DNS_LABEL_MAX = 63;
import { z } from "zod";
import * as defaults from "../defaults";
import { parseImageRef } from "../image";
import type { Issue } from "./errors";
import { int, required } from "./fields";

/** The longest a lane may live, deprecation to sunset, unless the stack says otherwise. */
export const DEFAULT_MAX_LEGACY_DAYS = 180;

const DAY_MS = 86_400_000;
const date = (what: string) => z.iso.date({ error: `must be a date, YYYY-MM-DD: ${what}` });

export const legacyLaneSchema = z.strictObject(
  {
    version: z.string({ error: required("the old version this lane keeps running, e.g. v1.9.4") }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: "must be a version label: letters, digits and . _ - (at most 63)" }),
    image: z.string({ error: required("the old version's image, pinned by digest (registry/app@sha256:<64 hex>): a lane is frozen") }),
    route: z.strictObject(
      {
        header: z
          .strictObject({
            name: z.string().regex(/^[A-Za-z0-9-]{1,40}$/, { error: "must be an HTTP header name (letters, digits, '-'; at most 40)" }),
            values: z.array(z.string().min(1).max(128), { error: required("the header values that reach the lane, e.g. [\"1\"]") }).min(1).max(5),
          })
          .optional(),
        pathPrefix: z
          .string()
          .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/, { error: 'must be a path prefix such as "/v1" (no trailing slash, no wildcards)' })
          .optional(),
        stripPrefix: z.boolean({ error: "must be true or false" }).optional(),
      },
      { error: required("how callers reach the lane: { header: { name, values } } and/or { pathPrefix, stripPrefix? }") },
    ),
    priority: int("the lane rule's priority: lower than the service's routing.priority, so it is evaluated first", 1, defaults.MAX_RULE_PRIORITY),
    deprecatedAt: date("when the old version was announced deprecated"),
    sunsetAt: date("when the lane stops (after it, pulumi preview fails until it is retired or extended)"),
    link: z.url({ protocol: /^https$/, error: "must be an https URL where callers read how to move (sent as the Link of the Deprecation and Sunset headers)" }),
    owner: z.string({ error: required("who answers for the lane (a team or person)") }).min(2),
    reason: z.string({ error: required("why the old version must keep running (who cannot move, and why)") }).min(10, { error: "must say why in at least 10 characters" }),
    replicas: int("the lane's replicas", 1, 50).optional(),
    clients: z
      .array(z.string().regex(/^[A-Za-z0-9._-]+ [A-Za-z0-9._-]+$/, { error: 'must be "<client> <version>", as the operations directory names them (e.g. "ios 2.0")' }))
      .optional(),
    callers: z
      .strictObject(
        {
          logGroup: z.string().regex(/^[A-Za-z0-9_./#-]{1,512}$/, { error: "must be a CloudWatch Logs group name" }),
          clientField: z.string().regex(/^\$\.[A-Za-z0-9_.]{1,100}$/, { error: 'must be a JSON path into the service\'s log lines, e.g. "$.clientId"' }),
          versionField: z.string().regex(/^\$\.[A-Za-z0-9_.]{1,100}$/, { error: 'must be a JSON path into the service\'s log lines, e.g. "$.version"' }).optional(),
        },
        { error: required("callers { logGroup, clientField, versionField? }: where the service logs who calls it") },
      )
      .optional(),
    brownouts: z
      .array(
        z.strictObject(
          {
            start: z.iso.datetime({ error: "must be a UTC time, YYYY-MM-DDTHH:MM:SSZ: when the lane starts answering 410" }),
            minutes: int("how long the brownout lasts, in minutes", 1, 1440),
          },
          { error: required("a brownout { start, minutes }") },
        ),
      )
      .max(20, { error: "at most 20 brownouts; a few, growing, before the sunset say enough" })
      .optional(),
    hotfix: z
      .strictObject(
        { reason: z.string().min(10, { error: "must say why in at least 10 characters (the incident, what the fix does)" }) },
        { error: required("a hotfix { reason }: the only way a lane's image changes") },
      )
      .optional(),
    extension: z
      .strictObject(
        {
          until: date("the new sunset"),
          reason: z.string().min(10, { error: "must say why in at least 10 characters (who still calls, and what they were told)" }),
        },
        { error: required("an extension { until, reason }") },
      )
      .optional(),
  },
  { error: required("a legacy lane { version, image, route, priority, deprecatedAt, sunsetAt, link, owner, reason }") },
);

export type RawLegacyLane = z.output<typeof legacyLaneSchema>;

/** A lane as the program uses it. */
export interface LegacyLaneSpec {
  readonly version: string;
  readonly image: string;
  readonly route: { readonly header?: { readonly name: string; readonly values: readonly string[] }; readonly pathPrefix?: string; readonly stripPrefix: boolean };
  readonly priority: number;
  readonly deprecatedAt: string;
  /** The sunset in force: the extension's date when one is recorded. */
  readonly sunsetAt: string;
  readonly declaredSunsetAt: string;
  readonly link: string;
  readonly owner: string;
  readonly reason: string;
  readonly replicas: number;
  readonly extension?: { readonly until: string; readonly reason: string };
  /** Client versions it serves (`<client> <version>`): retirement waits until each is retired. */
  readonly clients: readonly string[];
  /** Where the service logs who calls it: a Contributor Insights rule lists the lane's top callers. */
  readonly callers?: { readonly logGroup: string; readonly clientField: string; readonly versionField?: string };
  /** Why its image changes in this update (the governed hotfix path; a lane is frozen otherwise). */
  readonly hotfix?: { readonly reason: string };
  /** Scheduled brownouts (issue 37, 7): the release driver answers the lane's callers 410 in each window. */
  readonly brownouts: readonly { readonly start: string; readonly end: string }[];
  /**
   * During a lane hotfix: the image the lane ran before, kept warm as its rollback target while
   * `hotfix` stays in config (set by the program from its last outputs and release state, see
   * {@link laneRollbackTargets}; never written in config).
   */
  readonly rollbackTo?: string;
}

/** A lane as the stack's last update deployed it (its outputs). */
export interface DeployedLane {
  readonly version: string;
  readonly image: string;
  /** The previous image it kept warm during a lane hotfix. */
  readonly rollbackTo?: string;
}

/**
 * Each lane's rollback target in this update (issue 37, 2): the image it ran before, kept warm
 * behind its own target group while a lane hotfix is in config (`legacy[i].hotfix`), so an alarm
 * on the lane sends its callers back in seconds. `previous`: the lanes each service's last update
 * deployed (its outputs); `recorded`: release state's lanes (a rollback the Lambda recorded). A
 * rolled-back image still in config is held: its callers stay on the image they went back to.
 */
export function laneRollbackTargets<S extends { readonly name: string; readonly legacy: readonly LegacyLaneSpec[] }>(
  services: readonly S[],
  previous: ReadonlyMap<string, readonly DeployedLane[]>,
  recorded: ReadonlyMap<string, Readonly<Record<string, LaneState>> | undefined>,
): { services: S[]; warnings: string[] } {
  const warnings: string[] = [];
  const out = services.map((s) => {
    if (s.legacy.length === 0) return s;
    const legacy = s.legacy.map((lane, i) => {
      const rec = recorded.get(s.name)?.[laneKey(i)];
      const back = rec?.version === lane.version ? rec.rolledBack : undefined;
      const was = (previous.get(s.name) ?? []).find((b) => b.version === lane.version);
      let rollbackTo: string | undefined;
      if (back && lane.image === back.image) {
        rollbackTo = back.toImage;
        warnings.push(`service ${s.name}: legacy lane ${lane.version} is held on ${back.toImage}: ${back.image} was rolled back at ${back.at} (${back.reason}); set legacy[${i}].image to ${back.toImage} to accept, or to a fixed image with a hotfix { reason }`);
      } else if (lane.hotfix) {
        rollbackTo = back ? back.toImage : was && was.image !== lane.image ? was.image : was?.rollbackTo;
      }
      const rest = { ...lane };
      delete (rest as { rollbackTo?: string }).rollbackTo;
      return rollbackTo && rollbackTo !== lane.image ? { ...rest, rollbackTo } : rest;
    });
    return { ...s, legacy };
  });
  return { services: out, warnings };
}

/**
 * A lane is frozen (issue 37, 3): its version never changes in place (feature releases go to the
 * service's slots; a newer old version is a new lane after this one's retirement), and its image
 * changes only through the governed hotfix path (`legacy[i].hotfix { reason }`, said in the
 * update). `previous`: the lanes each service's last update deployed; absent services had none.
 */
export function frozenLaneProblems(services: readonly { readonly name: string; readonly legacy: readonly LegacyLaneSpec[] }[], previous: ReadonlyMap<string, readonly DeployedLane[]>): { problems: { path: string; message: string }[]; hotfixes: string[] } {
  const problems: { path: string; message: string }[] = [];
  const hotfixes: string[] = [];
  services.forEach((s, i) => {
    const before = previous.get(s.name) ?? [];
    s.legacy.forEach((lane, j) => {
      const was = before.find((b) => b.version === lane.version);
      const at = `services[${i}].legacy[${j}]`;
      if (!was) {
        const replaced = before.filter((b) => !s.legacy.some((l) => l.version === b.version));
        if (replaced.length > 0) problems.push({ path: `${at}.version`, message: `${s.name}'s lane ${replaced.map((b) => b.version).join(", ")} would become ${lane.version}: a lane keeps its version (feature releases go to the service, not the lane); retire ${replaced[0].version} (remedy retire) and declare the new lane in another update` });
        return;
      }
      if (was.image === lane.image) return;
      // Back to the image it ran before its hotfix (accepting a lane rollback, or undoing the fix).
      if (was.rollbackTo === lane.image) hotfixes.push(`service ${s.name}: legacy lane ${lane.version} back to ${lane.image}, the image it ran before its hotfix`);
      else if (lane.hotfix) hotfixes.push(`service ${s.name}: legacy lane ${lane.version} HOTFIX ${was.image} -> ${lane.image}: ${lane.hotfix.reason}`);
      else problems.push({ path: `${at}.image`, message: `changes ${was.image} -> ${lane.image}, but a lane is frozen: its image changes only as a hotfix; set ${at}.hotfix { reason } (said in this update), or put the image back` });
    });
  });
  return { problems, hotfixes };
}

export const legacyOverrideSchema = z.strictObject(
  { reason: z.string({ error: required("why this service needs more than one legacy lane") }).min(10, { error: "must say why in at least 10 characters" }) },
  { error: required("legacyOverride { reason }") },
);

/**
 * The cross-field rules of a service's lanes: at most one without a reasoned override, a rule
 * evaluated before the main and test rules (and distinct from them), a digest-pinned image, a
 * sunset after the deprecation within `maxDays`, and not past (`nowMs`) unless extended.
 */
export function checkLegacyLanes(
  s: { readonly name: string; readonly legacy?: readonly RawLegacyLane[]; readonly legacyOverride?: { readonly reason: string }; readonly routing: { readonly priority: number; readonly hosts?: readonly string[]; readonly paths?: readonly string[] }; readonly testRoute?: { readonly priority: number } },
  at: PropertyKey[],
  out: Issue[],
  nowMs: number = Date.now(),
  maxDays = DEFAULT_MAX_LEGACY_DAYS,
): void {
  const lanes = s.legacy ?? [];
  if (lanes.length > 1 && !s.legacyOverride) {
    out.push({ path: [...at, "legacy"], message: `${lanes.length} legacy lanes: one version beside the live one is the most a service runs; set legacyOverride { reason } to run more, or retire one` });
  }
  const today = new Date(nowMs).toISOString().slice(0, 10);
  lanes.forEach((l, i) => {
    const p = [...at, "legacy", i];
    const ref = parseImageRef(l.image);
    if (typeof ref === "string" || ref.digest === undefined) out.push({ path: [...p, "image"], message: `must be pinned by digest (registry/app@sha256:<64 hex>): a lane is frozen, its image changes only through the hotfix path${typeof ref === "string" ? `; it ${ref}` : ""}` });
    if (!l.route.header && !l.route.pathPrefix) out.push({ path: [...p, "route"], message: "name how callers reach the lane: a header { name, values } or a pathPrefix (or both)" });
    if (l.route.stripPrefix && !l.route.pathPrefix) out.push({ path: [...p, "route", "stripPrefix"], message: "strips the pathPrefix, so set one" });
    // Its objects are `<service>-<lane>`, and during a lane hotfix `<service>-<lane>-prev`: a
    // Service's name is an RFC 1035 label (at most 63 characters), like the Deployment's pods'.
    const longest = slotObjectName(s.name, previousSide(laneKey(i)));
    if (longest.length > DNS_LABEL_MAX) out.push({ path: p, message: `would name its objects ${longest} during a lane hotfix (${longest.length} characters); a Kubernetes Service name is at most ${DNS_LABEL_MAX}: shorten the service name, or retire a lane first` });
    // ALB counts every value of every condition of a rule (hosts, paths, header values) against its limit.
    const hosts = s.routing.hosts?.length ?? 0;
    const paths = l.route.pathPrefix ? Math.max(s.routing.paths?.length ?? 0, 2) : (s.routing.paths?.length ?? 0);
    const values = hosts + paths + (l.route.header?.values.length ?? 0);
    if (values > defaults.MAX_RULE_CONDITION_VALUES) out.push({ path: [...p, "route"], message: `makes a rule of ${values} condition values (${hosts} hosts, ${paths} paths, ${l.route.header?.values.length ?? 0} header values); an ALB rule takes at most ${defaults.MAX_RULE_CONDITION_VALUES}` });
    if (l.priority >= s.routing.priority) out.push({ path: [...p, "priority"], message: `is ${l.priority}, not lower than routing.priority ${s.routing.priority}: the main rule would match the lane's callers first; use a number below ${s.routing.priority}` });
    if (s.testRoute && l.priority === s.testRoute.priority) out.push({ path: [...p, "priority"], message: `is the test route's priority ${s.testRoute.priority}; rule priorities are unique per listener` });
    lanes.slice(0, i).forEach((other, j) => {
      if (other.priority === l.priority) out.push({ path: [...p, "priority"], message: `is legacy[${j}]'s priority too; rule priorities are unique per listener` });
    });
    const dep = Date.parse(l.deprecatedAt);
    const sunset = Date.parse(l.sunsetAt);
    if (sunset <= dep) out.push({ path: [...p, "sunsetAt"], message: `is ${l.sunsetAt}, not after deprecatedAt ${l.deprecatedAt}` });
    else if ((sunset - dep) / DAY_MS > maxDays) out.push({ path: [...p, "sunsetAt"], message: `is ${Math.round((sunset - dep) / DAY_MS)} days after deprecatedAt: a lane lives at most ${maxDays} days; set an earlier sunset` });
    // Brownouts warn the callers who still call: between the deprecation and the sunset in force, one at a time.
    const sunsetInForce = Date.parse(l.extension?.until ?? l.sunsetAt);
    const windows = (l.brownouts ?? []).map((b) => ({ start: Date.parse(b.start), end: Date.parse(b.start) + b.minutes * 60_000 }));
    windows.forEach((w, j) => {
      const bp = [...p, "brownouts", j];
      if (w.start < dep) out.push({ path: [...bp, "start"], message: `is before deprecatedAt ${l.deprecatedAt}: callers are told before they are browned out` });
      if (w.end > sunsetInForce) out.push({ path: [...bp, "minutes"], message: `ends after the sunset ${l.extension?.until ?? l.sunsetAt}; end it before` });
      const clash = windows.findIndex((o, k) => k < j && o.start < w.end && w.start < o.end);
      if (clash >= 0) out.push({ path: [...bp, "start"], message: `overlaps brownouts[${clash}]; one window at a time` });
    });
    if (l.extension) {
      if (l.extension.until <= l.sunsetAt) out.push({ path: [...p, "extension", "until"], message: `is ${l.extension.until}, not after the sunset ${l.sunsetAt} it extends` });
      else if (l.extension.until <= today) out.push({ path: [...p, "extension", "until"], message: `${l.extension.until} has passed: retire the lane (remedy retire), or record a new extension with a reason` });
    } else if (l.sunsetAt <= today) {
      out.push({ path: [...p, "sunsetAt"], message: `${l.sunsetAt} has passed: retire the lane (remedy retire, once its retirement gate allows) or record an extension { until, reason }` });
    }
  });
}

/** The lanes as the program uses them. */
export function normaliseLegacyLanes(lanes: readonly RawLegacyLane[] | undefined, replicas: number): LegacyLaneSpec[] {
  return (lanes ?? []).map((l) => ({
    version: l.version,
    image: l.image,
    route: { ...(l.route.header ? { header: l.route.header } : {}), ...(l.route.pathPrefix ? { pathPrefix: l.route.pathPrefix } : {}), stripPrefix: l.route.stripPrefix ?? false },
    priority: l.priority,
    deprecatedAt: l.deprecatedAt,
    sunsetAt: l.extension?.until ?? l.sunsetAt,
    declaredSunsetAt: l.sunsetAt,
    link: l.link,
    owner: l.owner,
    reason: l.reason,
    replicas: l.replicas ?? Math.min(replicas, 2),
    ...(l.extension ? { extension: l.extension } : {}),
    clients: l.clients ?? [],
    ...(l.callers ? { callers: l.callers } : {}),
    ...(l.hotfix ? { hotfix: l.hotfix } : {}),
    brownouts: (l.brownouts ?? []).map((b) => ({ start: new Date(b.start).toISOString(), end: new Date(Date.parse(b.start) + b.minutes * 60_000).toISOString() })),
  }));
}
