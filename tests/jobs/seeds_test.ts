import assert from "node:assert/strict";
import { imageSeed, SEED_MODULUS } from "../../lib/jobs/seeds.ts";

const MAX = Number.MAX_SAFE_INTEGER;

Deno.test("image seeds are seed + i below the wrap", () => {
  assert.deepEqual([0, 1, 2, 3].map((i) => imageSeed(1234, i)), [1234, 1235, 1236, 1237]);
  assert.equal(imageSeed(0, 0), 0);
});

Deno.test("the largest seed 2^53-1 runs as itself, not as seed 0", () => {
  assert.equal(imageSeed(MAX, 0), MAX);
  assert.equal(imageSeed(MAX, 1), 0);
});

Deno.test("n images from near the top get n distinct seeds, wrapping exactly mod 2^53", () => {
  const seeds = [0, 1, 2, 3].map((i) => imageSeed(MAX - 1, i));
  assert.deepEqual(seeds, [MAX - 1, MAX, 0, 1]);
  for (const seed of [MAX - 3, MAX - 2, MAX - 1, MAX]) {
    const n = [0, 1, 2, 3].map((i) => imageSeed(seed, i));
    assert.equal(new Set(n).size, 4);
    n.forEach((s, i) => {
      assert.ok(Number.isSafeInteger(s) && s >= 0);
      assert.equal(BigInt(s), (BigInt(seed) + BigInt(i)) % BigInt(SEED_MODULUS));
    });
  }
});

Deno.test("seeds outside 0..2^53-1 are refused rather than rounded", () => {
  assert.throws(() => imageSeed(2 ** 53, 0), RangeError);
  assert.throws(() => imageSeed(-1, 0), RangeError);
  assert.throws(() => imageSeed(1.5, 0), RangeError);
});
