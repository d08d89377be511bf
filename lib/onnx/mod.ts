/**
 * The ONNX graphs of HunyuanDiT's four networks, built from diffusers/transformers checkpoints:
 * config readers, one builder per network (DiT, BERT, mT5 encoder, VAE decoder) over shared layers
 * that keep every normalization in fp32, the ONNX writer with external weights, graph inspection,
 * the safetensors reader and fp16 conversions.
 *
 * @module
 */
export { type BertConfig, buildBert, parseBertConfig } from "./bert.ts";
export { buildDit } from "./dit.ts";
export { type DitConfig, ditModelVersion, parseDitConfig } from "./dit_config.ts";
export { createFileSink, createGraph, type Graph, type WeightSink } from "./graph.ts";
export { floatToHalf, fromHalfArray, halfToFloat, toHalfArray } from "./half.ts";
export {
  decodeModel,
  graphIo,
  type IoSpec,
  type Model,
  type PolicyViolation,
  precisionViolations,
} from "./inspect.ts";
export { type Ctx, type GraphTarget, makeCtx, type Precision } from "./nn.ts";
export {
  type Checkpoint,
  openCheckpoint,
  openComponentWeights,
  SafetensorsError,
  type TensorEntry,
} from "./safetensors.ts";
export { buildT5, parseT5Config, type T5Config } from "./t5.ts";
export { buildVaeDecoder, parseVaeConfig, type VaeConfig } from "./vae.ts";
