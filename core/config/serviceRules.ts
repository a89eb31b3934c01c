/**
 * Cross-field rules of a service (image mode or slot mode), run once the shape is valid.
 */
import { checkLegacyLanes } from "./legacyLane";
import * as defaults from "../defaults";
import { isLabelValue, parseImageRef, versionFromImage } from "../image";
import { StrategyError, normalizeStrategy } from "../progressive";
import { SLOTS, Slot, otherSlot } from "../slots";
import { Issue } from "./errors";
import { Path, compareQuantity } from "./fields";
import { RawService, SECRET_ENV_NAME, URL_WITH_PASSWORD } from "./serviceSchema";

/**
 * The version a slot runs: its explicit `version`, else one derived from the pinned image.
 * On failure, names the key to fix (`image` or `version`) and says why.
 */
export function slotVersion(spec: { image: string; version?: string }): { version: string } | { key: "image" | "version"; error: string } {
  const ref = parseImageRef(spec.image);
  if (typeof ref === "string") return { key: "image", error: `${ref}, got ${JSON.stringify(spec.image)}` };
  const v = versionFromImage(ref);
  if (typeof v !== "string") return { key: "image", error: `${v.error}, got ${JSON.stringify(spec.image)}` };
  if (spec.version !== undefined) return { version: spec.version };
  if (!isLabelValue(v)) {
    return {
      key: "version",
      error: `required: the image tag "${v}" is not a valid Kubernetes label value; set an explicit version (max 63 chars of A-Z a-z 0-9 - _ .)`,
    };
  }
  return { version: v };
}

/**
 * The version a service asks for in image mode (`image`, optional `version`): a pinned image, or
 * a repository whose tag `version` names (so a release is a one-line `version` bump).
 */
export function desiredImage(s: { image: string; version?: string }): { image: string; version: string } | { key: "image" | "version"; error: string } {
  const ref = parseImageRef(s.image);
  if (typeof ref === "string") return { key: "image", error: `${ref}, got ${JSON.stringify(s.image)}` };
  const image = ref.tag === undefined && ref.digest === undefined && s.version !== undefined ? `${s.image}:${s.version}` : s.image;
  const resolved = slotVersion({ image, version: s.version });
  if ("error" in resolved) {
    return ref.tag === undefined && ref.digest === undefined && s.version === undefined
      ? { key: "image", error: `has no tag or digest; pin a version tag or a digest, or set version to the tag to run (image: repository, version: tag), got ${JSON.stringify(s.image)}` }
      : resolved;
  }
  return { image, version: resolved.version };
}

/** Image mode (`image` instead of `stable` + `slots`): which keys it excludes, and why. */
export function checkImageMode(s: RawService, at: Path, out: Issue[]): void {
  const image = s.image as string;
  const d = desiredImage({ image, version: s.version });
  if ("error" in d) out.push({ path: [...at, d.key], message: d.error });
  const why = "remedy picks the idle slot from release state when image is set";
  if (s.stable !== undefined) out.push({ path: [...at, "stable"], message: `cannot be combined with image: ${why}; remove stable (or remove image and name the slots yourself)` });
  if (s.slots !== undefined) out.push({ path: [...at, "slots"], message: `cannot be combined with image: ${why}; remove slots and set replicas on the service (or remove image)` });
  if (s.candidate !== undefined) out.push({ path: [...at, "candidate"], message: "cannot be combined with image: the release driver moves the new version's weight step by step; remove candidate" });
  if (s.strategy?.kind === "manual") {
    out.push({ path: [...at, "strategy", "kind"], message: "manual cannot be combined with image: a manual release sets weights per slot; use a progressive strategy (canary, linear, allAtOnce, steps) or stable + slots" });
  }
  if (s.hotfix !== undefined) {
    out.push({ path: [...at, "hotfix"], message: "needs stable + slots (the hotfix goes into the slot `remedy status` shows is not stable); image mode releases through the strategy" });
  }
}

