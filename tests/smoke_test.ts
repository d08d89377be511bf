import assert from "node:assert/strict";
Deno.test("arith", () => assert.equal(1 + 1, 2));
