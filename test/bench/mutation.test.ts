/** The mutation report's arithmetic: which mutants count, which are message text, what survives. */
import { strict as assert } from "node:assert";
import { isMessageMutant, score } from "../../bench/mutation";

const source = [
  'const ALB = "AWS/ApplicationELB";',
  'if (x < 0) throw new Error(`bad x ${x}: use a number >= 0`);',
  'const why = `rolled back${rb ? ` by ${rb.by}` : ""} at ${at ?? "?"}`;',
  'const empty = "";',
].join("\n");
const mutant = (line: number, start: number, end: number, status: string, mutatorName = "StringLiteral") => ({
  mutatorName,
  status,
  replacement: '""',
  location: { start: { line, column: start }, end: { line, column: end } },
});

describe("bench/mutation: scores", () => {
  it("counts message text apart from behaviour, and killed and timed-out mutants as caught", () => {
    const ns = mutant(1, 13, 33, "Survived"); // "AWS/ApplicationELB": behaviour
    const msg = mutant(2, 28, 59, "Survived"); // the error message
    const filler = mutant(3, 49, 51, "Survived"); // "" inside a template
    const placeholder = mutant(3, 64, 67, "Killed"); // "?" inside a template
    const plainEmpty = mutant(4, 15, 17, "Timeout"); // "" outside a template: behaviour
    const cond = mutant(2, 5, 10, "Killed", "ConditionalExpression");
    const broken = mutant(2, 5, 10, "CompileError", "ConditionalExpression");
    assert.deepEqual([ns, msg, filler, placeholder, plainEmpty, cond].map((m) => isMessageMutant(source, m)), [false, true, true, true, false, false]);
    const s = score("m", { files: { "core/m.ts": { source, mutants: [ns, msg, filler, placeholder, plainEmpty, cond, broken] } } });
    assert.deepEqual([s.mutants, s.messageMutants, s.all, s.behaviour], [6, 3, 50, 66.7]);
    assert.deepEqual(s.survivors, ['core/m.ts:1 StringLiteral: "\\"AWS/ApplicationELB\\"" -> "\\"\\""']);
  });

  it("scores a module without valid mutants as 100%", () => {
    assert.deepEqual(score("m", { files: {} }), { module: "m", all: 100, behaviour: 100, mutants: 0, messageMutants: 0, survivors: [] });
  });
});
