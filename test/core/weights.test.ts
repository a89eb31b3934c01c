import { strict as assert } from "node:assert";
import * as fc from "fast-check";
import { SLOTS, Slot, otherSlot } from "../../core/slots";
import { splitTraffic } from "../../core/weights";

describe("core/weights: splitTraffic", () => {
  it("gives the stable slot 100 minus the candidate weight, always summing to 100", () => {
    fc.assert(
      fc.property(fc.constantFrom(...SLOTS), fc.integer({ min: 0, max: 100 }), (stable, weight) => {
        const split = splitTraffic(stable, weight);
        assert.equal(split.stableSlot, stable);
        assert.equal(split.candidateSlot, otherSlot(stable));
        assert.equal(split.weights[stable], 100 - weight);
        assert.equal(split.weights[otherSlot(stable)], weight);
        assert.equal(split.weights.blue + split.weights.green, 100);
      }),
    );
  });

  it("refuses weights outside 0..100 or not whole percents", () => {
    for (const bad of [-1, 101, 12.5, Number.NaN]) {
      assert.throws(() => splitTraffic(Slot.Blue, bad), /candidate weight must be an integer in 0\.\.100/);
    }
  });
});
