/**
 * Connection timeouts that `Deno.serve` lacks. The public port is a small TCP relay in front of the
 * real server (on a loopback port): it passes bytes through unchanged and closes connections that
 * stall. HTTP parsing stays with `Deno.serve`; the relay learns where each request stands from the
 * server's handler, which it wraps (the handler sees the relay's loopback port as the peer, so each
 * request maps to its client connection):
 *
 * - header timeout: from a connection's first byte (or its opening) until the handler is called; on
 *   expiry the relay answers 408 itself and closes;
 * - idle timeout: a keep-alive connection with no request in flight and no byte passed either way
 *   for this long is closed;
 * - body timeout is the app's (it reads the body); when the app answers 408 the relay writes that
 *   response itself and closes, since the server would otherwise wait for the rest of the body.
 *
 * A request in flight (a synchronous wait, an SSE stream until it ends) is never timed out here.
 *
 * @module
 */

/** Timeouts in ms; 0 turns one off. */
export interface ConnTimeouts {
  headerMs: number;
  idleMs: number;
}

/** Options of {@linkcode serveGuarded}. */
export interface GuardOptions {
  hostname: string;
  port: number;
  timeouts: ConnTimeouts;
  /** Called once per connection closed by a timeout. */
  onTimeout?: (kind: "header" | "idle") => void;
  onListen?: (addr: Deno.NetAddr) => void;
}

/** A server behind the guard. */
export interface GuardedServer {
  /** The public address. */
  addr: Deno.NetAddr;
  /** Stops accepting, closes idle connections, waits for requests in flight, then closes the rest. */
  shutdown(): Promise<void>;
}

/** One client connection and its relay to the real server. */
interface Relay {
  client: Deno.TcpConn;
  inner: Deno.TcpConn;
  /** Requests whose handler was called and whose response body has not ended. */
  inFlight: number;
  /** A request head is being received (the header timer runs). */
  awaitingHead: boolean;
  headStarted: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  closed: boolean;
  done: Promise<void>;
}

/** How long shutdown waits for relays to pass the last response bytes to slow readers. */
const SHUTDOWN_FLUSH_MS = 1000;

const TIMEOUT_BODY = JSON.stringify({
  error: { code: "request_timeout", message: "Request headers not received in time" },
});

