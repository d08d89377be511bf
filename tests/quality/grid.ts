/**
 * Draws the README's picture grid of the bundled hydit-tiny model with this project's own pipeline:
 * one row of English prompts, one row of Chinese prompts, at the model's defaults, seed = column.
 *
 *   deno run -A tests/quality/grid.ts [--out docs/hydit-tiny.png]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bundledEngines } from "../../engines/bundled.ts";
import { loadPipeline, modelCard } from "../../lib/diffusion/mod.ts";
import { readManifest } from "../../lib/engine/mod.ts";
import { encodePng } from "../../lib/image/png.ts";

/** The grid's prompts, row by row (the README lists them under the picture). */
export const GRID_PROMPTS: readonly (readonly string[])[] = [
  [
    "a red circle on a blue background",
    "a yellow star on a purple background",
    "a white triangle on a black background",
    "a small green square on an orange background",
    "an orange star and a blue circle on a white background",
    "a large black circle on a yellow background",
  ],
  [
    "绿色背景上的红色三角形",
    "白色背景上的蓝色星形",
    "紫色背景上的黄色圆形",
    "黑色背景上的橙色正方形",
    "红色背景上的白色圆形和黄色三角形",
    "蓝色背景上的小的绿色星形",
  ],
];

const GAP = 4;

/** Pastes `tiles` (RGB, `size` x `size`) into one RGB picture of rows x columns with white gaps. */
export function tileGrid(tiles: Uint8Array[][], size: number): {
  pixels: Uint8Array;
  width: number;
  height: number;
} {
  const cols = tiles[0].length;
  const width = cols * size + (cols - 1) * GAP;
  const height = tiles.length * size + (tiles.length - 1) * GAP;
  const pixels = new Uint8Array(width * height * 3).fill(255);
  tiles.forEach((row, r) =>
    row.forEach((tile, c) => {
      for (let y = 0; y < size; y++) {
        const at = ((r * (size + GAP) + y) * width + c * (size + GAP)) * 3;
        pixels.set(tile.subarray(y * size * 3, (y + 1) * size * 3), at);
      }
    })
  );
  return { pixels, width, height };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string", default: "docs/hydit-tiny.png" } },
  });
  const engines = await bundledEngines();
  const { defaults } = modelCard(await readManifest(engines));
  const pipeline = await loadPipeline(engines);
  try {
    const tiles: Uint8Array[][] = [];
    for (const row of GRID_PROMPTS) {
      const pictures: Uint8Array[] = [];
      for (const [seed, prompt] of row.entries()) {
        const { image } = await pipeline.generate({
          prompt,
          width: defaults.width,
          height: defaults.height,
          steps: defaults.steps,
          guidanceScale: defaults.guidanceScale,
          sampler: defaults.sampler,
          seed,
          resolutionBinning: false,
        });
        pictures.push(image);
        console.error(`${prompt} (seed ${seed})`);
      }
      tiles.push(pictures);
    }
    const { pixels, width, height } = tileGrid(tiles, defaults.width);
    await Deno.writeFile(values.out, await encodePng(pixels, width, height));
    console.error(`wrote ${values.out} (${width}x${height})`);
  } finally {
    await pipeline.close();
  }
}
