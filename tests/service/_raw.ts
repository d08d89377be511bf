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

/** Reads from `conn` until the server closes it (or resets it); returns everything read. */
export async function readToEnd(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(65536);
  let out = "";
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      break; // reset by the server
    }
    if (n === null) break;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
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
  return { status, headers, body: length === undefined ? rest : rest.slice(0, Number(length)) };
}

/** Sends one request with `Connection: close` and returns the parsed response. */
export async function exchange(port: number, request: string): Promise<RawResponse | null> {
  const conn = await connect(port);
  await send(conn, request);
  return parseResponse(await readToEnd(conn));
}