/** The raw 408 the relay sends when a request head does not arrive in time. */
const HEADER_TIMEOUT_RESPONSE = new TextEncoder().encode(
  "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n" +
    `content-length: ${TIMEOUT_BODY.length}\r\nconnection: close\r\n\r\n${TIMEOUT_BODY}`,
);

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** The app's 408 response as HTTP/1.1 bytes, with `connection: close`. */
async function serialize408(res: Response): Promise<Uint8Array> {
  const body = new Uint8Array(await res.arrayBuffer());
  const lines = ["HTTP/1.1 408 Request Timeout"];
  for (const [name, value] of res.headers) {
    if (name !== "content-length" && name !== "connection") lines.push(`${name}: ${value}`);
  }
  lines.push(`content-length: ${body.length}`, "connection: close", "", "");
  const head = new TextEncoder().encode(lines.join("\r\n"));
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/**
 * Serves `handler` on `options.hostname:port` behind the guard; with both timeouts 0 it is plain
 * `Deno.serve` (no relay).
 */
export function serveGuarded(
  options: GuardOptions,
  handler: (request: Request) => Response | Promise<Response>,
): GuardedServer {
  const { headerMs, idleMs } = options.timeouts;
  if (headerMs === 0 && idleMs === 0) {
    const server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      onListen: (addr) => options.onListen?.(addr as Deno.NetAddr),
    }, handler);
    return { addr: server.addr, shutdown: () => server.shutdown() };
  }

  const relays = new Map<number, Relay>(); // by the relay's loopback port toward the server

  function close(relay: Relay): void {
    if (relay.closed) return;
    relay.closed = true;
    clearTimeout(relay.timer);
    for (const conn of [relay.client, relay.inner]) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  function expire(relay: Relay, kind: "header" | "idle"): void {
    if (relay.closed || relay.inFlight > 0) return;
    options.onTimeout?.(kind);
    if (kind === "idle") return close(relay);
    // A small write to a socket that has room; a peer that stopped reading loses it.
    writeAll(relay.client, HEADER_TIMEOUT_RESPONSE).catch(() => {}).finally(() => close(relay));
  }

  /** Sets the timer for the relay's state: header while a head arrives, idle between requests. */
  function arm(relay: Relay): void {
    clearTimeout(relay.timer);
    relay.timer = undefined;
    if (relay.closed || relay.inFlight > 0) return;
    if (relay.awaitingHead) {
      if (headerMs === 0) return;
      const left = Math.max(0, relay.headStarted + headerMs - Date.now());
      relay.timer = setTimeout(() => expire(relay, "header"), left);
    } else if (idleMs > 0) {
      relay.timer = setTimeout(() => expire(relay, "idle"), idleMs);
    }
  }

  async function pump(relay: Relay): Promise<void> {
    const up = (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await relay.client.read(buf).catch(() => null);
        if (n === null) break;
        if (relay.inFlight === 0 && !relay.awaitingHead) {
          relay.awaitingHead = true;
          relay.headStarted = Date.now();
          arm(relay);
        }
        const ok = await writeAll(relay.inner, buf.subarray(0, n)).then(() => true, () => false);
        if (!ok) break;
      }
      // The client finished sending (or went away): pass the half-close on.
      await relay.inner.closeWrite().catch(() => {});
    })();
    const down = (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await relay.inner.read(buf).catch(() => null);
        if (n === null) break;
        const ok = await writeAll(relay.client, buf.subarray(0, n)).then(() => true, () => false);
        if (!ok) break;
        if (relay.inFlight === 0 && !relay.awaitingHead) arm(relay); // a response still going out
      }
    })();
    await down;
    close(relay);
    await up;
  }

  function ended(relay: Relay): void {
    relay.inFlight--;
    arm(relay);
  }

  async function guardedHandler(request: Request, info: Deno.ServeHandlerInfo): Promise<Response> {
    const relay = relays.get((info.remoteAddr as Deno.NetAddr).port);
    if (!relay) return await handler(request);
    relay.inFlight++;
    relay.awaitingHead = false;
    arm(relay);
    let response: Response;
    try {
      response = await handler(request);
    } catch (error) {
      ended(relay);
      throw error;
    }
    if (response.status === 408) {
      // The body stalled: the server would wait for the rest of it, so answer here and close.
      const bytes = await serialize408(response);
      ended(relay);
      await writeAll(relay.client, bytes).catch(() => {});
      close(relay);
      return new Response(null, { status: 408 });
    }
    // A fixed body is written at once (the relay's byte activity covers a slow reader); only an
    // event stream stays in flight until it ends. Reading `response.body` of a fixed body would turn
    // it into a stream (sent chunked, its length lost), so it is left untouched.
    const streaming = /^text\/event-stream/i.test(response.headers.get("content-type") ?? "");
    if (!streaming || !response.body) {
      ended(relay);
      return response;
    }
    const reader = response.body.getReader();
    let finished = false;
    const finish = () => {
      if (!finished) ended(relay);
      finished = true;
    };
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            finish();
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          finish();
          controller.error(error);
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  const inner = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, guardedHandler);
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr;
  options.onListen?.(addr);

  const accepting = (async () => {
    for (;;) {
      let client: Deno.TcpConn;
      let conn: Deno.TcpConn;
      try {
        client = await listener.accept();
      } catch {
        break; // listener closed
      }
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port: inner.addr.port });
      } catch {
        client.close();
        continue;
      }
      client.setNoDelay(true);
      conn.setNoDelay(true);
      const port = conn.localAddr.port;
      const relay: Relay = {
        client,
        inner: conn,
        inFlight: 0,
        awaitingHead: true,
        headStarted: Date.now(),
        timer: undefined,
        closed: false,
        done: Promise.resolve(),
      };
      relays.set(port, relay);
      arm(relay);
      relay.done = pump(relay).finally(() => relays.delete(port));
    }
  })();

  return {
    addr,
    async shutdown() {
      listener.close();
      await accepting;
      // Mid-head connections have no response coming; the server closes the others once their
      // responses end, and each relay ends after passing the last bytes on.
      for (const relay of relays.values()) if (relay.awaitingHead) close(relay);
      await inner.shutdown();
      const rest = [...relays.values()];
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cap = new Promise<void>((resolve) => timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS));
      await Promise.race([Promise.all(rest.map((r) => r.done)), cap]);
      clearTimeout(timer);
      rest.forEach(close); // a client that stopped reading
    },
  };
}
