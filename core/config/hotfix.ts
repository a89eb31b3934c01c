/**
 * The hotfix stack's config: an isolated copy of prod's live versions, with hotfix images where given.
 */
import { z } from "zod";
import * as defaults from "../defaults";
import { Slot, otherSlot } from "../slots";
import { ConfigError, ConfigIssue, toIssues } from "./errors";
import { cidr, dnsLabel, int, required } from "./fields";
import { type ImageRef, parseImageRef } from "../image";
import { ingressSchema } from "./ingress";
import { EnvValue, HOST_PATTERN, ServiceInput, SlotSpec, envSchema } from "./serviceSchema";
import { StackConfig, kubernetesSchema, parseStackConfig, stackRef, stackSchema } from "./stack";

export const hotfixStackSchema = z.strictObject({
  kubernetes: kubernetesSchema,
  ingress: z.strictObject(ingressSchema.shape, {
    error: required("the hotfix environment's own ingress (vpcId + subnetIds for its own ALB)"),
  }),
  createNamespaces: z.boolean({ error: "must be true or false" }).optional(),
  quotas: stackSchema.shape.quotas,
  rollback: stackSchema.shape.rollback,
  hotfix: z.strictObject(
    {
      prodStack: stackRef('the prod stack to seed from, e.g. "acme/remedy/prod"'),
      host: z
        .string({ error: required('the host name the hotfix environment answers on, e.g. "hotfix.example.com"') })
        .regex(HOST_PATTERN, { error: 'must be a host name such as "hotfix.example.com"' }),
      namespace: dnsLabel("the Kubernetes namespace of the hotfix environment", 63).optional(),
      replicas: int("the replica count per slot in the hotfix environment", 1, 100).optional(),
      hosts: z
        .record(
          z.string(),
          z.string({ error: required("the host name of that service in the hotfix environment") }).regex(HOST_PATTERN, { error: 'must be a host name such as "payments.hotfix.example.com"' }),
          { error: required("a map of service name to its hotfix host name") },
        )
        .optional(),
      env: z
        .record(z.string(), envSchema, { error: required("a map of service name to its environment in the hotfix environment") })
        .optional(),
      images: z
        .record(
          z.string(),
          z.string({ error: required("the hotfix image, pinned by digest") }).refine((v) => typeof parseImageRef(v) === "object" && (parseImageRef(v) as ImageRef).digest !== undefined, {
            error: (i) =>
              `${JSON.stringify(i.input)} must be pinned by digest (<repository>:<tag>@sha256:<64 hex>): prod's hotfix gate compares digests, since a tag can be pushed again after it was tested; find it with \`aws ecr describe-images --repository-name <repository> --image-ids imageTag=<tag>\``,
          }),
          { error: required("a map of service name to hotfix image") },
        )
        .optional(),
      egressCidrs: z.array(cidr()).optional(),
    },
    { error: required("the hotfix block { prodStack, host, images? }") },
  ),
});

export interface HotfixStackConfig {
  readonly raw: z.infer<typeof hotfixStackSchema>;
  readonly prodStack: string;
  readonly host: string;
  readonly namespace: string;
  readonly replicas: number;
  readonly images: Readonly<Record<string, string>>;
  /** Host per service, overriding the derived one. */
  readonly hosts: Readonly<Record<string, string>>;
  /** Environment per service: prod's is never exported to the hotfix stack. */
  readonly env: Readonly<Record<string, Readonly<Record<string, EnvValue>>>>;
  /** Where the hotfix namespace's pods may connect beyond it and DNS (its NetworkPolicy). */
  readonly egressCidrs: readonly string[];
}

/**
 * Validates a hotfix stack's `remedy:*` config (no `services`: they come from prod).
 * @throws ConfigError listing every problem.
 */
export function parseHotfixStackConfig(raw: unknown): HotfixStackConfig {
  if (typeof raw === "object" && raw !== null && "services" in raw) {
    throw new ConfigError(
      [{ path: "services", message: "not allowed in a hotfix stack: services come from prod through hotfix.prodStack; give hotfix images in hotfix.images" }],
      "remedy hotfix stack configuration",
    );
  }
  const result = hotfixStackSchema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(toIssues(hotfixStackSchema, result.error.issues, ""), "remedy hotfix stack configuration");
  }
  const h = result.data.hotfix;
  return {
    raw: result.data,
    prodStack: h.prodStack,
    host: h.host,
    namespace: h.namespace ?? defaults.DEFAULT_HOTFIX_NAMESPACE,
    replicas: h.replicas ?? defaults.DEFAULT_HOTFIX_REPLICAS,
    images: h.images ?? {},
    hosts: h.hosts ?? {},
    env: h.env ?? {},
    egressCidrs: h.egressCidrs ?? [],
  };
}

