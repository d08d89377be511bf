/**
 * Where a webhook may go. A `webhook_url` (or a schedule's `destination.webhook`) must be http(s)
 * without credentials in it, and its host must be a public address, or resolve only to public
 * addresses (see ip_address.ts), unless `HYDIT_WEBHOOK_ALLOW` names the host or a range holding its
 * addresses. The check runs when the job is submitted and again before every delivery attempt, since
 * DNS can change in between. (Between that last lookup and the connection, the window for DNS
 * rebinding is the time of one request; a strict egress policy belongs in the network.)
 *
 * @module
 */
import { type Cidr, classifyAddress, inCidr, parseCidr, parseIp } from "./ip_address.ts";

/** Private receivers allowed by `HYDIT_WEBHOOK_ALLOW`: host names, and address ranges. */
export interface WebhookAllow {
  hosts: ReadonlySet<string>;
  ranges: readonly Cidr[];
}

/** Whether a webhook may go to a URL; a refusal says why, and whether asking again may help. */
export type TargetCheck = { ok: true } | { ok: false; retryable: boolean; reason: string };

/** Why `url` cannot be a webhook target (scheme, credentials), or null when its form is fine. */
export function webhookUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an absolute http or https URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return "must be an http or https URL";
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return "must not carry credentials (user:password@): authenticate the request by its signature";
  }
  return null;
}

function hostKey(host: string): string {
  return host.toLowerCase().replace(/\.$/, "");
}

/**
 * Parses the entries of `HYDIT_WEBHOOK_ALLOW`: host names, addresses and CIDR ranges (`10.0.0.0/8`,
 * `fd00::/8`). Throws naming the setting and the entry that is none of these.
 */
export function parseWebhookAllow(entries: readonly string[]): WebhookAllow {
  const hosts = new Set<string>();
  const ranges: Cidr[] = [];
  for (const entry of entries) {
    const range = parseCidr(entry);
    if (range) {
      ranges.push(range);
      continue;
    }
    let host: string | null = null;
    try {
      host = new URL(`http://${entry}`).hostname;
    } catch { /* not a host name */ }
    if (host === null || host !== entry.toLowerCase() || entry.includes("/")) {
      throw new TypeError(
        `Cannot read setting HYDIT_WEBHOOK_ALLOW: "${entry}" is not a host name, address or CIDR range`,
      );
    }
    hosts.add(hostKey(host));
  }
  return { hosts, ranges };
}

/** Resolves a host name to its IPv4 and IPv6 addresses; throws when it has none. */
export async function resolveHost(host: string): Promise<string[]> {
  const lookups = await Promise.allSettled(
    (["A", "AAAA"] as const).map((type) =>
      Deno.resolveDns(host, type, { signal: AbortSignal.timeout(5_000) })
    ),
  );
  const addresses = lookups.flatMap((l) => (l.status === "fulfilled" ? l.value : []));
  if (addresses.length > 0) return addresses;
  const failure = lookups.find((l) =>
    l.status === "rejected" && !(l.reason instanceof Deno.errors.NotFound)
  ) as PromiseRejectedResult | undefined;
  throw new Error(failure ? String(failure.reason?.message ?? failure.reason) : "no A/AAAA record");
}

/**
 * Checks that a webhook may go to `url`: its form, then every address of its host (the literal
 * address, or what DNS gives now) must be public or in an allowed range, unless the host itself is
 * allowed. A host that does not resolve is refused too (retryable: DNS may come back).
 */
export async function checkWebhookTarget(url: string, allow: WebhookAllow): Promise<TargetCheck> {
  const problem = webhookUrlProblem(url);
  if (problem) return { ok: false, retryable: false, reason: problem };
  const host = new URL(url).hostname;
  if (allow.hosts.has(hostKey(host))) return { ok: true };
  const literal = parseIp(host);
  let addresses: string[];
  if (literal) addresses = [host];
  else {
    try {
      addresses = await resolveHost(host);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return { ok: false, retryable: true, reason: `host "${host}" does not resolve (${why})` };
    }
  }
  for (const address of addresses) {
    const ip = parseIp(address);
    const kind = ip ? classifyAddress(ip) : "reserved";
    if (kind === "public" || (ip && allow.ranges.some((range) => inCidr(ip, range)))) continue;
    const where = literal ? `address ${host}` : `host "${host}" resolves to ${address}, which`;
    return {
      ok: false,
      retryable: false,
      reason: `${where} is not a public address (${kind}): webhooks go to public addresses, ` +
        "or to hosts and ranges listed in HYDIT_WEBHOOK_ALLOW",
    };
  }
  return { ok: true };
}
