/** PostgreSQL names as remedy accepts them: shared by config (database.uses) and the migration plan model. */
/**
 * A table, column, constraint or index name as PostgreSQL stores it: case and spaces are kept
 * (every use is double-quoted, so `Order Items`, `createdAt` and reserved words such as `user`
 * work), at most 63 bytes (NAMEDATALEN - 1: PostgreSQL silently truncates longer names, so two
 * could collide). Refused: `"` and backslash (quoting), `.` (it separates table and column in
 * `table.column` references), control characters, and leading or trailing spaces.
 */
export const IDENT_ERROR =
  'must be a name of 1 to 63 bytes without ", \\, ., control characters or leading/trailing spaces (case and inner spaces are kept as written)';
export function identProblem(name: string): string | undefined {
  if (name.length === 0 || Buffer.byteLength(name, "utf8") > 63) return IDENT_ERROR;
  // eslint-disable-next-line no-control-regex
  if (/["\\.\u0000-\u001f\u007f]/.test(name) || name.trim() !== name) return IDENT_ERROR;
  return undefined;
}

/** `table.column`, each part a name as {@link identProblem} accepts it. */
// eslint-disable-next-line no-control-regex
export const COLUMN_REF = /^[^".\\\u0000-\u001f\u007f]+\.[^".\\\u0000-\u001f\u007f]+$/;
