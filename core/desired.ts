/**
 * Image mode: a service names only the version it should run (`image`, optional `version`) and
 * remedy picks the slot from release state. The live stable version keeps its slot; a new
 * version goes into the idle one (the slot that is not stable) and the strategy releases it; the
 * version being released (or held after a rollback) stays where it is. Pure: the program reads
 * release state and passes it in, before any gate or resource sees the config.
 */
import { ConfigError, type ConfigIssue, type ServiceSpec, type SlotSpec, type StackConfig } from "./config";
import { Phase, type ReleaseState, type SlotVersion, rollbackWindowOpen } from "./releaseState";
import { type Slot, otherSlot } from "./slots";

export interface ResolvedReleases {
  readonly config: StackConfig;
  /** What the resolution means for the operator (a warm rollback target replaced...). */
  readonly warnings: readonly string[];
}

/**
 * Puts every image-mode service's version into a slot, from its release state (`undefined`: never
 * deployed, so blue). Slot-mode services are returned as they are.
 * @param now ISO time, to tell whether a rollback window is still open.
 * @throws ConfigError naming `services[i].image` when release state cannot say which image the
 *   live slot runs, or when the new image reuses the live version's label.
 */
export function resolveDesiredReleases(
  config: StackConfig,
  states: ReadonlyMap<string, ReleaseState | undefined>,
  now: string,
  deployed?: ReadonlyMap<string, ReadonlySet<string>> | null,
): ResolvedReleases {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const services = config.services.map((spec, i) => {
    if (!spec.desired || spec.desired.resolved) return spec;
    const r = resolveService(spec, states.get(spec.name), now, `services[${i}]`);
    if (!("issues" in r) && deployed !== undefined) {
      const forged = unverifiedImages(spec, r.spec, deployed);
      if (forged.length > 0) {
        issues.push(
          ...forged.map((image) => ({
            path: `services[${i}].image`,
            message:
              `release state of ${spec.name} records ${image} for its live slot, but this stack's last deployment ran ${[...(deployed?.get(spec.name) ?? [])].join(", ") || "no image of it"}: ` +
              `the release table was written outside remedy, and image mode would deploy what it says. Check the table's history; if you deployed ${image} yourself, set services[${i}].confirmRecordedImage to "${image}"`,
          })),
        );
        return spec;
      }
    }
    if ("issues" in r) {
      issues.push(...r.issues);
      return spec;
    }
    warnings.push(...r.warnings);
    return r.spec;
  });
  if (issues.length > 0) throw new ConfigError(issues, "remedy stack configuration (against release state)");
  return { config: { ...config, services }, warnings };
}

/**
 * Images a resolved image-mode service takes from release state (every slot but the one config
 * names) that this stack's last deployment did not run (`deployed`: its previous `images` output
 * per service; null: no previous outputs) and the operator did not confirm.
 */
function unverifiedImages(spec: ServiceSpec, resolved: ServiceSpec, deployed: ReadonlyMap<string, ReadonlySet<string>> | null): string[] {
  const wanted = spec.desired?.image;
  const fromState = Object.values(resolved.slots)
    .map((s) => s?.image)
    .filter((image): image is string => image !== undefined && image !== wanted);
  const known = deployed?.get(spec.name) ?? new Set<string>();
  return [...new Set(fromState)].filter((image) => !known.has(image) && image !== spec.desired?.confirmRecordedImage);
}

type Resolution = { readonly spec: ServiceSpec; readonly warnings: string[] } | { readonly issues: ConfigIssue[] };

function resolveService(spec: ServiceSpec, state: ReleaseState | undefined, now: string, at: string): Resolution {
  const d = spec.desired as NonNullable<ServiceSpec["desired"]>;
  const want: SlotSpec = { image: d.image, version: d.version, replicas: spec.replicas };
  const done = (stable: Slot, slots: Partial<Record<Slot, SlotSpec>>, role: "stable" | "candidate", warnings: string[] = []): Resolution => ({
    spec: { ...spec, stable, slots, candidateWeight: 0, desired: { ...d, resolved: true, role } },
    warnings,
  });
  if (!state) return done("blue", { blue: want }, "stable");

  const issues: ConfigIssue[] = [];
  const imageOf = (v: SlotVersion, role: string): string | undefined => {
    if (v.image) return v.image;
    issues.push({
      path: `${at}.image`,
      message:
        `release state of ${spec.name} does not record the image of its ${role} version ${v.version} (${v.slot}) (recorded by a remedy before image mode); ` +
        `run one \`pulumi up\` with stable: ${v.slot} and slots.${v.slot}.image set to that image (it records it), then switch back to image`,
    });
    return undefined;
  };
  const sameLabel = (v: SlotVersion, role: string): boolean => {
    if (v.version !== d.version) return false;
    if (v.image && v.image !== d.image) {
      issues.push({
        path: `${at}.version`,
        message: `${d.image} has the version label ${d.version}, which the ${role} ${v.image} (${v.slot}) already carries; a new image needs a new version label (set version)`,
      });
    }
    return true;
  };
  const stable = state.stable.slot;
  const idle = otherSlot(stable);
  const stableSlot = (): SlotSpec | undefined => {
    const image = imageOf(state.stable, "stable");
    return image ? { image, version: state.stable.version, replicas: spec.replicas } : undefined;
  };
  const windowOpen = rollbackWindowOpen(state, now);

  if (sameLabel(state.stable, "live stable")) {
    // Nothing to release. The version promoted away stays in the idle slot while it may still be
    // a rollback target (the program scales it to 0 once its window is over).
    const slots: Partial<Record<Slot, SlotSpec>> = { [stable]: want };
    const prev = state.phase === Phase.Promoted ? state.previous : null;
    if (prev && prev.slot === idle) {
      const image = windowOpen ? imageOf(prev, "warm previous") : prev.image;
      if (image) slots[idle] = { image, version: prev.version, replicas: spec.replicas };
    }
    return issues.length > 0 ? { issues } : done(stable, slots, "stable");
  }
  const current = stableSlot();
  const warnings: string[] = [];
  if (state.candidate && sameLabel(state.candidate, "candidate")) {
    // The release in progress (or held after its rollback: the program keeps it held).
  } else if (windowOpen && state.previous) {
    warnings.push(
      `service ${spec.name}: ${d.version} goes into ${idle}, replacing ${state.previous.version}, the warm rollback target until ${state.rollbackWindowEndsAt}; ` +
        `once ${d.version} starts, a rollback goes to ${state.stable.version}`,
    );
  } else if (state.phase === Phase.Releasing && state.candidate) {
    warnings.push(`service ${spec.name}: ${d.version} replaces candidate ${state.candidate.version} (at ${state.weights[state.candidate.slot]}%) in ${idle}; the new release starts at 0%`);
  }
  if (issues.length > 0 || !current) return { issues };
  return done(stable, { [stable]: current, [idle]: want }, "candidate", warnings);
}
