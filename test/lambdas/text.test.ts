import { strict as assert } from "node:assert";
import fc from "fast-check";
import { printable, truncate } from "../../lambdas/commons/text";

describe("lambdas/commons/text: recorded text made safe to show", () => {
  it("turns escape sequences, control characters and line breaks into visible, inert characters", () => {
    assert.equal(printable("a\u001b[31mred\u001b[0m"), "a?red?");
    assert.equal(printable("title\u001b]0;owned\u0007!"), "title?!");
    assert.equal(printable("x\u001b]8;;https://evil\u001b\\link"), "x?link");
    assert.equal(printable("tab\there\r\nnext\u0000\u007f\u009b"), "tab here  next???");
    assert.equal(printable("Threshold Crossed: 5xx rate 12.5 >= 5.0 — ünïcode ok"), "Threshold Crossed: 5xx rate 12.5 >= 5.0 — ünïcode ok");
    assert.equal(truncate("abcdef", 3), "abc... [truncated 3 characters]");
  });

  it("takes out bidi overrides, isolates and zero-width characters, which make text read other than it displays (issue 35, 11)", () => {
    assert.equal(printable("rolled back by \u202eevil\u202c ok"), "rolled back by ?evil? ok");
    assert.equal(printable("a\u200bb\u2066c\u2069d\ufeffe\u061cf"), "a?b?c?d?e?f");
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 100 }), (s) => !/[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/.test(printable(s))), { numRuns: 500 });
  });

  it("never leaves a control character, whatever the input (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (s) => !/[\u0000-\u001f\u007f-\u009f]/.test(printable(s))), // eslint-disable-line no-control-regex
      { numRuns: 1000 },
    );
  });
});
