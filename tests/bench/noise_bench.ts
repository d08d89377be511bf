import { createGenerator, randn } from "../../lib/diffusion/noise.ts";

const LATENT_1024 = 4 * 128 * 128;

Deno.bench(
  "randn(4*128*128) avx2 (1024x1024 latents)",
  { group: "latents", baseline: true },
  () => {
    randn(42, LATENT_1024);
  },
);

Deno.bench("randn(4*128*128) libm", { group: "latents" }, () => {
  randn(42, LATENT_1024, { path: "libm" });
});

Deno.bench("randn(4*64*64) avx2 (512x512 latents)", () => {
  randn(42, 4 * 64 * 64);
});

Deno.bench("randn(15) double Box-Muller path", () => {
  randn(42, 15);
});

const gen = createGenerator(42);
Deno.bench("generator.randn(4*128*128) without reseeding", () => {
  gen.randn(LATENT_1024);
});
