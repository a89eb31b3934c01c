import { strict as assert } from "node:assert";
import fc from "fast-check";
import { isNonPublic, parseCidr, publicCidrs } from "../../core/cidr";

describe("core/cidr: which CIDRs reach public address space", () => {
  it("parses IPv4 and IPv6 blocks to ranges, masking host bits", () => {
    // Prepare / Act
    const a = parseCidr("10.1.2.3/8");
    const b = parseCidr("fd00::1/8");
    // Assess
    assert.deepEqual([a?.family, a?.first, a?.last], [4, 10n << 24n, (11n << 24n) - 1n]);
    assert.deepEqual([b?.family, b?.first, b?.last], [6, 0xfdn << 120n, (0xfen << 120n) - 1n]);
    for (const bad of ["10.0.0.0", "10.0.0.0/33", "256.0.0.0/8", "1.2.3/8", "::/129", "1::2::3/64", "g::/8", "1:2:3:4:5:6:7:8:9/64"]) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });

  it("counts every block that leaves the private, shared, loopback and link-local ranges", () => {
    assert.deepEqual(publicCidrs(["0.0.0.0/0"]), ["0.0.0.0/0"]);
    assert.deepEqual(publicCidrs(["0.0.0.0/1", "128.0.0.0/1"]), ["0.0.0.0/1", "128.0.0.0/1"]);
    assert.deepEqual(publicCidrs(["::/0", "fc00::/7", "fe80::/64"]), ["::/0"]);
    assert.deepEqual(publicCidrs(["10.0.0.0/8", "172.16.0.0/12", "192.168.1.0/24", "100.64.0.0/10", "127.0.0.1/32", "169.254.0.0/16"]), []);
    // One bit wider than a private range reaches public space.
    assert.deepEqual(publicCidrs(["10.0.0.0/7", "172.16.0.0/11", "192.168.0.0/15"]), ["10.0.0.0/7", "172.16.0.0/11", "192.168.0.0/15"]);
    assert.deepEqual(publicCidrs(["not-a-cidr"]), ["not-a-cidr"], "what cannot be read is not trusted");
  });

  it("agrees with an address-by-address check: a block is public iff one of its addresses is", () => {
    const privateV4 = (n: number) => (n >>> 24 === 10) || (n >>> 20 === 0xac1) || (n >>> 16 === 0xc0a8) || (n >>> 22 === 0x191) || (n >>> 24 === 127) || (n >>> 16 === 0xa9fe) || (n >>> 24 === 0);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 8, max: 32 }), (addr, prefix) => {
        const text = `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}/${prefix}`;
        const block = parseCidr(text);
        assert.ok(block);
        // A block of 2^(32-prefix) addresses lies in one private range iff its first and last do
        // (the ranges are aligned and at least /16 wide, all wider than any /17+ block here... and
        // for wider blocks the first and last addresses straddle the range boundary).
        const first = Number(block.first);
        const last = Number(block.last);
        const expected = privateV4(first) && privateV4(last) && sameRange(first, last);
        assert.equal(isNonPublic(block), expected, text);
      }),
      { numRuns: 2000 },
    );
  });
});

/** First and last address in the same non-public range (they could be in two different ones). */
function sameRange(a: number, b: number): boolean {
  const key = (n: number) => (n >>> 24 === 10 ? "10" : n >>> 20 === 0xac1 ? "172" : n >>> 16 === 0xc0a8 ? "192" : n >>> 22 === 0x191 ? "100" : n >>> 24 === 127 ? "127" : n >>> 16 === 0xa9fe ? "169" : "0");
  return key(a) === key(b);
}