export function checkService(s: RawService, at: Path, out: Issue[]): void {
  checkCommon(s, at, out);
  if (s.image !== undefined) return checkImageMode(s, at, out);
  if (s.stable === undefined || s.slots === undefined) {
    if (s.stable === undefined) out.push({ path: [...at, "stable"], message: 'required: the stable slot, "blue" or "green" (or set image to let remedy pick the idle slot)' });
    if (s.slots === undefined) out.push({ path: [...at, "slots"], message: "required: the slots block { blue?: { image }, green?: { image } } (or set image to let remedy pick the idle slot)" });
    return;
  }
  if (s.confirmRecordedImage !== undefined) {
    out.push({ path: [...at, "confirmRecordedImage"], message: "only applies with image (image mode), where the live slot's image comes from release state; with slots, config names every image" });
  }
  if (s.version !== undefined) {
    out.push({ path: [...at, "version"], message: "only applies with image (image mode); with slots, set slots.<slot>.version" });
  }
  checkSlotMode(s as RawService & { stable: Slot; slots: NonNullable<RawService["slots"]> }, at, out);
}

export function checkSlotMode(s: RawService & { stable: Slot; slots: NonNullable<RawService["slots"]> }, at: Path, out: Issue[]): void {
  for (const slot of SLOTS) {
    const spec = s.slots[slot];
    if (spec === undefined) continue;
    const resolved = slotVersion(spec);
    if ("error" in resolved) out.push({ path: [...at, "slots", slot, resolved.key], message: resolved.error });
  }
  if (s.slots[s.stable] === undefined) {
    out.push({
      path: [...at, "slots", s.stable],
      message: `required: the stable slot is "${s.stable}", so slots.${s.stable}.image must be set (or set stable to the slot that has an image)`,
    });
  }
  const candidate = otherSlot(s.stable);
  const weight = s.candidate?.weight ?? 0;
  if (weight > 0 && s.slots[candidate] === undefined) {
    out.push({
      path: [...at, "candidate", "weight"],
      message: `is ${weight} but the candidate slot "${candidate}" has no image; set slots.${candidate}.image or weight 0`,
    });
  }
  // A slot that receives traffic must have pods: a slot scaled to 0 behind a weight is an empty
  // target group, and the ALB answers 503 to its share of requests.
  const replicasOf = (slot: Slot) => s.slots[slot]?.replicas ?? s.replicas ?? defaults.DEFAULT_REPLICAS;
  const effectiveWeight = s.hotfix !== undefined ? 100 : weight;
  if (s.slots[s.stable] !== undefined && effectiveWeight < 100 && replicasOf(s.stable) === 0) {
    out.push({
      path: [...at, ...(s.slots[s.stable]?.replicas === 0 ? ["slots", s.stable, "replicas"] : ["replicas"])],
      message: `is 0 but the stable slot "${s.stable}" receives ${100 - effectiveWeight}% of traffic; an empty target group answers 503 — give it at least 1 replica`,
    });
  }
  if (s.slots[candidate] !== undefined && effectiveWeight > 0 && replicasOf(candidate) === 0) {
    out.push({
      path: [...at, ...(s.slots[candidate]?.replicas === 0 ? ["slots", candidate, "replicas"] : ["replicas"])],
      message: `is 0 but the candidate slot "${candidate}" receives ${effectiveWeight}% of traffic; an empty target group answers 503 — give it at least 1 replica or weight 0`,
    });
  }
  if (s.hotfix !== undefined) {
    if (s.slots[candidate] === undefined) {
      out.push({
        path: [...at, "hotfix"],
        message: `needs the hotfix image in slots.${candidate}.image (the slot that is not stable); hotfix mode releases it to 100%`,
      });
    }
    if (s.candidate?.weight !== undefined && s.candidate.weight !== 100) {
      out.push({
        path: [...at, "candidate", "weight"],
        message: `is ${s.candidate.weight} but a hotfix goes straight to full traffic; remove candidate.weight or set 100`,
      });
    }
  }
}

