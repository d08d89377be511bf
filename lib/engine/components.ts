/**
 * The one registry of pipeline components: the diffusers subfolder each is read from (also its key
 * in a manifest's `components`), the graph it is built as (the ONNX file's base name and its key in
 * a manifest's `tensorrt.plans`; the VAE builds only its decoder), and the file names that follow.
 *
 * @module
 */

/** The diffusers pipeline components an engine folder can hold, in build and load order. */
export const COMPONENT_NAMES = ["transformer", "text_encoder", "text_encoder_2", "vae"] as const;

/** One of the pipeline components. */
export type ComponentName = typeof COMPONENT_NAMES[number];

const GRAPH_OF = {
  transformer: "transformer",
  text_encoder: "text_encoder",
  text_encoder_2: "text_encoder_2",
  vae: "vae_decoder",
} as const satisfies Record<ComponentName, string>;

/** The graph a component is built as: ONNX file base name and TensorRT plan key. */
export type GraphName = typeof GRAPH_OF[ComponentName];

/** Every graph name, in the order of {@linkcode COMPONENT_NAMES}. */
export const GRAPH_NAMES: readonly GraphName[] = COMPONENT_NAMES.map((c) => GRAPH_OF[c]);

/** The graph (and plan key) a component is built as. */
export function graphName(component: ComponentName): GraphName {
  return GRAPH_OF[component];
}

/** The ONNX graph file of a component inside an engine folder. */
export function onnxFile(component: ComponentName): string {
  return `${graphName(component)}.onnx`;
}

/** The external weights file of a component's ONNX graph. */
export function weightsFile(component: ComponentName): string {
  return `${graphName(component)}.weights`;
}

/** The TensorRT plan file of a graph. */
export function planFile(graph: GraphName): string {
  return `${graph}.plan`;
}
