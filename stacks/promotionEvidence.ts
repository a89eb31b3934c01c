/**
 * What a source environment's release history says of a bundle (issue 38, 4 and 5), read from its
 * release table: the bundle as it recorded it, each release of it (started, completed by the
 * release driver or by hand, ended when another release was promoted over it or it was rolled
 * back) and the rollbacks of it, as the promotion gates take them (core/promotion/gates.ts).
 * The table may be another account's, read through the role the policy names.
 */
import type { ReleaseBundle } from "../core/promotion/bundle";
import type { Incident, SourceEvidence, SourceRelease } from "../core/promotion/gates";
import type { HistoryEntry } from "../core/releaseState";
import type { ReleaseStore } from "../lambdas/commons/releaseStore";

/** The bundle as the source recorded it, if it is a bundle of that id. */
function recordedBundle(raw: unknown, id: string): ReleaseBundle | undefined {
  const b = raw as Partial<ReleaseBundle> | undefined;
  return b && b.id === id && typeof b.image === "string" && typeof b.version === "string" ? (b as ReleaseBundle) : undefined;
}

/** The releases of `bundle` in `history` (oldest first), and what happened to them. */
export function bundleReleases(history: readonly HistoryEntry[], bundle: string): { releases: SourceRelease[]; incidents: Incident[] } {
  const releases: SourceRelease[] = [];
  const incidents: Incident[] = [];
  for (const start of history.filter((h) => h.action === "start-release" && h.bundle === bundle && h.releaseId)) {
    const later = history.filter((h) => h.revision > start.revision);
    const own = later.filter((h) => h.releaseId === start.releaseId);
    const completed = own.find((h) => h.action === "promote");
    const rolledBack = own.find((h) => h.action === "roll-back" && (!completed || h.revision > completed.revision));
    // Moved on: another release promoted over it (or started over it before it completed).
    const after = completed ?? start;
    const next = later.find((h) => h.revision > after.revision && h.releaseId !== start.releaseId && (h.action === "promote" || h.action === "start-release"));
    const movedOn = completed ? later.find((h) => h.revision > completed.revision && h.action === "promote" && h.releaseId !== start.releaseId) : next;
    const ends = [rolledBack?.at, movedOn?.at].filter((t): t is string => t !== undefined).sort();
    releases.push({
      releaseId: start.releaseId as string,
      startedAt: start.at,
      ...(completed ? { completedAt: completed.at, completedBy: completed.by } : {}),
      ...(ends.length > 0 ? { endedAt: ends[0] } : {}),
    });
    if (rolledBack) incidents.push({ at: rolledBack.at, kind: "rollback", what: rolledBack.summary });
  }
  return { releases, incidents };
}

/** The source's evidence of `bundle` for `service`, read now. */
export async function readSourceEvidence(store: ReleaseStore, source: string, service: string, bundle: string, nowMs: number): Promise<SourceEvidence> {
  const [raw, history] = await Promise.all([store.bundle(service, bundle), store.history(service)]);
  const recorded = recordedBundle(raw, bundle);
  const { releases, incidents } = recorded ? bundleReleases(history, bundle) : { releases: [], incidents: [] };
  return { source, readAt: new Date(nowMs).toISOString(), ...(recorded ? { bundle: recorded } : {}), releases, incidents };
}
