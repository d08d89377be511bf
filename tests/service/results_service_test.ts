/**
 * Results through the running service: images kept in KV are served by every process on the KV
 * (each with its own results folder), and an image whose stored bytes are deleted or replaced
 * answers 410 `image_gone`, also to `If-None-Match`.
 */
import assert from "node:assert/strict";
import { call, startServer, stateDir } from "./_harness.ts";
import { startInProcess } from "./_in_process.ts";

const BODY = { prompt: "a red circle", size: "64x64", steps: 2, response_format: "url" };

/** Generates one image and returns its id and bytes (as served by `server`). */
async function makeImage(server: { url: string }) {
  const made = await call(server, "POST", "/v1/images/generations", { body: BODY });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  const url = new URL(made.body.data[0].url);
  const id = url.pathname.split("/").pop()!;
  const res = await fetch(`${server.url}${url.pathname}`);
  assert.equal(res.status, 200);
  return { id, path: url.pathname, etag: res.headers.get("etag")!, bytes: await res.bytes() };
}

Deno.test("two processes with their own results folders on one KV serve each other's images", async () => {
  const { dir } = await stateDir();
  const a = await startServer({ dir, env: { HYDIT_RESULTS_DIR: `${dir}/results-a` } });
  let b;
  try {
    const image = await makeImage(a);
    b = await startServer({ dir, env: { HYDIT_RESULTS_DIR: `${dir}/results-b` } });
    const res = await fetch(`${b.url}${image.path}`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.bytes(), image.bytes);
    assert.equal(res.headers.get("etag"), image.etag);
    // Nothing went through either folder: the bytes live in KV.
    for (const folder of ["results-a", "results-b"]) {
      const files = await Array.fromAsync(Deno.readDir(`${dir}/${folder}`)).catch(() => []);
      assert.deepEqual(files, [], folder);
    }
  } finally {
    await b?.kill();
    await a.kill();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A GET of `path`, plainly and with `If-None-Match`: both statuses and the error code. */
async function getBoth(server: { url: string }, path: string, etag: string) {
  const out = [];
  for (const headers of [{}, { "if-none-match": etag }] as Record<string, string>[]) {
    const res = await fetch(`${server.url}${path}`, { headers });
    const body = res.status === 410 ? (await res.json()).error.code : (await res.body?.cancel());
    out.push([res.status, body ?? null]);
  }
  return out;
}

Deno.test("an image whose stored bytes are replaced or deleted is 410 image_gone, also with If-None-Match", async () => {
  const server = await startInProcess({ env: { HYDIT_RESULTS_STORE: "dir" } });
  try {
    const first = await makeImage(server);
    const file = `${server.dir}/results/${first.id}.png`;
    assert.deepEqual(await getBoth(server, first.path, first.etag), [[200, null], [304, null]]);
    const replaced = first.bytes.slice();
    replaced[replaced.length - 20] ^= 1;
    await Deno.writeFile(file, replaced);
    const gone = [[410, "image_gone"], [410, "image_gone"]];
    assert.deepEqual(await getBoth(server, first.path, first.etag), gone);
    const second = await makeImage(server);
    await Deno.remove(`${server.dir}/results/${second.id}.png`);
    assert.deepEqual(await getBoth(server, second.path, second.etag), gone);
    // An unknown image stays 404.
    assert.equal((await fetch(`${server.url}/v1/images/${"0".repeat(32)}`)).status, 404);
  } finally {
    await server.stop();
  }
});

Deno.test("an image whose KV chunk is damaged is 410 image_gone", async () => {
  const server = await startInProcess();
  try {
    const image = await makeImage(server);
    const kv = await Deno.openKv(`${server.dir}/kv/hydit.kv`);
    try {
      const chunk = await kv.get<Uint8Array>(["blob", image.id, 0]);
      const damaged = chunk.value!.slice();
      damaged[10] ^= 0xff;
      await kv.set(["blob", image.id, 0], damaged);
    } finally {
      kv.close();
    }
    const gone = [[410, "image_gone"], [410, "image_gone"]];
    assert.deepEqual(await getBoth(server, image.path, image.etag), gone);
  } finally {
    await server.stop();
  }
});
