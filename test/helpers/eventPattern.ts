/**
 * EventBridge pattern matching as moto implements it (moto.events.models.EventPattern: the
 * matcher behind moto_server's rules, with `$or`, `prefix`, `anything-but`, numeric filters).
 * moto's TestEventPattern API answers nothing, so this calls the matcher itself, in the Python
 * that has moto (`MOTO_PYTHON`, default python3). Arrays of objects are not flattened there as
 * EventBridge does: a pattern branch relying on that is unproven by it.
 */
import { spawnSync } from "node:child_process";

const SCRIPT = `
import json, sys
from moto.events.models import EventPattern
pairs = json.load(sys.stdin)
print(json.dumps([EventPattern.load(json.dumps(p)).matches_event(e) for p, e in pairs]))
`;

/** Whether each event matches its pattern, in order. @throws when moto cannot be loaded, saying so. */
export function eventPatternMatches(pairs: readonly (readonly [object, object])[]): boolean[] {
  const python = process.env.MOTO_PYTHON ?? "python3";
  const r = spawnSync(python, ["-c", SCRIPT], { input: JSON.stringify(pairs), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`moto's EventBridge pattern matcher is needed (the Python of moto_server, ${python}; set MOTO_PYTHON): ${r.error?.message ?? r.stderr.trim().split("\n").at(-1) ?? `exit ${String(r.status)}`}`);
  return JSON.parse(r.stdout) as boolean[];
}
