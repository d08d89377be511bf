import assert from "node:assert/strict";
import sharp from "sharp";
import { inspectShape, type Palette } from "./shape_checker.ts";

const DATA = new URL("../golden/data/quality/", import.meta.url).pathname;

interface Label {
  shape: string;
  colour: string;
  background: string;
}

async function palette(): Promise<Palette> {
  return JSON.parse(await Deno.readTextFile(`${DATA}prompts.json`)).palette;
}

/** The labelled training-distribution renders: one 128-pixel-high strip of square tiles. */
async function samples(): Promise<{ tiles: Uint8Array[]; size: number; labels: Label[] }> {
  const labels: Label[] = JSON.parse(await Deno.readTextFile(`${DATA}samples.json`));
  const { data, info } = await sharp(`${DATA}samples.png`).raw().toBuffer({
    resolveWithObject: true,
  });
  const size = info.height;
  const tiles = labels.map((_, i) => {
    const tile = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      const row = (y * info.width + i * size) * 3;
      tile.set(data.subarray(row, row + size * 3), y * size * 3);
    }
    return tile;
  });
  return { tiles, size, labels };
}

Deno.test("inspectShape() names shape, colour and background of every clean render", async () => {
  const pal = await palette();
  const { tiles, size, labels } = await samples();
  assert.equal(new Set(labels.map((l) => l.shape)).size, 4, "all four shapes are sampled");
  tiles.forEach((tile, i) => {
    const v = inspectShape(tile, size, size, pal);
    assert.deepEqual(
      { shape: v.shape, colour: v.colour, background: v.background },
      labels[i],
      `sample ${i} (fill ${v.fill.toFixed(3)}, top ${v.top.toFixed(3)})`,
    );
  });
});

Deno.test("inspectShape() finds no shape on a plain or noisy-plain picture", async () => {
  const pal = await palette();
  const size = 64;
  const plain = new Uint8Array(size * size * 3);
  for (let p = 0; p < size * size; p++) plain.set([36 + (p % 7), 76, 214 - (p % 5)], p * 3);
  const v = inspectShape(plain, size, size, pal);
  assert.equal(v.background, "blue");
  assert.equal(v.shape, null);
  assert.equal(v.colour, null);
});

Deno.test("inspectShape() reads a shape drawn in a colour unlike its label as that colour", async () => {
  const pal = await palette();
  const { tiles, size, labels } = await samples();
  // Recolour the first sample's shape pixels (those far from its background) to pure black/white.
  const tile = tiles[0].slice();
  const bg = pal[labels[0].background];
  const recolour = labels[0].colour === "black" ? [244, 244, 244] : [24, 24, 24];
  for (let p = 0; p < size * size; p++) {
    const px = tile.subarray(p * 3, p * 3 + 3);
    if (Math.hypot(px[0] - bg[0], px[1] - bg[1], px[2] - bg[2]) > 80) px.set(recolour);
  }
  const v = inspectShape(tile, size, size, pal);
  assert.equal(v.colour, labels[0].colour === "black" ? "white" : "black");
  assert.equal(v.shape, labels[0].shape);
});
