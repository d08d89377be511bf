/** PNG encoding of a 1024x1024 RGB image (smooth gradients plus mild noise, like a decoded generation). */

import { encodePng } from "../../lib/image/png.ts";
import { metadataText } from "../../lib/image/metadata.ts";

const size = 1024;
const pixels = new Uint8Array(size * size * 3);
let s = 12345;
for (let i = 0; i < pixels.length; i++) {
  s = (s * 1103515245 + 12345) >>> 0;
  const p = Math.floor(i / 3);
  const x = p % size;
  const y = Math.floor(p / size);
  pixels[i] = Math.max(
    0,
    Math.min(255, 128 + 100 * Math.sin((x + 2 * y + (i % 3) * 50) / 90) + ((s >>> 24) % 9) - 4),
  );
}
const text = metadataText({
  prompt: "一只可爱的猫坐在窗台上",
  seed: 42,
  steps: 50,
  guidanceScale: 5,
  model: "v1.2",
});

Deno.bench({
  name: "encodePng 1024x1024 RGB with metadata",
  fn: async () => {
    await encodePng(pixels, size, size, { text });
  },
});