/** What prod exports for its hotfix stack: every service with only its live (stable) slot. */
export interface HotfixSeed {
  readonly services: readonly ServiceInput[];
}

/** Keys of a service as written that the seed leaves out, and why. */
const UNSEEDED_KEYS = [
  // Replaced by the live slot: the hotfix stack runs prod's stable version.
  "image",
  "version",
  "confirmRecordedImage",
  "stable",
  "slots",
  "candidate",
  // Prod's release modes: the hotfix stack has its own.
  "hotfix",
  "acknowledgeRollback",
  // Never exported: env may carry secrets, and the hotfix namespace has its own Secrets.
  // The hotfix stack takes each service's environment from its own config (hotfix.env).
  "env",
  // The hotfix environment has no API gate: its candidate is the hotfix under test.
  "api",
  // A hotfix goes straight to 100% there: prod's progressive strategy (and its pre-traffic
  // check, which needs one) does not apply.
  "strategy",
  "preTraffic",
  // Its header value is a secret: never in a (plain) stack output. The hotfix environment has
  // no test route (its candidate takes all of its traffic).
  "testRoute",
  // The legacy lane stays prod's: the hotfix environment tests the live version's fix.
  "legacy",
  "legacyOverride",
] as const;

/**
 * Prod's live versions, as the `hotfixSeed` stack output: each service as prod's config wrote it
 * (`rawServices`, `remedy:services`), without {@link UNSEEDED_KEYS}, with only its live (stable)
 * slot from the validated `config` (image mode resolved against release state). The hotfix
 * stack validates it as its own input: the seed crosses a stack boundary, and the hotfix stack
 * applies its own defaults.
 */
export function hotfixSeed(config: StackConfig, rawServices: readonly unknown[]): HotfixSeed {
  return {
    services: config.services.map((spec) => {
      const written = rawServices.find((r): r is Record<string, unknown> => typeof r === "object" && r !== null && (r as { name?: unknown }).name === spec.name);
      if (!written) throw new Error(`hotfixSeed: remedy:services has no service "${spec.name}" (pass the raw services the config was parsed from)`);
      const rest: Record<string, unknown> = { ...written };
      for (const key of UNSEEDED_KEYS) delete rest[key];
      const live = spec.slots[spec.stable] as SlotSpec;
      return { ...rest, stable: spec.stable, slots: { [spec.stable]: { image: live.image, version: live.version } }, candidate: { weight: 0 } } as ServiceInput;
    }),
  };
}

/**
 * The hotfix stack's full configuration: prod's live versions in their own namespace, behind
 * the hotfix host on the hotfix ALB, with each hotfix image as a candidate at 100%.
 * @throws ConfigError naming the key (hotfix.images.<name>, or the derived service) and the fix.
 */
export function hotfixStackConfig(seed: HotfixSeed, h: HotfixStackConfig): StackConfig {
  const known = seed.services.map((s) => s.name);
  const unknown = (["images", "hosts", "env"] as const).flatMap((key) =>
    Object.keys(h[key])
      .filter((n) => !known.includes(n))
      .map((n) => ({ path: `hotfix.${key}.${n}`, message: `prod has no service "${n}" (prod services: ${known.join(", ")})` })),
  );
  // Isolated by more than naming (issue 35, 20): a namespace one of prod's services runs in would
  // put the hotfix Deployments, Services and Secrets beside prod's.
  const shared = seed.services.filter((s) => (s.namespace ?? s.name) === h.namespace);
  if (shared.length > 0) {
    unknown.push({
      path: "hotfix.namespace",
      message: `"${h.namespace}" is where prod runs ${shared.map((s) => s.name).join(", ")}; the hotfix environment needs a namespace of its own (e.g. "hotfix"), or its objects and Secrets sit beside prod's`,
    });
  }
  if (unknown.length > 0) throw new ConfigError(unknown, "remedy hotfix stack configuration");
  const hosts = hotfixHosts(seed, h);
  const services = seed.services.map((s) => {
    const stable = s.stable as Slot;
    const candidate = otherSlot(stable);
    const live = s.slots?.[stable];
    const image = h.images[s.name];
    const env = h.env[s.name];
    // Only the hotfix stack's own env: a seed exported by an older prod may still carry prod's.
    const seeded = { ...s };
    delete seeded.env;
    // The hotfix environment's own ALBs: a prod group it does not define becomes its default one.
    const groups = h.raw.ingress.groups ?? {};
    if (seeded.ingressGroup !== undefined && !(seeded.ingressGroup in groups)) delete seeded.ingressGroup;
    return {
      ...seeded,
      namespace: h.namespace,
      replicas: h.replicas,
      routing: { hosts: [hosts[s.name]], paths: s.routing.paths, priority: s.routing.priority },
      ...(env ? { env } : {}),
      slots: { [stable]: { image: live?.image, version: live?.version }, ...(image ? { [candidate]: { image } } : {}) },
      candidate: { weight: image ? 100 : 0 },
    };
  });
  const config = parseStackConfig({ kubernetes: h.raw.kubernetes, ingress: h.raw.ingress, createNamespaces: h.raw.createNamespaces, quotas: h.raw.quotas, rollback: h.raw.rollback, services });
  return { ...config, isolation: { namespace: h.namespace, egressCidrs: h.egressCidrs } };
}

