/**
 * CIDR arithmetic for the guards that ask "can the internet reach this?": IPv4 and IPv6 blocks
 * parsed to integer ranges, and the part of the address space that is not public (RFC 1918,
 * shared CGNAT space, loopback, link-local, unique-local IPv6...). A list of CIDRs exposes a
 * listener to the internet when any block reaches outside that space: `0.0.0.0/1` +
 * `128.0.0.0/1` covers the internet as surely as `0.0.0.0/0`, and so does `::/0`, and a single
 * office `/32` still sends its requests across it. Pure: no network.
 */

export interface CidrBlock {
  readonly text: string;
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
}

const V4_BITS = 32n;
const V6_BITS = 128n;

function v4(addr: string): bigint | undefined {
  const parts = addr.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = (n << 8n) | BigInt(Number(p));
  }
  return n;
}

function v6(addr: string): bigint | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(addr) || addr.split("::").length > 2) return undefined;
  const [head, tail] = addr.includes("::") ? addr.split("::") : [addr, undefined];
  const groups = (s: string | undefined) => (s === undefined || s === "" ? [] : s.split(":"));
  const h = groups(head);
  const t = groups(tail);
  const missing = 8 - h.length - t.length;
  if (tail === undefined ? h.length !== 8 : missing < 1) return undefined;
  const all = [...h, ...Array<string>(tail === undefined ? 0 : missing).fill("0"), ...t];
  let n = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}

/** Parses `a.b.c.d/n` or an IPv6 `x::y/n`; undefined when it is neither. Host bits may be set. */
export function parseCidr(text: string): CidrBlock | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const prefix = BigInt(Number(m[2]));
  const isV6 = m[1].includes(":");
  const bits = isV6 ? V6_BITS : V4_BITS;
  const addr = isV6 ? v6(m[1]) : v4(m[1]);
  if (addr === undefined || prefix > bits) return undefined;
  const hostBits = bits - prefix;
  const first = (addr >> hostBits) << hostBits;
  return { text, family: isV6 ? 6 : 4, first, last: first + (1n << hostBits) - 1n };
}

/** Address space that is not reachable from (or not routed on) the public internet. */
const NOT_PUBLIC = [
  "0.0.0.0/8", // "this network"
  "10.0.0.0/8",
  "100.64.0.0/10", // shared address space (CGNAT)
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "::1/128",
  "fc00::/7", // unique local
  "fe80::/10", // link-local
].map((c) => parseCidr(c) as CidrBlock);

/** True when every address of `block` lies in one non-public range. */
export function isNonPublic(block: CidrBlock): boolean {
  return NOT_PUBLIC.some((r) => r.family === block.family && block.first >= r.first && block.last <= r.last);
}

/** The blocks of `cidrs` that reach public address space (unparseable ones count as public). */
export function publicCidrs(cidrs: readonly string[]): string[] {
  return cidrs.filter((c) => {
    const b = parseCidr(c);
    return !b || !isNonPublic(b);
  });
}

/**
 * The CIDRs of `inner` that no block of `outer` contains entirely (same family). Unparseable
 * blocks on either side contain nothing and are contained by nothing.
 */
export function uncovered(inner: readonly string[], outer: readonly string[]): string[] {
  const blocks = outer.flatMap((c) => parseCidr(c) ?? []);
  return inner.filter((c) => {
    const b = parseCidr(c);
    return !b || !blocks.some((o) => o.family === b.family && b.first >= o.first && b.last <= o.last);
  });
}
