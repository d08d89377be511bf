/**
 * A damaged or foreign KV file stops start-up with one line that names the file and says what to
 * do, before anything uses it: SQLite's quick check, through the real service process too.
 */
import assert from "node:assert/strict";
import { kvFileProblem, openServiceKv } from "../../lib/kv_open.ts";
import { startServer } from "./_harness.ts";

/** A KV file with 2000 records, closed. */
async function kvFile(path: string): Promise<void> {
  const kv = await Deno.openKv(path);
  for (let i = 0; i < 2000; i += 100) {
    const op = kv.atomic();
    for (let j = i; j < i + 100; j++) op.set(["k", j], `${"x".repeat(500)}${j}`);
    await op.commit();
  }
  kv.close();
}

/** Overwrites part of one b-tree page of `path` with garbage. */
async function damagePage(path: string, page = 50): Promise<void> {
  const file = await Deno.open(path, { read: true, write: true });
  await file.seek(4096 * page + 100, Deno.SeekMode.Start);
  await file.write(new Uint8Array(800).fill(0xde));
  file.close();
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "hydit-kvopen-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ADVICE = /restore it from a backup, or move it and its -wal and -shm files aside/;

Deno.test("openServiceKv() opens a sound file and creates a missing one", async () => {
  await withDir(async (dir) => {
    await kvFile(`${dir}/good.kv`);
    assert.equal(kvFileProblem(`${dir}/good.kv`), null);
    const kv = await openServiceKv(`${dir}/good.kv`);
    assert.equal((await kv.get(["k", 7])).value, `${"x".repeat(500)}7`);
    kv.close();
    const fresh = await openServiceKv(`${dir}/new/sub/hydit.kv`);
    await fresh.set(["a"], 1);
    fresh.close();
  });
});

Deno.test("openServiceKv() refuses a damaged page and a garbage file, naming the file", async () => {
  await withDir(async (dir) => {
    const damaged = `${dir}/damaged.kv`;
    await kvFile(damaged);
    await damagePage(damaged);
    await assert.rejects(openServiceKv(damaged), (error: Error) => {
      assert.ok(error.message.startsWith(`KV file "${damaged}" is damaged (`), error.message);
      assert.match(error.message, ADVICE);
      assert.ok(!error.message.includes("\n"), "one line");
      return true;
    });
    const garbage = `${dir}/garbage.kv`;
    await Deno.writeFile(garbage, crypto.getRandomValues(new Uint8Array(65536)));
    await assert.rejects(
      openServiceKv(garbage),
      new RegExp(`KV file "${garbage}" is damaged \\(file is not a database\\)`),
    );
  });
});

Deno.test("the service exits 1 with one line on a damaged KV file, and on a garbage one", async () => {
  await withDir(async (dir) => {
    for (const kind of ["page", "garbage"]) {
      await Deno.mkdir(`${dir}/${kind}/kv`, { recursive: true });
      const path = `${dir}/${kind}/kv/hydit.kv`;
      if (kind === "page") {
        await kvFile(path);
        await damagePage(path);
      } else {
        await Deno.writeFile(path, crypto.getRandomValues(new Uint8Array(65536)));
      }
      const server = await startServer({ dir: `${dir}/${kind}`, waitReady: false });
      // It must exit; one that comes up ready on the damaged file fails here.
      let exited = false;
      server.status.then(() => exited = true);
      while (!exited) {
        const ready = await fetch(`${server.url}/readyz`).then((r) => r.json()).catch(() => null);
        if (ready?.ready) await server.kill();
        assert.ok(!ready?.ready, `the service started on a damaged KV file (${kind})`);
        await new Promise((r) => setTimeout(r, 25));
      }
      const status = await server.status;
      assert.equal(status.code, 1, server.logs.join("\n"));
      const lines = server.logs.filter((line) => line.trim() !== "" && !line.startsWith("{"));
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.ok(lines[0].startsWith(`hydit: KV file "${path}" is damaged (`), lines[0]);
      assert.match(lines[0], ADVICE);
    }
  });
});
