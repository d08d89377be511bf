/**
 * Results stores on a 1.5 MB image (about a 1024x1024 PNG): write and checked read, bytes chunked
 * in a local Deno KV file against one file in a folder (the baseline), and the start-up quick check
 * of a KV file holding 100 such images.
 */
import { kvFileProblem } from "../../lib/kv_open.ts";
import { openResultsStore } from "../../lib/jobs/results.ts";
import { openKvResultsStore } from "../../lib/jobs/results_kv.ts";
import { openVerified, sha256Hex } from "../../lib/jobs/results_verify.ts";

const bytes = crypto.getRandomValues(new Uint8Array(65536));
const image = new Uint8Array(1_500_000).map((_, i) => bytes[i % bytes.length] ^ (i >> 16));
const sha = sha256Hex(image);
const dir = await Deno.makeTempDir({ prefix: "hydit-results-bench-" });
const kv = await Deno.openKv(`${dir}/hydit.kv`);
const stores = { kv: openKvResultsStore(kv), dir: await openResultsStore(`${dir}/files`) };
const id = (n: number) => n.toString(16).padStart(32, "0");
let n = 0;
globalThis.addEventListener("unload", () => {
  kv.close();
  Deno.removeSync(dir, { recursive: true });
});

for (const [name, store] of Object.entries(stores)) {
  Deno.bench({
    name: `${name} store: write 1.5 MB`,
    group: "write",
    baseline: name === "dir",
    fn: async () => {
      await store.write(id(++n), "png", image);
    },
  });
  await store.write(id(0), "png", image);
  Deno.bench({
    name: `${name} store: checked read 1.5 MB (one read, hashed)`,
    group: "read",
    baseline: name === "dir",
    fn: async () => {
      for await (const _ of (await openVerified(store, id(0), "png", sha))!) { /* drain */ }
    },
  });
}

const big = `${dir}/big.kv`;
const bigKv = await Deno.openKv(big);
const bigStore = openKvResultsStore(bigKv);
for (let i = 0; i < 100; i++) await bigStore.write(id(1000 + i), "png", image);
bigKv.close();
Deno.bench({
  name: "quick_check of a 150 MB KV file (100 images)",
  fn: () => {
    if (kvFileProblem(big) !== null) throw new Error("unexpected damage");
  },
});
