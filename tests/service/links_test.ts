/**
 * Signed image links and `GET /v1/jobs` through the whole service in-process (real KV file, real
 * HTTP server on loopback, the fake generator): a signed link opens without a key, an unsigned one
 * still needs it, a tampered or expired one is a 403; the job list is the key's own jobs, newest
 * first, page by page, and the sweeper removes a swept job from it.
 */
import assert from "node:assert/strict";
import { createLinkSigner } from "../../lib/http/links.ts";
import { sweepExpired } from "../../lib/jobs/sweeper.ts";
import { openResultsStore } from "../../lib/jobs/results.ts";
import { fakeGenerator } from "./_fake_generator.ts";
import { call, waitJob } from "./_harness.ts";
import { startInProcess } from "./_in_process.ts";

const KEY_A = "test-key-alpha-0001";
const KEY_B = "test-key-bravo-0002";
const SECRET = "links-test-secret";

Deno.test("signed image links open without a key; tampered or expired ones are 403", async () => {
  const server = await startInProcess({
    generator: fakeGenerator(1),
    env: { HYDIT_API_KEYS: `${KEY_A},${KEY_B}`, HYDIT_LINK_SECRET: SECRET },
  });
  try {
    const body = { prompt: "a red circle", size: "64x64", steps: 2, response_format: "url" };
    const sync = await call(server, "POST", "/v1/images/generations", { key: KEY_A, body });
    assert.equal(sync.status, 200);
    const url = new URL(sync.body.data[0].url);
    assert.match(url.search, /^\?expires=\d+&sig=[0-9a-f]{64}$/);

    const open = await fetch(url);
    assert.equal(open.status, 200);
    assert.equal(open.headers.get("content-type"), "image/png");
    assert.ok((await open.bytes()).length > 0);

    const job = await waitJob(server, sync.body.job_id, { key: KEY_A });
    assert.match(job.images[0].url, /\?expires=\d+&sig=[0-9a-f]{64}$/);

    const id = url.pathname.split("/").pop()!;
    const unsigned = await call(server, "GET", `/v1/images/${id}`);
    assert.equal(unsigned.status, 401);
    assert.equal((await call(server, "GET", `/v1/images/${id}`, { key: KEY_A })).status, 200);

    const sig = url.searchParams.get("sig")!;
    const flipped = `${sig[0] === "0" ? "1" : "0"}${sig.slice(1)}`;
    const tampered = await call(
      server,
      "GET",
      `/v1/images/${id}?expires=${url.searchParams.get("expires")}&sig=${flipped}`,
    );
    assert.equal(tampered.status, 403);
    assert.equal(tampered.body.error.code, "bad_signature");
    const later = Number(url.searchParams.get("expires")) + 60;
    const extended = await call(server, "GET", `/v1/images/${id}?expires=${later}&sig=${sig}`);
    assert.equal(extended.status, 403);
    const otherId = "0".repeat(32);
    const moved = await call(server, "GET", `/v1/images/${otherId}${url.search}`);
    assert.equal(moved.status, 403);

    const expired = createLinkSigner(SECRET, 60).sign(id, Date.now() - 3_600_000);
    const old = await call(server, "GET", `/v1/images/${id}?${expired}`);
    assert.equal(old.status, 403);
    assert.equal(old.body.error.code, "link_expired");
    assert.equal(old.body.error.field, "expires");
  } finally {
    await server.stop();
  }
});

Deno.test("GET /v1/jobs lists the key's jobs newest first, by cursor, until swept", async () => {
  const server = await startInProcess({
    generator: fakeGenerator(1),
    env: { HYDIT_API_KEYS: `${KEY_A},${KEY_B}`, HYDIT_RETENTION_S: "1", HYDIT_SWEEP_S: "3600" },
  });
  try {
    const ids: string[] = [];
    for (const prompt of ["one", "two", "three"]) {
      const body = { prompt, size: "64x64", steps: 1 };
      const res = await call(server, "POST", "/v1/jobs", { key: KEY_A, body });
      ids.push(res.body.id);
      await new Promise((r) => setTimeout(r, 2));
    }
    await call(server, "POST", "/v1/jobs", { key: KEY_B, body: { prompt: "b", steps: 1 } });
    for (const id of ids) await waitJob(server, id, { key: KEY_A });

    const first = await call(server, "GET", "/v1/jobs?limit=2", { key: KEY_A });
    assert.equal(first.status, 200);
    assert.equal(first.body.object, "list");
    assert.deepEqual(first.body.data.map((j: { id: string }) => j.id), [ids[2], ids[1]]);
    assert.equal(first.body.data[0].request.prompt, "three");
    assert.match(first.body.data[0].images[0].url, /sig=/);
    const cursor = encodeURIComponent(first.body.next_cursor);
    const second = await call(server, "GET", `/v1/jobs?limit=2&cursor=${cursor}`, { key: KEY_A });
    assert.deepEqual(second.body.data.map((j: { id: string }) => j.id), [ids[0]]);
    assert.equal(second.body.next_cursor, null);

    const other = await call(server, "GET", "/v1/jobs", { key: KEY_B });
    assert.deepEqual(
      other.body.data.map((j: { request: { prompt: string } }) => j.request.prompt),
      [
        "b",
      ],
    );
    for (const cursor of ["%21%21", "lorem", "%E4%BD%A0%E5%A5%BD"]) {
      const bad = await call(server, "GET", `/v1/jobs?cursor=${cursor}`, { key: KEY_A });
      assert.equal(bad.status, 400, cursor);
      assert.equal(bad.body.error.field, "cursor");
    }
    const big = await call(server, "GET", "/v1/jobs?limit=1000", { key: KEY_A });
    assert.equal(big.status, 400);
    assert.equal(big.body.error.field, "limit");
    assert.equal((await call(server, "GET", "/v1/jobs")).status, 401);
    const doc = (await call(server, "GET", "/openapi.json")).body;
    assert.deepEqual(Object.keys(doc.paths["/v1/jobs"]).sort(), ["get", "post"]);
    assert.deepEqual(
      doc.paths["/v1/jobs"].get.parameters.map((p: { name: string }) => p.name),
      ["limit", "cursor"],
    );

    // Retention is 1 s: a sweep removes the jobs and their index entries.
    await new Promise((r) => setTimeout(r, 1100));
    const kv = await Deno.openKv(`${server.dir}/kv/hydit.kv`);
    try {
      await sweepExpired(kv, await openResultsStore(`${server.dir}/results`));
      const left = await Array.fromAsync(kv.list({ prefix: ["owner_jobs"] }));
      assert.equal(left.length, 0);
    } finally {
      kv.close();
    }
    assert.deepEqual((await call(server, "GET", "/v1/jobs", { key: KEY_A })).body.data, []);
  } finally {
    await server.stop();
  }
});
