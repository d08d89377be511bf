/**
 * Cost of the connection guard (lib/http/conn_guard.ts): the same handler served by plain
 * `Deno.serve` and behind the guard, over loopback: a request on a new connection, a request on a
 * kept-alive connection, and a 1 MiB body. Compare each pair as a ratio (`deno bench` prints it).
 */
import { serveGuarded } from "../../lib/http/conn_guard.ts";

const handler = async (request: Request) => {
  const size = request.body ? (await request.arrayBuffer()).byteLength : 0;
  return Response.json({ ok: true, size });
};
const timeouts = { headerMs: 10_000, idleMs: 30_000 };
const off = { headerMs: 0, idleMs: 0 };
const plain = serveGuarded({ hostname: "127.0.0.1", port: 0, timeouts: off }, handler);
const guarded = serveGuarded({ hostname: "127.0.0.1", port: 0, timeouts }, handler);

const encoder = new TextEncoder();
const GET = encoder.encode("GET / HTTP/1.1\r\nHost: bench\r\n\r\n");
const GET_CLOSE = encoder.encode("GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
const MIB = new Uint8Array(1 << 20).fill(97);
const POST = new Uint8Array([
  ...encoder.encode(`POST / HTTP/1.1\r\nHost: bench\r\nContent-Length: ${MIB.length}\r\n\r\n`),
  ...MIB,
]);

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/** Reads one Content-Length response from `conn`. */
async function readResponse(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  let text = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("connection closed mid-response");
    text += new TextDecoder().decode(buf.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const length = Number(/content-length: (\d+)/i.exec(text.slice(0, end))![1]);
    if (text.length >= end + 4 + length) return;
  }
}

const buf = new Uint8Array(65536);
const kept = new Map<number, Deno.Conn>();
for (const server of [plain, guarded]) {
  kept.set(server.addr.port, await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }));
}

for (const [name, server] of [["Deno.serve", plain], ["guarded", guarded]] as const) {
  const port = server.addr.port;
  Deno.bench({
    name: `new connection: ${name}`,
    group: "new connection",
    baseline: server === plain,
    fn: async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(conn, GET_CLOSE);
      while ((await conn.read(buf)) !== null) { /* to the close */ }
      conn.close();
    },
  });
  Deno.bench({
    name: `keep-alive request: ${name}`,
    group: "keep-alive request",
    baseline: server === plain,
    fn: async () => {
      const conn = kept.get(port)!;
      await writeAll(conn, GET);
      await readResponse(conn, buf);
    },
  });
  Deno.bench({
    name: `1 MiB body: ${name}`,
    group: "1 MiB body",
    baseline: server === plain,
    fn: async () => {
      const conn = kept.get(port)!;
      await writeAll(conn, POST);
      await readResponse(conn, buf);
    },
  });
}

globalThis.addEventListener("unload", () => {
  for (const conn of kept.values()) conn.close();
});
