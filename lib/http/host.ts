/**
 * The `Host` request header, checked before anything uses it: links and the request URL are built
 * from it, and a malformed one (`evil.com:99999`, `[::1`, `a b`, `x/y`, `a@b`) must be a 400, not a
 * URL error halfway through a request. Pure: a parse result, never an exception.
 *
 * @module
 */

/** A valid `Host`: its host name (an IPv6 literal keeps its brackets) and port, if given. */
export interface HostOk {
  ok: true;
  hostname: string;
  port: number | null;
}

/** Why a `Host` value was refused. */
export interface HostError {
  ok: false;
  reason: string;
}

const REG_NAME = /^[A-Za-z0-9._~-]{1,253}$/;
const IPV6_LITERAL = /^\[[0-9A-Fa-f:.]{2,45}\]$/;

function validIpv6(literal: string): boolean {
  try {
    return new URL(`http://${literal}/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/**
 * Parses a `Host` header value as RFC 9110's `uri-host [ ":" port ]`, restricted to DNS names, IPv4
 * and bracketed IPv6 addresses, with a port of 1-65535 when one is given.
 */
export function parseHost(value: string): HostOk | HostError {
  let hostname = value;
  let portText: string | null = null;
  const colon = value.lastIndexOf(":");
  if (colon >= 0 && !value.endsWith("]")) {
    hostname = value.slice(0, colon);
    portText = value.slice(colon + 1);
  }
  if (hostname.startsWith("[")) {
    if (!IPV6_LITERAL.test(hostname) || !validIpv6(hostname)) {
      return { ok: false, reason: "not a valid bracketed IPv6 address" };
    }
  } else if (!REG_NAME.test(hostname)) {
    return { ok: false, reason: "the host name has characters outside letters, digits, . _ ~ -" };
  }
  if (portText === null) return { ok: true, hostname, port: null };
  if (!/^\d{1,5}$/.test(portText)) return { ok: false, reason: "the port is not a number" };
  const port = Number(portText);
  if (port < 1 || port > 65535) return { ok: false, reason: "the port is outside 1-65535" };
  return { ok: true, hostname, port };
}