/** Rules every service follows, in image mode or slot mode. */
export function checkCommon(s: RawService, at: Path, out: Issue[]): void {
  checkLegacyLanes(s, at, out);
  for (const [name, value] of Object.entries(s.env ?? {})) {
    if (typeof value === "string" && (SECRET_ENV_NAME.test(name) || URL_WITH_PASSWORD.test(value))) {
      out.push({
        path: [...at, "env", name],
        message: `${URL_WITH_PASSWORD.test(value) ? "is a URL with a password" : "looks like a secret"} but is plaintext in stack config and in the Deployment; store it in a Kubernetes Secret and use { secretKeyRef: { name, key } }`,
      });
    }
  }
  const hosts = s.routing.hosts ?? [];
  const paths = s.routing.paths ?? [];
  if (s.strategy !== undefined && s.strategy.kind !== "manual" && s.candidate?.weight !== undefined && s.hotfix === undefined) {
    out.push({
      path: [...at, "candidate", "weight"],
      message: `cannot be combined with strategy ${s.strategy.kind}: the release driver sets the candidate's weight step by step; remove candidate.weight (or use strategy: { kind: manual })`,
    });
  }
  if (s.strategy?.kind === "steps") {
    try {
      normalizeStrategy({ kind: "steps", steps: s.strategy.steps, bakeMinutes: 0 });
    } catch (err) {
      if (!(err instanceof StrategyError)) throw err;
      out.push({ path: [...at, "strategy"], message: err.message });
    }
  }
  if (s.preTraffic !== undefined) {
    const kinds = [s.preTraffic.http, s.preTraffic.lambda].filter((k) => k !== undefined).length;
    if (kinds !== 1) {
      out.push({ path: [...at, "preTraffic"], message: `needs exactly one of http or lambda, got ${kinds === 0 ? "neither" : "both"}` });
    }
    const progressive = s.hotfix === undefined && s.strategy?.kind !== "manual" && (s.strategy !== undefined || s.image !== undefined);
    if (!progressive) {
      out.push({ path: [...at, "preTraffic"], message: "only applies to a progressive release (strategy canary, linear, allAtOnce or steps, or image mode): the release driver runs it before the first step" });
    }
    if (s.preTraffic.http !== undefined && s.testRoute === undefined) {
      out.push({ path: [...at, "testRoute"], message: "required by preTraffic.http: the check reaches the candidate (at 0%) through the header-matched test rule; add testRoute { priority }" });
    }
  }
  if (s.testRoute !== undefined) {
    if (s.testRoute.priority >= s.routing.priority) {
      out.push({
        path: [...at, "testRoute", "priority"],
        message: `${s.testRoute.priority} must be lower than routing.priority ${s.routing.priority}: the listener evaluates lower priorities first, and the main rule would answer the test requests`,
      });
    }
    // The test rule reaches a candidate at 0%, from anywhere the ALB is reachable: it needs a
    // secret header value or a source-IP condition, never a guessable "1".
    if (s.testRoute.value === undefined && s.testRoute.sourceCidrs === undefined) {
      out.push({
        path: [...at, "testRoute", "value"],
        message: `required (or testRoute.sourceCidrs): without a secret value anyone who sends the header reaches the candidate at 0%; set one with pulumi config set --secret --path 'remedy:services[${String(at[1])}].testRoute.value' "$(openssl rand -hex 16)", or limit the test rule to your network with sourceCidrs`,
      });
    }
    const cidrs = s.testRoute.sourceCidrs?.length ?? 0;
    if (hosts.length + paths.length + 1 + cidrs > defaults.MAX_RULE_CONDITION_VALUES) {
      out.push({
        path: [...at, "testRoute"],
        message: `the test rule needs the ${hosts.length + paths.length} host/path values plus its header${cidrs > 0 ? ` and ${cidrs} source CIDRs` : ""}, over the ALB's ${defaults.MAX_RULE_CONDITION_VALUES}; use fewer hosts, paths or CIDRs`,
      });
    }
  }
  if (hosts.length + paths.length === 0) {
    out.push({ path: [...at, "routing"], message: "needs at least one of hosts or paths, or the rule would match nothing" });
  }
  if (hosts.length + paths.length > defaults.MAX_RULE_CONDITION_VALUES) {
    out.push({
      path: [...at, "routing"],
      message: `has ${hosts.length + paths.length} host/path values; an ALB rule allows at most ${defaults.MAX_RULE_CONDITION_VALUES} — use wildcards or split the service`,
    });
  }
  for (const kind of ["errorRate", "latencyP99", "unhealthyHosts", "connectionErrors"] as const) windowRules(s.alarms?.[kind], [...at, "alarms", kind], out);
  alarmRules(s.alarms, [...at, "alarms"], out);
  // Compare against the request that will be applied, defaults included: a limit below the
  // default request is rejected by Kubernetes just the same.
  const defaultRequests = { cpu: defaults.DEFAULT_CPU_REQUEST, memory: defaults.DEFAULT_MEMORY_REQUEST };
  for (const kind of ["cpu", "memory"] as const) {
    const request = s.resources?.requests?.[kind] ?? defaultRequests[kind];
    const limit = s.resources?.limits?.[kind];
    if (limit !== undefined && compareQuantity(limit, request) < 0) {
      out.push({
        path: [...at, "resources", "limits", kind],
        message: `${limit} is below the request ${request}; Kubernetes rejects limits below requests`,
      });
    }
  }
}

