/**
 * Raw HTTP/1.1 over a loopback TCP connection, for what `fetch` cannot send: malformed `Host`
 * headers, partial requests, stalled bodies, idle connections.
 */

/** A parsed response: status, lower-cased headers, and the body as text. */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Opens a connection to `port` on 127.0.0.1. */
export function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Writes `text` (latin-1, so any header byte can be sent) to `conn`. */
export async function send(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = Uint8Array.from(text, (ch) => ch.charCodeAt(0));
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/**
 * Reads from `conn` until the server closes it (or resets it) and returns everything read; null if
 * it is still open after `limitMs` (then the test closes it).
 */
export async function readToEnd(conn: Deno.Conn, limitMs = 15_000): Promise<string | null> {
  const buf = new Uint8Array(65536);
  let out = "";
  let open = true;
  const limit = setTimeout(() => {
    open = false;
    conn.close();
  }, limitMs);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      break; // reset by the server, or closed at the limit
    }
    if (n === null) break;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
  clearTimeout(limit);
  if (!open) return null;
  try {
    conn.close();
  } catch { /* already closed */ }
  return out;
}

/** Parses the first response in `text` (a Content-Length body, or everything after the head). */
export function parseResponse(text: string): RawResponse | null {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const length = headers.get("content-length");
  const rest = text.slice(end + 4);
  if (headers.get("transfer-encoding") === "chunked") {
    return { status, headers, body: dechunk(rest) };
  }
  return { status, headers, body: length === undefined ? rest : rest.slice(0, Number(length)) };
}

/** The payload of a chunked body (as far as it goes). */
function dechunk(text: string): string {
  let body = "";
  let at = 0;
  for (;;) {
    const eol = text.indexOf("\r\n", at);
    if (eol < 0) return body;
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) return body;
    body += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** Sends one request with `Connection: close` and returns the parsed response. */
export async function exchange(port: number, request: string): Promise<RawResponse | null> {
  const conn = await connect(port);
  await send(conn, request);
  const text = await readToEnd(conn);
  return text === null ? null : parseResponse(text);
}