/**
 * The host each service answers on in the hotfix environment: `hotfix.hosts.<service>` if
 * given; else the hotfix host, as long as the service's paths still tell it apart from every
 * other service there; else `<service>.<hotfix host>` (prod services routed by host alone, or
 * sharing paths across hosts, would otherwise all land on one host with the same rule).
 */
export function hotfixHosts(seed: HotfixSeed, h: Pick<HotfixStackConfig, "host" | "hosts">): Record<string, string> {
  const pathsKey = (s: ServiceInput) => JSON.stringify([...(s.routing.paths ?? [])].sort());
  const sharing = new Map<string, number>();
  for (const s of seed.services) if (h.hosts[s.name] === undefined) sharing.set(pathsKey(s), (sharing.get(pathsKey(s)) ?? 0) + 1);
  const out: Record<string, string> = {};
  for (const s of seed.services) {
    const explicit = h.hosts[s.name];
    out[s.name] = explicit ?? ((s.routing.paths ?? []).length > 0 && sharing.get(pathsKey(s)) === 1 ? h.host : `${s.name}.${h.host}`);
  }
  return out;
}

/** Longest a hotfix mode may stay on prod before it must be renewed or turned into a normal release. */
export const MAX_HOTFIX_DAYS = 14;

/**
 * Prod services in hotfix mode must ship an image the hotfix stack deployed (its `testedImages`
 * output), with an expiry in the future and at most {@link MAX_HOTFIX_DAYS} ahead.
 * @throws ConfigError listing every refused service, before anything is deployed.
 */
export function checkHotfixReleases(config: StackConfig, tested: Readonly<Record<string, string>> | undefined, now: string): void {
  const issues: ConfigIssue[] = [];
  config.services.forEach((s, i) => {
    if (!s.hotfix) return;
    const image = s.slots[otherSlot(s.stable)]?.image;
    const at = `services[${i}]`;
    const expires = Date.parse(s.hotfix.expires);
    if (expires <= Date.parse(now)) {
      issues.push({ path: `${at}.hotfix.expires`, message: `hotfix mode expired at ${s.hotfix.expires}; remove the hotfix block (ship as a normal release) or set a new expiry` });
    } else if (expires - Date.parse(now) > MAX_HOTFIX_DAYS * 86_400_000) {
      issues.push({ path: `${at}.hotfix.expires`, message: `${s.hotfix.expires} is more than ${MAX_HOTFIX_DAYS} days away; a hotfix mode must be short-lived` });
    }
    const deployed = tested?.[s.name];
    const path = `${at}.slots.${otherSlot(s.stable)}.image`;
    if (!deployed) {
      issues.push({ path, message: `the hotfix stack ${config.hotfixStack ?? "?"} has no tested image for ${s.name}; deploy ${image ?? "the hotfix"} there and test it first` });
      return;
    }
    // The bytes, not a name (issue 35, 20): a tag can be pushed again after the hotfix stack
    // tested it, so both sides must name the same repository and digest.
    const want = parseImageRef(deployed);
    const got = image === undefined ? undefined : parseImageRef(image);
    if (typeof got === "object" && typeof want === "object" && got.digest === undefined) {
      issues.push({ path, message: `${image ?? "(none)"} is not pinned by digest; ship the digest the hotfix stack tested: ${want.repository}${got.tag ? `:${got.tag}` : ""}@${want.digest ?? "?"}` });
    } else if (typeof got !== "object" || typeof want !== "object" || got.repository !== want.repository || got.digest !== want.digest) {
      issues.push({ path, message: `${image ?? "(none)"} was never deployed to the hotfix stack ${config.hotfixStack ?? "?"} (it tested ${deployed}); test this image there first` });
    }
  });
  if (issues.length > 0) throw new ConfigError(issues, "hotfix release");
}
