/**
 * The engines the pipeline runs: one `Engine` contract (named host tensors in and out, typed feed
 * errors, idempotent close) with two backends, ONNX Runtime on the CPU and TensorRT plans through
 * the FFI shim; engine folders (component registry, manifest, loading a set); plan compatibility
 * and the backend choice.
 *
 * @module
 */
export {
  type BackendChoice,
  type BackendPreference,
  parseBackendPreference,
  probeBackend,
} from "./backend_select.ts";
export {
  COMPONENT_NAMES,
  type ComponentName,
  GRAPH_NAMES,
  type GraphName,
  graphName,
  onnxFile,
  planFile,
  weightsFile,
} from "./components.ts";
export {
  type Backend,
  type DType,
  DTYPE_SIZE,
  elementCount,
  type Engine,
  EngineClosedError,
  type EngineDescription,
  EngineFeedError,
  type FeedProblem,
  type Tensor,
  type TensorData,
  type TensorSpec,
} from "./engine.ts";
export { type EngineSet, type EngineSetOptions, loadEngineSet } from "./engine_set.ts";
export {
  BUILDER_VERSION,
  type ComponentEntry,
  fileEntry,
  type Manifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  ManifestError,
  type ModelSpec,
  modelSpecSchema,
  readManifest,
  type TrtManifest,
  validateManifest,
  verifyFiles,
  writeManifest,
} from "./manifest.ts";
export { loadOnnxEngine, type OnnxEngineOptions } from "./onnx.ts";
export { checkPlanCompatibility, PlanCompatibilityError, type TrtRuntime } from "./plan_compat.ts";
export {
  openTensorRtEngine,
  runtimeOf,
  type TensorRtEngineOptions,
  tensorRtVersionInfo,
} from "./tensorrt.ts";
export { TensorRtError, type TensorRtVersionInfo } from "./tensorrt_abi.ts";
export { asFloat32, convertFloat, floatTensor, inputType, intTensor } from "./tensors.ts";
