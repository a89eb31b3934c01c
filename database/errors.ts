/** What the migration engine refuses or stops on: each message names the cause and the fix. */
/** A session that held a lock the runner waited for (pg_blocking_pids), as pg_stat_activity shows it. */
export interface Blocker {
  readonly pid: number;
  readonly state: string;
  /** Since when its transaction is open (ISO), when it has one. */
  readonly since: string | null;
  readonly query: string;
}

/** A step could not get its locks within the total wait allowed; names who held them and the fix. */
export class LockTimeoutError extends Error {
  constructor(
    step: string,
    table: string,
    readonly waitedMs: number,
    readonly attempts: number,
    readonly blockers: readonly Blocker[],
    resume: string,
  ) {
    const who =
      blockers.length === 0
        ? "no blocking session was seen at the last attempt (see pg_locks)"
        : `blocked by ${blockers.map((b) => `pid ${b.pid} (${b.state}${b.since ? `, transaction open since ${b.since}` : ""}): ${JSON.stringify(b.query.slice(0, 200))}`).join("; ")}`;
    const fix =
      blockers.length === 0
        ? "try again later"
        : `finish or end ${blockers.length === 1 ? "that session" : "those sessions"} (SELECT pg_terminate_backend(${blockers.map((b) => b.pid).join("), pg_terminate_backend(")})) and run the same command again`;
    super(`${step}: could not lock ${table}: waited ${waitedMs} ms over ${attempts} attempts; ${who}. Fix: ${fix}; ${resume}`);
    this.name = "LockTimeoutError";
  }
}

/** Another runner holds the plan's advisory lock: two runners never apply phases of one plan at once. */
export class MigrationLockedError extends Error {
  constructor(planId: string, holder: string) {
    super(`another remedy migrate is applying ${planId} (advisory lock held by ${holder}); wait for it to finish, or check pg_stat_activity`);
    this.name = "MigrationLockedError";
  }
}

/** A runner option out of range, named with what it must be. */
export class RunnerOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunnerOptionError";
  }
}

/** Advisory lock namespace of remedy migrations (first key of pg_try_advisory_lock(int, int)). */
export const ADVISORY_LOCK_NAMESPACE = 0x72656d; // "rem"

/** The plan does not fit the live database (checked before anything runs); each problem names the operation and the fix. */
export class PlanRefusedError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the plan does not fit the database; nothing was changed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "PlanRefusedError";
  }
}

/** Rows in the table break a constraint the phase was about to validate; it stays NOT VALID, checking new writes. */
export class ViolatingRowsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ViolatingRowsError";
  }
}

/** A phase was refused by the compatibility gate. */
export class ContractRefusedError extends Error {
  constructor(readonly reasons: readonly string[]) {
    super(`contract refused:\n${reasons.map((r) => `  - ${r}`).join("\n")}`);
    this.name = "ContractRefusedError";
  }
}

/**
 * The value a plan fills NULLs with breaks one of the column's constraints (or is not a value of
 * its type): named with the field, the constraint and the fix; nothing of the fill is recorded.
 */
export class FillValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FillValueError";
  }
}
