/**
 * The gates over migration plans: may this contract run, may this version start, may this
 * deployment apply this phase, may this abort run. Pure: no I/O.
 */
import { PHASES, type MigrationPhase, type MigrationPlan } from "./plan";

/**
 * Refuses to abort (undo expand/backfill of) a plan while a version in the rollback window uses
 * a column its expand added: undoing would break that version.
 */
export function checkAbort(plan: MigrationPlan, window: readonly VersionUsage[]): string[] {
  const { added } = columnChanges(plan, "expand");
  return added.flatMap((col) => {
    const users = window.filter((v) => v.columns.some((c) => columnMatches(col, c)));
    return users.length === 0
      ? []
      : [`abort of ${plan.id} drops ${col}, used by ${users.map((u) => `${u.service} ${u.version} (${u.role})`).join(", ")}; roll those versions back first`];
  });
}

/** Columns whose existing rows get their values in the backfill phase (a rename's new column). */
export function backfilledColumns(plan: MigrationPlan): string[] {
  return plan.operations.flatMap((o) => (o.op === "renameColumn" ? [`${o.table}.${o.to}`] : []));
}

/**
 * What a version needs from the live database before it may start: each column it uses exists,
 * and a column a plan fills by backfill has that backfill recorded in the ledger. The in-cluster
 * check (`remedy migrate check`) runs this against the real ledger, not the config's `applied`.
 */