/** CloudWatch's longest evaluation window: 1 day for periods under an hour, else 7 days. */
export function maxAlarmWindowSeconds(periodSeconds: number): number {
  return periodSeconds < 3600 ? 86_400 : 604_800;
}

/**
 * An alarm's window, defaults applied as core/config/service.ts alarmWindow applies them:
 * datapoints within the evaluated periods, and the periods within what CloudWatch evaluates.
 */
function windowRules(w: { periodSeconds?: number; evaluationPeriods?: number; datapointsToAlarm?: number } | undefined, at: Path, out: Issue[]): void {
  const evaluation = w?.evaluationPeriods ?? defaults.DEFAULT_ALARM_EVALUATION_PERIODS;
  const datapoints = w?.datapointsToAlarm ?? Math.min(defaults.DEFAULT_ALARM_DATAPOINTS_TO_ALARM, evaluation);
  if (datapoints > evaluation) {
    out.push({ path: [...at, "datapointsToAlarm"], message: `${datapoints} exceeds evaluationPeriods ${evaluation}; an alarm cannot need more breaching periods than it evaluates` });
  }
  const period = w?.periodSeconds ?? defaults.DEFAULT_ALARM_PERIOD_SECONDS;
  if (period * evaluation > maxAlarmWindowSeconds(period)) {
    out.push({ path: [...at, "evaluationPeriods"], message: `${evaluation} periods of ${period} s exceed ${period < 3600 ? "one day" : "seven days"}, the longest window CloudWatch evaluates at this period` });
  }
}

/** Placeholders whose value differs between the two slots. */
const SLOT_PLACEHOLDER = /\{(slot|version|targetGroup|otherSlot|otherTargetGroup)\}/;

