/**
 * IP addresses as bytes: parsing the canonical text forms (dotted IPv4, IPv6 with `::` and a dotted
 * tail, optionally in brackets), CIDR ranges, and the classification that decides whether an address
 * is public (globally routable unicast) or loopback, private, link-local, unspecified, CGNAT,
 * multicast or otherwise reserved, after the IANA special-purpose registries. IPv6 forms that carry
 * an IPv4 address (mapped `::ffff:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by it.
 * Other spellings of IPv4 (decimal `2130706433`, octal, hex, short `127.1`) are normalized by the
 * URL parser before they get here.
 *
 * @module
 */

/** What kind of address an IP is; only "public" may receive webhooks without an allow-list entry. */
export type AddressClass =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "link-local"
  | "cgnat"
  | "multicast"
  | "reserved";

/** An address range: the network's bytes (4 or 16) and its prefix length. */
export interface Cidr {
  bytes: Uint8Array;
  prefix: number;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return null;
    const n = Number(parts[i]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  // A dotted IPv4 tail stands for the last two groups.
  const words: number[] = [];
  const all = [...head, ...(halves.length === 2 ? ["::"] : []), ...tail];
  let v4: Uint8Array | null = null;
  if (all.length > 0 && all[all.length - 1].includes(".")) {
    v4 = parseIpv4(all.pop()!);
    if (!v4) return null;
  }
  for (const g of all) {
    if (g === "::") {
      words.push(-1);
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    words.push(parseInt(g, 16));
  }
  const have = words.filter((w) => w >= 0).length + (v4 ? 2 : 0);
  const gap = words.includes(-1) ? 8 - have : 0;
  if (have > 8 || (words.includes(-1) ? gap < 1 : have !== 8)) return null;
  const out = new Uint8Array(16);
  let i = 0;
  for (const w of words) {
    if (w === -1) {
      i += gap * 2;
      continue;
    }
    out[i++] = w >> 8;
    out[i++] = w & 0xff;
  }
  if (v4) out.set(v4, 12);
  return out;
}

/** The bytes (4 for IPv4, 16 for IPv6) of a textual IP address, or null when it is not one. */
export function parseIp(text: string): Uint8Array | null {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  return bare.includes(":") ? parseIpv6(bare) : parseIpv4(bare);
}

/** Parses "address/prefix", or a bare address as a single-address range; null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.lastIndexOf("/");
  const bytes = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!bytes) return null;
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, prefix: max };
  const prefixText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > max) return null;
  return { bytes, prefix: Number(prefixText) };
}

/** True when `ip` lies in `cidr` (an IPv4-mapped IPv6 address also matches IPv4 ranges). */
export function inCidr(ip: Uint8Array, cidr: Cidr): boolean {
  const addr = ip.length === 16 && cidr.bytes.length === 4 ? mappedIpv4(ip) : ip;
  if (!addr || addr.length !== cidr.bytes.length) return false;
  for (let bit = 0; bit < cidr.prefix; bit += 8) {
    const bits = Math.min(8, cidr.prefix - bit);
    const mask = (0xff << (8 - bits)) & 0xff;
    if ((addr[bit / 8] & mask) !== (cidr.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

function mappedIpv4(ip: Uint8Array): Uint8Array | null {
  return inCidr(ip, V6_MAPPED) ? ip.subarray(12) : null;
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad built-in range ${text}`);
  return parsed;
}

const V6_MAPPED = cidr("::ffff:0:0/96");

/** IPv4 special-purpose ranges (RFC 6890 and the IANA registry), first match wins. */
const V4_RANGES: [Cidr, AddressClass][] = ([
  ["0.0.0.0/8", "unspecified"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "cgnat"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved"],
  ["192.0.2.0/24", "reserved"],
  ["192.88.99.0/24", "reserved"],
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "reserved"],
  ["198.51.100.0/24", "reserved"],
  ["203.0.113.0/24", "reserved"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved"],
] as const).map(([range, kind]) => [cidr(range), kind]);

/** IPv6 ranges outside global unicast judged here, first match wins (embedded IPv4 aside). */
const V6_RANGES: [Cidr, AddressClass][] = ([
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["64:ff9b:1::/48", "private"],
  ["fc00::/7", "private"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "private"],
  ["ff00::/8", "multicast"],
  ["2001:db8::/32", "reserved"],
  ["2001::/23", "reserved"],
  ["3fff::/20", "reserved"],
] as const).map(([range, kind]) => [cidr(range), kind]);

/** IPv6 ranges that carry an IPv4 address, and the byte offset where it sits. */
const V6_EMBEDDING: [Cidr, number][] = [
  [V6_MAPPED, 12],
  [cidr("64:ff9b::/96"), 12],
  [cidr("2002::/16"), 2],
];

const GLOBAL_UNICAST = cidr("2000::/3");

/** Classifies an address (4 or 16 bytes). */
export function classifyAddress(ip: Uint8Array): AddressClass {
  if (ip.length === 4) return V4_RANGES.find(([range]) => inCidr(ip, range))?.[1] ?? "public";
  for (const [range, at] of V6_EMBEDDING) {
    if (inCidr(ip, range)) return classifyAddress(ip.slice(at, at + 4));
  }
  const special = V6_RANGES.find(([range]) => inCidr(ip, range));
  if (special) return special[1];
  return inCidr(ip, GLOBAL_UNICAST) ? "public" : "reserved";
}