export function checkUsesAgainstLedger(columns: readonly string[], live: ReadonlySet<string>, ledger: ReadonlySet<string>, plans: readonly MigrationPlan[]): string[] {
  const issues: string[] = [];
  for (const c of columns) {
    if (!live.has(c)) {
      const plan = plans.find((p) => columnChanges(p, "expand").added.some((a) => columnMatches(a, c)));
      issues.push(`${c} does not exist in the database${plan ? `; ${plan.id}'s expand phase adds it and has not run` : ""}`);
      continue;
    }
    for (const p of plans) {
      if (backfilledColumns(p).includes(c) && !ledger.has(`${p.id}:backfill`)) {
        issues.push(`${c} exists but ${p.id}'s backfill has not completed (ledger ${"remedy_migrations"}): existing rows still read NULL`);
      }
    }
  }
  return issues;
}

/** True when `column` (`table.column`) is `pattern` or falls under a `table.*` pattern. */
export function columnMatches(pattern: string, column: string): boolean {
  return pattern.endsWith(".*") ? column.startsWith(pattern.slice(0, -1)) : pattern === column;
}


/** A column a contract makes NOT NULL (`column`), and a column whose NULLs reach it (`via`: a rename's old column, through the dual-write trigger). */
export interface NotNullChange {
  readonly column: string;
  readonly via?: string;
}

/**
 * Columns (`table.column`) a phase adds and removes, and those its contract makes NOT NULL
 * (`notNull`; a rename's old column is there too, `via` it, since the trigger copies its NULLs across).
 */
export function columnChanges(plan: MigrationPlan, phase: MigrationPhase): { added: string[]; removed: string[]; notNull: NotNullChange[] } {
  const added: string[] = [];
  const removed: string[] = [];
  const notNull: NotNullChange[] = [];
  for (const o of plan.operations) {
    if (phase !== "contract") break;
    if (o.op === "setNotNull") notNull.push({ column: `${o.table}.${o.column}` });
    if (o.op === "renameColumn" && o.notNull) notNull.push({ column: `${o.table}.${o.to}` }, { column: `${o.table}.${o.to}`, via: `${o.table}.${o.from}` });
  }
  for (const o of plan.operations) {
    if (o.op === "addColumn" && phase === "expand") added.push(`${o.table}.${o.column}`);
    if (o.op === "renameColumn" && phase === "expand") added.push(`${o.table}.${o.to}`);
    if (o.op === "renameColumn" && phase === "contract") removed.push(`${o.table}.${o.from}`);
    if (o.op === "dropColumn" && phase === "contract") removed.push(`${o.table}.${o.column}`);
    if (o.op === "dropTable" && phase === "contract") removed.push(`${o.table}.*`);
    if (o.op === "renameTable" && phase === "expand") added.push(`${o.to}.*`);
    if (o.op === "renameTable" && phase === "contract") removed.push(`${o.from}.*`);
    if (o.op === "sql" && o.phase === phase) {
      added.push(...(o.adds ?? []));
      removed.push(...(o.removes ?? []));
    }
  }
  return { added, removed, notNull };
}

// ---------------------------------------------------------------------------------------------
// The gate.

/** What one deployed version of a service reads and writes. */
export interface VersionUsage {
  readonly service: string;
  readonly version: string;
  /** Its role in the rollback window: stable, candidate, previous (last promoted away). */
  /** `legacy`: a declared legacy lane's version, a reader like a rollback target until retired (issue 37, 6). */
  readonly role: "stable" | "candidate" | "previous" | "legacy";
  /** Columns it reads or writes, as `table.column`. */
  readonly columns: readonly string[];
  /** Columns it may write NULL to (`table.column`): a NOT NULL contract waits until it is gone. */
  readonly writesNull?: readonly string[];
}

/**
 * Refuses a contract phase while any version in the rollback window still uses a column it
 * removes. Returns one message per blocked column; empty = allowed.
 */
export function checkContract(plan: MigrationPlan, window: readonly VersionUsage[]): string[] {
  const { removed, notNull } = columnChanges(plan, "contract");
  const who = (v: VersionUsage) => `${v.service} ${v.version} (${v.role})`;
  const nullWriters = notNull.flatMap(({ column, via }) => {
    // The column versions write (a rename's old column: the trigger copies its NULLs into the new one).
    const col = via ?? column;
    const it = via ? `${via} (the dual-write trigger copies it into ${column})` : "it";
    // Fail closed: a version that uses the column and does not say whether it writes NULL there
    // might, and would fail on every such write after a rollback.
    const undeclared = window.filter((v) => v.writesNull === undefined && v.columns.some((c) => columnMatches(col, c)));
    const writers = window.filter((v) => (v.writesNull ?? []).includes(col));
    return [
      ...(undeclared.length === 0
        ? []
        : [
            `contract of ${plan.id} makes ${column} NOT NULL, but ${undeclared.map(who).join(", ")} use${undeclared.length === 1 ? "s" : ""} ${it} without saying whether ${undeclared.length === 1 ? "it writes" : "they write"} NULL there; ` +
              `set database.writesNull for ${undeclared.map((v) => `"${v.version}"`).join(", ")} (the columns that version may write NULL to, [] if none; in a --window file: writesNull) and run the contract again`,
          ]),
      ...(writers.length === 0
        ? []
        : [
            `contract of ${plan.id} makes ${column} NOT NULL, but ${writers.map(who).join(", ")} may write NULL to ${it} and would fail on every such write after a rollback; ` +
              "wait until no version in the rollback window writes NULL there (database.writesNull)",
          ]),
    ];
  });
  const uses = (v: VersionUsage, col: string) => v.columns.some((c) => columnMatches(col, c));
  return nullWriters.concat(removed.flatMap((col) => {
    const users = window.filter((v) => uses(v, col));
    return users.length === 0
      ? []
      : [
          `contract of ${plan.id} drops ${col}, still used by ${users.map((u) => `${u.service} ${u.version} (${u.role})`).join(", ")}; ` +
            "wait until no version in the rollback window uses it (promote past it and let the rollback window end)",
        ];
  }));
}

/**
 * Refuses a code release whose candidate or rollback target uses a column the live schema does
 * not have. `liveColumns` are `table.column` as they exist in the database now.
 */
export function checkRelease(liveColumns: ReadonlySet<string>, versions: readonly VersionUsage[], plans: readonly MigrationPlan[] = []): string[] {
  return versions.flatMap((v) =>
    v.columns
      .filter((c) => !liveColumns.has(c))
      .map((c) => {
        const expands = plans.find((p) => columnChanges(p, "expand").added.some((a) => columnMatches(a, c)));
        const contracted = plans.find((p) => columnChanges(p, "contract").removed.some((r) => columnMatches(r, c)));
        const fix = expands ? `apply the expand phase of ${expands.id} first` : contracted ? `${contracted.id} already removed it; this version can no longer run` : "add it with a migration first";
        return `${v.service} ${v.version} (${v.role}) uses ${c}, which the live schema does not have; ${fix}`;
      }),
  );
}

/**
 * The deployment-time gate: the phase this deployment runs (`run`) must be the next one of its
 * plan; a contract must not drop what a version in the rollback window uses; and every version
 * in the window must find its columns in the schema as it will be after this deployment.
 * @param applied phases applied by earlier deployments, `<plan id>:<phase>`.
 */
export function checkMigrationDeployment(
  plans: readonly MigrationPlan[],
  applied: readonly string[],
  run: { readonly plan: string; readonly phase: MigrationPhase } | undefined,
  window: readonly VersionUsage[],
): string[] {
  const issues: string[] = [];
  const known = new Set(plans.flatMap((p) => PHASES.map((ph) => `${p.id}:${ph}`)));
  for (const a of applied) if (!known.has(a)) issues.push(`database.applied: ${a} is not a phase of any plan (known plans: ${plans.map((p) => p.id).join(", ") || "none"})`);
  const after = new Set(applied);
  if (run) {
    const plan = plans.find((p) => p.id === run.plan);
    if (!plan) {
      issues.push(`database.run.plan: no plan ${run.plan} (known plans: ${plans.map((p) => p.id).join(", ") || "none"})`);
    } else {
      const name = `${run.plan}:${run.phase}`;
      if (after.has(name)) issues.push(`database.run: ${name} is already applied; remove database.run or run the next phase`);
      const missing = PHASES.slice(0, PHASES.indexOf(run.phase)).map((ph) => `${run.plan}:${ph}`).filter((n) => !after.has(n));
      if (missing.length > 0) issues.push(`database.run: ${name} needs ${missing.join(", ")} first; phases run in order, one per deployment`);
      if (run.phase === "contract") issues.push(...checkContract(plan, window));
      after.add(name);
    }
  }
  for (const plan of plans) {
    const added = columnChanges(plan, "expand").added;
    const filled = backfilledColumns(plan);
    const removed = columnChanges(plan, "contract").removed;
    const contracting = run?.plan === plan.id && run.phase === "contract";
    for (const v of window) {
      for (const c of v.columns) {
        if (added.some((a) => columnMatches(a, c)) && !after.has(`${plan.id}:expand`)) {
          issues.push(`${v.service} ${v.version} (${v.role}) uses ${c}, which ${plan.id} adds in its expand phase, not applied yet; run that phase first (database.run)`);
        }
        if (filled.includes(c) && after.has(`${plan.id}:expand`) && !after.has(`${plan.id}:backfill`)) {
          issues.push(`${v.service} ${v.version} (${v.role}) uses ${c}, which ${plan.id} fills in its backfill phase, not applied yet: existing rows would read NULL; run that phase first (database.run)`);
        }
        if (removed.some((r) => columnMatches(r, c)) && after.has(`${plan.id}:contract`) && !contracting) {
          issues.push(`${v.service} ${v.version} (${v.role}) uses ${c}, which ${plan.id}'s contract phase already removed; this version can no longer run`);
        }
      }
    }
  }
  return issues;
}