/** Metric math functions and keywords are upper case; lower-case words are metric ids. */
const EXPRESSION_ID = /(?<![A-Za-z0-9_."'])([a-z][A-Za-z0-9_]*)(?![A-Za-z0-9_(])/g;

/** The metric ids an expression refers to (words starting lower case, outside strings, not called). */
export function expressionIds(expression: string): string[] {
  const unquoted = expression.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  return [...new Set([...unquoted.matchAll(EXPRESSION_ID)].map((m) => m[1]))];
}

/** Relative and custom alarms: the rules their shapes cannot state. */
function alarmRules(a: RawService["alarms"], at: Path, out: Issue[]): void {
  const r = a?.relative;
  if (r && r.errorRatePoints === undefined && r.latencyRatio === undefined) {
    out.push({ path: [...at, "relative"], message: "sets neither errorRatePoints nor latencyRatio; set one (e.g. errorRatePoints: 2) or remove `relative`" });
  }
  if (r && r.latencyFloorSeconds !== undefined && r.latencyRatio === undefined) {
    out.push({ path: [...at, "relative", "latencyFloorSeconds"], message: "only applies with latencyRatio; set latencyRatio or remove it" });
  }
  const seen = new Map<string, number>();
  (a?.custom ?? []).forEach((c, i) => {
    const here = [...at, "custom", i];
    const first = seen.get(c.name);
    if (first !== undefined) out.push({ path: [...here, "name"], message: `"${c.name}" is already the name of custom alarm ${first}; names must be unique in the service` });
    else seen.set(c.name, i);
    if ((c.metric === undefined) === (c.expression === undefined)) {
      out.push({ path: here, message: "needs exactly one of `metric` (one metric and a statistic) or `expression` (metric math over `metrics`)" });
    }
    if (c.metric !== undefined && c.metrics !== undefined) {
      out.push({ path: [...here, "metrics"], message: "only applies with `expression`; with `metric` remove `metrics`" });
    }
    if (c.expression !== undefined) {
      const ids = Object.keys(c.metrics ?? {});
      if (ids.length === 0) out.push({ path: [...here, "metrics"], message: "required with `expression`: the metrics it refers to, by id, e.g. { errors: { namespace, name, statistic } }" });
      else if (ids.length > 10) out.push({ path: [...here, "metrics"], message: `has ${ids.length} metrics; a CloudWatch metric math alarm takes at most 10` });
      for (const id of expressionIds(c.expression)) {
        if (!ids.includes(id)) out.push({ path: [...here, "expression"], message: `refers to "${id}", which is not a key of \`metrics\` (${ids.join(", ") || "none"}); metric math functions are upper case (FILL, IF, ...)` });
      }
    }
    // One definition makes one alarm per slot: a rolling-back alarm whose metrics name no slot
    // reads the same series on both slots, so the stable's failure would roll back a healthy
    // candidate.
    // Its metrics, each with where it is written.
    const metrics = c.metric ? [["metric", c.metric] as const] : Object.entries(c.metrics ?? {}).map(([id, m]) => [`metrics.${id}`, m] as const);
    if ((c.action ?? "rollback") === "rollback" && metrics.length > 0 && !metrics.some(([, m]) => Object.values(m.dimensions ?? {}).some((v) => SLOT_PLACEHOLDER.test(v)))) {
      out.push({
        path: c.metric ? [...here, "metric", "dimensions"] : [...here, "metrics"],
        message: 'names no slot ({slot}, {version}, {targetGroup}, {otherSlot} or {otherTargetGroup} in a dimension value), so both slots\' alarms would read the same series and a failing stable would roll back a healthy candidate; add e.g. Slot: "{slot}" (and publish that dimension), or set action: page',
      });
    }
    windowRules(c, here, out);
    const period = c.periodSeconds ?? defaults.DEFAULT_ALARM_PERIOD_SECONDS;
    if (period < 60) {
      for (const [where, m] of metrics) {
        if (m.namespace.startsWith("AWS/")) {
          out.push({ path: [...here, "periodSeconds"], message: `${period} s needs a high-resolution metric, but ${where} is in ${m.namespace}, which AWS publishes per minute or slower; use 60, or a metric your service publishes with StorageResolution 1 (EMF or PutMetricData)` });
        }
      }
    }
  });
}
