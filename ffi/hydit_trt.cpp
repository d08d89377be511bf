// hydit_trt: C ABI outside, C++ over the TensorRT runtime inside. See hydit_trt.h for the contract.
//
// Only the name-based TensorRT API present in both 10.x and 11.x is used: deserializeCudaEngine,
// getNbIOTensors/getIOTensorName, getTensorShape/getProfileShape, setInputShape, setTensorAddress,
// enqueueV3, and plain `delete` for teardown (no destroy(), no bindings, no enqueueV2, no builder).

#include "hydit_trt.h"

#include <NvInferRuntime.h>
#include <NvInferVersion.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

static_assert(sizeof(hydit_trt_version_info) == 304, "hydit_trt_version_info layout changed");
static_assert(offsetof(hydit_trt_version_info, free_memory) == 32, "version_info.free_memory moved");
static_assert(offsetof(hydit_trt_version_info, device_name) == 48, "version_info.device_name moved");
static_assert(sizeof(hydit_trt_load_options) == 16, "hydit_trt_load_options layout changed");
static_assert(sizeof(hydit_trt_io_info) == 528, "hydit_trt_io_info layout changed");
static_assert(offsetof(hydit_trt_io_info, shape) == 272, "io_info.shape moved");
static_assert(sizeof(hydit_trt_binding) == 96, "hydit_trt_binding layout changed");
static_assert(offsetof(hydit_trt_binding, dims) == 32, "binding.dims moved");
static_assert(nvinfer1::Dims::MAX_DIMS == HYDIT_TRT_MAX_DIMS, "TensorRT MAX_DIMS differs");

namespace {

constexpr size_t kDeviceAlignment = 256;         // TensorRT IO tensors need >= 256-byte alignment
constexpr uint32_t kPlanFileTag = 0x74727466U;   // first word of every serialized plan ("ftrt")
constexpr size_t kMaxLoggedErrorBytes = 4096;    // keep only the tail of long TensorRT error logs
constexpr size_t kMaxCachedGraphs = 32;          // captured CUDA graphs kept per engine

thread_local std::string t_last_error;

// An error raised inside the shim; converted to a status code at the C boundary.
struct Failure {
  int32_t status;
  std::string message;
};

[[noreturn]] void fail(int32_t status, std::string message) {
  throw Failure{status, std::move(message)};
}

void check_cuda(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  const int32_t status =
      err == cudaErrorMemoryAllocation ? HYDIT_TRT_OUT_OF_MEMORY : HYDIT_TRT_CUDA_ERROR;
  fail(status, std::string(what) + " failed: " + cudaGetErrorName(err) + " (" +
                   cudaGetErrorString(err) + ")");
}

void copy_message(const std::string& message, char* error, size_t capacity) {
  if (error == nullptr || capacity == 0) return;
  const size_t n = std::min(message.size(), capacity - 1);
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

// Runs `body`, turning every exception into a status code and an error message; nothing escapes.
template <typename Body>
int32_t guarded(char* error, size_t capacity, Body&& body) noexcept {
  int32_t status = HYDIT_TRT_OK;
  std::string message;
  try {
    body();
  } catch (const Failure& failure) {
    status = failure.status;
    message = failure.message;
  } catch (const std::bad_alloc&) {
    status = HYDIT_TRT_OUT_OF_MEMORY;
    message = "Cannot allocate host memory";
  } catch (const std::exception& e) {
    status = HYDIT_TRT_INTERNAL;
    message = std::string("Internal error: ") + e.what();
  } catch (...) {
    status = HYDIT_TRT_INTERNAL;
    message = "Internal error: unknown exception";
  }
  try {
    t_last_error = message;
  } catch (...) {
    t_last_error.clear();
  }
  copy_message(message, error, capacity);
  return status;
}

const char* severity_name(nvinfer1::ILogger::Severity severity) {
  switch (severity) {
    case nvinfer1::ILogger::Severity::kINTERNAL_ERROR: return "internal error";
    case nvinfer1::ILogger::Severity::kERROR: return "error";
    case nvinfer1::ILogger::Severity::kWARNING: return "warning";
    case nvinfer1::ILogger::Severity::kINFO: return "info";
    case nvinfer1::ILogger::Severity::kVERBOSE: return "verbose";
  }
  return "unknown";
}

// Collects TensorRT errors so a failed call can report them; prints up to a chosen severity.
// Thread-safe: TensorRT may log from any thread.
class Logger final : public nvinfer1::ILogger {
 public:
  explicit Logger(int32_t print_severity) : print_severity_(print_severity) {}

  void log(Severity severity, nvinfer1::AsciiChar const* msg) noexcept override {
    try {
      const char* text = msg != nullptr ? msg : "";
      const int32_t level = static_cast<int32_t>(severity);
      if (level <= static_cast<int32_t>(Severity::kERROR)) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!errors_.empty()) errors_ += " | ";
        errors_ += text;
        if (errors_.size() > kMaxLoggedErrorBytes) {
          errors_.erase(0, errors_.size() - kMaxLoggedErrorBytes);
        }
      }
      if (level <= print_severity_) {
        std::fprintf(stderr, "[hydit_trt] TensorRT %s: %s\n", severity_name(severity), text);
      }
    } catch (...) {
      // Logging must never throw into TensorRT.
    }
  }

  // Returns and clears the errors logged since the last call.
  std::string take_errors() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    out.swap(errors_);
    return out;
  }

 private:
  int32_t print_severity_;
  std::mutex mutex_;
  std::string errors_;
};

// Bytes per element of a TensorRT data type; 0 for packed sub-byte types the shim does not carry.
size_t element_size(nvinfer1::DataType dtype) {
  switch (dtype) {
    case nvinfer1::DataType::kFLOAT: return 4;
    case nvinfer1::DataType::kHALF: return 2;
    case nvinfer1::DataType::kINT8: return 1;
    case nvinfer1::DataType::kINT32: return 4;
    case nvinfer1::DataType::kBOOL: return 1;
    case nvinfer1::DataType::kUINT8: return 1;
    case nvinfer1::DataType::kFP8: return 1;
    case nvinfer1::DataType::kBF16: return 2;
    case nvinfer1::DataType::kINT64: return 8;
    case nvinfer1::DataType::kE8M0: return 1;
    default: return 0;  // kINT4, kFP4 and anything newer
  }
}

const char* dtype_name(int32_t dtype) {
  static const char* const kNames[] = {"float32", "float16", "int8", "int32", "bool", "uint8",
                                       "fp8",     "bf16",    "int64", "int4", "fp4",  "e8m0"};
  if (dtype < 0 || dtype >= static_cast<int32_t>(sizeof(kNames) / sizeof(kNames[0]))) {
    return "unknown";
  }
  return kNames[dtype];
}

std::string dims_text(const int64_t* dims, int32_t nb_dims) {
  std::string out = "[";
  for (int32_t i = 0; i < nb_dims; ++i) {
    if (i > 0) out += ",";
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

std::string version_text(int32_t version) {
  return std::to_string(version / 10000) + "." + std::to_string((version / 100) % 100) + "." +
         std::to_string(version % 100);
}

size_t round_up(size_t n, size_t alignment) { return (n + alignment - 1) / alignment * alignment; }

struct DeviceBuffer {
  void* ptr = nullptr;
  size_t capacity = 0;
};

struct IoTensor {
  std::string name;
  nvinfer1::TensorIOMode mode = nvinfer1::TensorIOMode::kNONE;
  nvinfer1::DataType dtype = nvinfer1::DataType::kFLOAT;
  nvinfer1::Dims shape{};
  DeviceBuffer buffer;
};

// One captured graph per set of input shapes. `runs` counts plain runs at that shape: the first
// run is the warm-up TensorRT asks for before capture; capture happens on the second.
struct GraphEntry {
  cudaGraphExec_t exec = nullptr;
  int32_t runs = 0;
  bool failed = false;
};

}  // namespace

struct hydit_trt_engine {
  std::mutex mutex;
  std::string path;
  int32_t device = 0;
  bool cuda_graphs = false;
  std::unique_ptr<Logger> logger;  // declared first: outlives runtime, engine and context
  std::unique_ptr<nvinfer1::IRuntime> runtime;
  std::unique_ptr<nvinfer1::ICudaEngine> engine;
  std::unique_ptr<nvinfer1::IExecutionContext> context;
  cudaStream_t stream = nullptr;
  std::vector<IoTensor> io;
  std::map<std::string, GraphEntry> graphs;
  int32_t profile_count = 0;

  ~hydit_trt_engine() {
    // Best effort: teardown never throws and ignores CUDA errors (the device may already be lost).
    cudaSetDevice(device);
    if (stream != nullptr) cudaStreamSynchronize(stream);
    drop_graphs();
    context.reset();
    engine.reset();
    runtime.reset();
    for (IoTensor& tensor : io) {
      if (tensor.buffer.ptr != nullptr) cudaFree(tensor.buffer.ptr);
      tensor.buffer = DeviceBuffer{};
    }
    if (stream != nullptr) cudaStreamDestroy(stream);
    cudaGetLastError();
  }

  void drop_graphs() noexcept {
    for (auto& entry : graphs) {
      if (entry.second.exec != nullptr) cudaGraphExecDestroy(entry.second.exec);
    }
    graphs.clear();
  }

  std::string trt_errors() {
    std::string errors = logger ? logger->take_errors() : std::string();
    return errors.empty() ? std::string("no TensorRT error was logged") : errors;
  }
};

namespace {

hydit_trt_engine* require_engine(hydit_trt_engine* engine, const char* function) {
  if (engine == nullptr) fail(HYDIT_TRT_INVALID_ARGUMENT, std::string(function) + ": engine is NULL");
  return engine;
}

void use_device(int32_t device) { check_cuda(cudaSetDevice(device), "cudaSetDevice"); }

std::vector<char> read_plan(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) {
    const int err = errno;
    fail(err == ENOENT ? HYDIT_TRT_NOT_FOUND : HYDIT_TRT_IO_ERROR,
         "Cannot open plan \"" + path + "\": " + std::strerror(err));
  }
  const std::streamoff size = file.tellg();
  if (size < 32) {
    fail(HYDIT_TRT_INCOMPATIBLE, "Cannot load plan \"" + path + "\": not a TensorRT plan (" +
                                     std::to_string(size) + " bytes)");
  }
  std::vector<char> blob(static_cast<size_t>(size));
  file.seekg(0);
  if (!file.read(blob.data(), size)) {
    fail(HYDIT_TRT_IO_ERROR, "Cannot read plan \"" + path + "\": short read");
  }
  return blob;
}

// Refuses files that are not plans, and plans whose header names another TensorRT release, before
// TensorRT sees them. The header layout (tag, serialization version 0, version bytes at 24..27) is
// the one trtexec's --getPlanVersionOnly reads.
void check_plan_header(const std::vector<char>& blob, const std::string& path) {
  uint32_t words[2];
  std::memcpy(words, blob.data(), sizeof(words));
  if (words[0] != kPlanFileTag) {
    fail(HYDIT_TRT_INCOMPATIBLE,
         "Cannot load plan \"" + path + "\": not a TensorRT plan (bad file tag)");
  }
  if (words[1] != 0U) return;  // other serialization versions: let TensorRT decide
  const auto byte = [&](size_t i) { return static_cast<int32_t>(static_cast<uint8_t>(blob[i])); };
  const int32_t plan_version = byte(24) * 10000 + byte(25) * 100 + byte(26);
  const int32_t library_version = getInferLibVersion();
  if (plan_version != library_version) {
    fail(HYDIT_TRT_INCOMPATIBLE,
         "Cannot load plan \"" + path + "\": it was built by TensorRT " + version_text(plan_version) +
             " but this runtime is TensorRT " + version_text(library_version) +
             "; rebuild the plan with this TensorRT version");
  }
}

IoTensor& find_tensor(hydit_trt_engine& e, const char* name) {
  if (name == nullptr) fail(HYDIT_TRT_INVALID_ARGUMENT, "Tensor name is NULL");
  for (IoTensor& tensor : e.io) {
    if (tensor.name == name) return tensor;
  }
  std::string known;
  for (const IoTensor& tensor : e.io) known += (known.empty() ? "" : ", ") + tensor.name;
  fail(HYDIT_TRT_NOT_FOUND, std::string("No tensor named \"") + name + "\" in plan \"" + e.path +
                                "\" (tensors: " + known + ")");
}

nvinfer1::Dims profile_shape(hydit_trt_engine& e, const IoTensor& tensor,
                             nvinfer1::OptProfileSelector selector) {
  if (e.profile_count < 1) return tensor.shape;
  nvinfer1::Dims dims = e.engine->getProfileShape(tensor.name.c_str(), 0, selector);
  return dims.nbDims == tensor.shape.nbDims ? dims : tensor.shape;
}

// Validates `dims` against the tensor's rank, static dimensions and profile range, then sets it.
void set_input_shape(hydit_trt_engine& e, IoTensor& tensor, const int64_t* dims, int32_t nb_dims) {
  if (tensor.mode != nvinfer1::TensorIOMode::kINPUT) {
    fail(HYDIT_TRT_INVALID_ARGUMENT, "Cannot set the shape of \"" + tensor.name + "\": it is an output");
  }
  if (nb_dims != tensor.shape.nbDims) {
    fail(HYDIT_TRT_INVALID_ARGUMENT, "Input \"" + tensor.name + "\" has rank " +
                                         std::to_string(tensor.shape.nbDims) + ", got rank " +
                                         std::to_string(nb_dims));
  }
  if (nb_dims > 0 && dims == nullptr) fail(HYDIT_TRT_INVALID_ARGUMENT, "Shape pointer is NULL");
  const nvinfer1::Dims min = profile_shape(e, tensor, nvinfer1::OptProfileSelector::kMIN);
  const nvinfer1::Dims max = profile_shape(e, tensor, nvinfer1::OptProfileSelector::kMAX);
  nvinfer1::Dims wanted{};
  wanted.nbDims = nb_dims;
  for (int32_t i = 0; i < nb_dims; ++i) {
    const int64_t lo = tensor.shape.d[i] >= 0 ? tensor.shape.d[i] : min.d[i];
    const int64_t hi = tensor.shape.d[i] >= 0 ? tensor.shape.d[i] : max.d[i];
    if (dims[i] < lo || dims[i] > hi) {
      fail(HYDIT_TRT_INVALID_ARGUMENT,
           "Input \"" + tensor.name + "\" shape " + dims_text(dims, nb_dims) + " is outside the plan's range: dimension " +
               std::to_string(i) + " must be in " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    wanted.d[i] = dims[i];
  }
  const nvinfer1::Dims current = e.context->getTensorShape(tensor.name.c_str());
  if (current.nbDims == nb_dims && std::equal(current.d, current.d + nb_dims, wanted.d)) return;
  if (!e.context->setInputShape(tensor.name.c_str(), wanted)) {
    fail(HYDIT_TRT_TENSORRT_ERROR, "TensorRT refused shape " + dims_text(dims, nb_dims) +
                                       " for input \"" + tensor.name + "\": " + e.trt_errors());
  }
}

uint64_t byte_size(const IoTensor& tensor, const nvinfer1::Dims& dims) {
  uint64_t count = 1;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < 0) {
      fail(HYDIT_TRT_TENSORRT_ERROR, "Shape of \"" + tensor.name + "\" is unresolved: " +
                                         dims_text(dims.d, dims.nbDims));
    }
    const uint64_t d = static_cast<uint64_t>(dims.d[i]);
    if (d != 0 && count > (UINT64_MAX / 16) / d) {
      fail(HYDIT_TRT_INVALID_ARGUMENT, "Shape of \"" + tensor.name + "\" is too large");
    }
    count *= d;
  }
  return count * element_size(tensor.dtype);
}

// Grows the tensor's device buffer to hold `bytes`; returns true when its address changed.
bool reserve(IoTensor& tensor, uint64_t bytes) {
  const size_t wanted = round_up(std::max<size_t>(static_cast<size_t>(bytes), 1), kDeviceAlignment);
  if (tensor.buffer.ptr != nullptr && tensor.buffer.capacity >= wanted) return false;
  if (tensor.buffer.ptr != nullptr) {
    check_cuda(cudaFree(tensor.buffer.ptr), "cudaFree");
    tensor.buffer = DeviceBuffer{};
  }
  void* ptr = nullptr;
  check_cuda(cudaMalloc(&ptr, wanted), ("cudaMalloc for \"" + tensor.name + "\"").c_str());
  if (reinterpret_cast<uintptr_t>(ptr) % kDeviceAlignment != 0) {
    cudaFree(ptr);
    fail(HYDIT_TRT_CUDA_ERROR, "cudaMalloc returned memory that is not 256-byte aligned");
  }
  tensor.buffer = DeviceBuffer{ptr, wanted};
  return true;
}

void enqueue(hydit_trt_engine& e) {
  if (!e.context->enqueueV3(e.stream)) {
    fail(HYDIT_TRT_TENSORRT_ERROR, "TensorRT enqueueV3 failed for plan \"" + e.path + "\": " + e.trt_errors());
  }
}

// Captures one enqueueV3 into a CUDA graph. Returns false (state cleaned up) when the engine
// cannot be captured; the caller then runs without a graph.
bool capture(hydit_trt_engine& e, GraphEntry& entry) {
  check_cuda(cudaStreamSynchronize(e.stream), "cudaStreamSynchronize before capture");
  if (cudaStreamBeginCapture(e.stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  const bool enqueued = e.context->enqueueV3(e.stream);
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(e.stream, &graph);
  cudaGraphExec_t exec = nullptr;
  const bool ok = enqueued && ended == cudaSuccess && graph != nullptr &&
                  cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
  if (graph != nullptr) cudaGraphDestroy(graph);
  if (!ok) {
    if (exec != nullptr) cudaGraphExecDestroy(exec);
    cudaGetLastError();
    e.logger->take_errors();
    return false;
  }
  entry.exec = exec;
  return true;
}

void launch(hydit_trt_engine& e, const std::string& shape_key) {
  if (!e.cuda_graphs) {
    enqueue(e);
    return;
  }
  auto found = e.graphs.find(shape_key);
  if (found == e.graphs.end()) {
    if (e.graphs.size() >= kMaxCachedGraphs) {
      enqueue(e);
      return;
    }
    found = e.graphs.emplace(shape_key, GraphEntry{}).first;
  }
  GraphEntry& entry = found->second;
  if (entry.exec == nullptr && !entry.failed && entry.runs >= 1 && !capture(e, entry)) {
    entry.failed = true;
    std::fprintf(stderr, "[hydit_trt] CUDA graph capture failed for \"%s\" at shapes %s; running without a graph\n",
                 e.path.c_str(), shape_key.c_str());
  }
  if (entry.exec != nullptr) {
    check_cuda(cudaGraphLaunch(entry.exec, e.stream), "cudaGraphLaunch");
    return;
  }
  enqueue(e);
  ++entry.runs;
}

void run(hydit_trt_engine& e, hydit_trt_binding* bindings, int32_t count) {
  const int32_t expected = static_cast<int32_t>(e.io.size());
  if (count != expected) {
    fail(HYDIT_TRT_INVALID_ARGUMENT, "Expected " + std::to_string(expected) +
                                         " bindings (one per IO tensor), got " + std::to_string(count));
  }
  if (bindings == nullptr) fail(HYDIT_TRT_INVALID_ARGUMENT, "Bindings pointer is NULL");
  use_device(e.device);

  std::vector<bool> seen(e.io.size(), false);
  std::string shape_key;
  for (int32_t i = 0; i < count; ++i) {
    const hydit_trt_binding& b = bindings[i];
    if (b.io_index < 0 || b.io_index >= expected) {
      fail(HYDIT_TRT_NOT_FOUND, "Binding " + std::to_string(i) + " names IO index " +
                                    std::to_string(b.io_index) + "; the plan has " +
                                    std::to_string(expected) + " IO tensors");
    }
    if (seen[b.io_index]) {
      fail(HYDIT_TRT_INVALID_ARGUMENT, "Tensor \"" + e.io[b.io_index].name + "\" is bound twice");
    }
    seen[b.io_index] = true;
    IoTensor& tensor = e.io[b.io_index];
    if (b.dtype != static_cast<int32_t>(tensor.dtype)) {
      fail(HYDIT_TRT_INVALID_ARGUMENT, "Tensor \"" + tensor.name + "\" is " +
                                           dtype_name(static_cast<int32_t>(tensor.dtype)) + ", got " +
                                           dtype_name(b.dtype));
    }
    if (tensor.mode == nvinfer1::TensorIOMode::kINPUT) {
      if (b.nb_dims < 0 || b.nb_dims > HYDIT_TRT_MAX_DIMS) {
        fail(HYDIT_TRT_INVALID_ARGUMENT, "Input \"" + tensor.name + "\" has invalid rank " + std::to_string(b.nb_dims));
      }
      set_input_shape(e, tensor, b.dims, b.nb_dims);
      shape_key += tensor.name + dims_text(b.dims, b.nb_dims) + ";";
    }
  }

  bool moved = false;
  for (int32_t i = 0; i < count; ++i) {
    hydit_trt_binding& b = bindings[i];
    IoTensor& tensor = e.io[b.io_index];
    const nvinfer1::Dims dims = e.context->getTensorShape(tensor.name.c_str());
    const uint64_t bytes = byte_size(tensor, dims);
    if (b.bytes != bytes) {
      fail(HYDIT_TRT_INVALID_ARGUMENT, "Tensor \"" + tensor.name + "\" of shape " +
                                           dims_text(dims.d, dims.nbDims) + " needs " + std::to_string(bytes) +
                                           " bytes, got " + std::to_string(b.bytes));
    }
    if (bytes > 0 && b.data == 0) {
      fail(HYDIT_TRT_INVALID_ARGUMENT, "Tensor \"" + tensor.name + "\" has a NULL host buffer");
    }
    moved = reserve(tensor, bytes) || moved;
    if (!e.context->setTensorAddress(tensor.name.c_str(), tensor.buffer.ptr)) {
      fail(HYDIT_TRT_TENSORRT_ERROR, "TensorRT refused the address of \"" + tensor.name + "\": " + e.trt_errors());
    }
    if (tensor.mode == nvinfer1::TensorIOMode::kOUTPUT) {
      b.nb_dims = dims.nbDims;
      std::fill(b.dims, b.dims + HYDIT_TRT_MAX_DIMS, 0);
      std::copy(dims.d, dims.d + dims.nbDims, b.dims);
    }
  }
  if (moved) e.drop_graphs();  // captured graphs hold the old addresses

  for (int32_t i = 0; i < count; ++i) {
    const hydit_trt_binding& b = bindings[i];
    const IoTensor& tensor = e.io[b.io_index];
    if (tensor.mode != nvinfer1::TensorIOMode::kINPUT || b.bytes == 0) continue;
    check_cuda(cudaMemcpyAsync(tensor.buffer.ptr, reinterpret_cast<const void*>(static_cast<uintptr_t>(b.data)),
                               b.bytes, cudaMemcpyHostToDevice, e.stream),
               "cudaMemcpyAsync host to device");
  }
  launch(e, shape_key);
  for (int32_t i = 0; i < count; ++i) {
    const hydit_trt_binding& b = bindings[i];
    const IoTensor& tensor = e.io[b.io_index];
    if (tensor.mode != nvinfer1::TensorIOMode::kOUTPUT || b.bytes == 0) continue;
    check_cuda(cudaMemcpyAsync(reinterpret_cast<void*>(static_cast<uintptr_t>(b.data)), tensor.buffer.ptr,
                               b.bytes, cudaMemcpyDeviceToHost, e.stream),
               "cudaMemcpyAsync device to host");
  }
  check_cuda(cudaStreamSynchronize(e.stream), "cudaStreamSynchronize after run");
}

// Reads the IO table and refuses tensors the host-buffer model cannot carry.
void describe_io(hydit_trt_engine& e) {
  const int32_t n = e.engine->getNbIOTensors();
  for (int32_t i = 0; i < n; ++i) {
    const char* name = e.engine->getIOTensorName(i);
    if (name == nullptr) fail(HYDIT_TRT_TENSORRT_ERROR, "TensorRT returned no name for IO tensor " + std::to_string(i));
    IoTensor tensor;
    tensor.name = name;
    if (tensor.name.size() >= HYDIT_TRT_NAME_CAPACITY) {
      fail(HYDIT_TRT_INCOMPATIBLE, "Tensor name \"" + tensor.name + "\" is longer than " +
                                       std::to_string(HYDIT_TRT_NAME_CAPACITY - 1) + " bytes");
    }
    tensor.mode = e.engine->getTensorIOMode(name);
    tensor.dtype = e.engine->getTensorDataType(name);
    tensor.shape = e.engine->getTensorShape(name);
    const std::string where = "Tensor \"" + tensor.name + "\" of plan \"" + e.path + "\"";
    if (tensor.mode != nvinfer1::TensorIOMode::kINPUT && tensor.mode != nvinfer1::TensorIOMode::kOUTPUT) {
      fail(HYDIT_TRT_INCOMPATIBLE, where + " is neither an input nor an output");
    }
    if (tensor.shape.nbDims < 0 || tensor.shape.nbDims > HYDIT_TRT_MAX_DIMS) {
      fail(HYDIT_TRT_INCOMPATIBLE, where + " has an invalid rank");
    }
    if (element_size(tensor.dtype) == 0) {
      fail(HYDIT_TRT_INCOMPATIBLE, where + " has unsupported dtype " + dtype_name(static_cast<int32_t>(tensor.dtype)));
    }
    if (e.engine->isShapeInferenceIO(name) || e.engine->getTensorLocation(name) != nvinfer1::TensorLocation::kDEVICE) {
      fail(HYDIT_TRT_INCOMPATIBLE, where + " is a host/shape tensor; only device tensors are supported");
    }
    if (e.engine->getTensorFormat(name) != nvinfer1::TensorFormat::kLINEAR) {
      fail(HYDIT_TRT_INCOMPATIBLE, where + " is not in linear (row-major) format");
    }
    e.io.push_back(std::move(tensor));
  }
}

void fill_dims(int64_t* out, const nvinfer1::Dims& dims) {
  std::fill(out, out + HYDIT_TRT_MAX_DIMS, 0);
  if (dims.nbDims > 0) std::copy(dims.d, dims.d + std::min<int32_t>(dims.nbDims, HYDIT_TRT_MAX_DIMS), out);
}

}  // namespace

extern "C" {

int32_t hydit_trt_api_version(void) { return HYDIT_TRT_API_VERSION; }

const char* hydit_trt_last_error(void) { return t_last_error.c_str(); }

const char* hydit_trt_status_name(int32_t status) {
  static const char* const kNames[HYDIT_TRT_STATUS_COUNT] = {
      "HYDIT_TRT_OK",           "HYDIT_TRT_INVALID_ARGUMENT", "HYDIT_TRT_NOT_FOUND",
      "HYDIT_TRT_IO_ERROR",     "HYDIT_TRT_INCOMPATIBLE",     "HYDIT_TRT_TENSORRT_ERROR",
      "HYDIT_TRT_CUDA_ERROR",   "HYDIT_TRT_OUT_OF_MEMORY",    "HYDIT_TRT_INTERNAL"};
  if (status < 0 || status >= HYDIT_TRT_STATUS_COUNT) return "HYDIT_TRT_UNKNOWN_STATUS";
  return kNames[status];
}

int32_t hydit_trt_get_version_info(int32_t device, hydit_trt_version_info* out, char* error,
                                   size_t error_capacity) {
  return guarded(error, error_capacity, [&] {
    if (out == nullptr) fail(HYDIT_TRT_INVALID_ARGUMENT, "hydit_trt_get_version_info: out is NULL");
    std::memset(out, 0, sizeof(*out));
    out->api_version = HYDIT_TRT_API_VERSION;
    out->tensorrt_header_version = static_cast<int32_t>(NV_TENSORRT_VERSION);
    out->tensorrt_library_version = getInferLibVersion();
    out->device = device;
    check_cuda(cudaRuntimeGetVersion(&out->cuda_runtime_version), "cudaRuntimeGetVersion");
    check_cuda(cudaDriverGetVersion(&out->cuda_driver_version), "cudaDriverGetVersion");
    int32_t count = 0;
    check_cuda(cudaGetDeviceCount(&count), "cudaGetDeviceCount (is a GPU visible to this process?)");
    if (device < 0 || device >= count) {
      fail(HYDIT_TRT_INVALID_ARGUMENT, "CUDA device " + std::to_string(device) + " does not exist (" +
                                           std::to_string(count) + " visible)");
    }
    use_device(device);
    cudaDeviceProp prop{};
    check_cuda(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    out->sm_major = prop.major;
    out->sm_minor = prop.minor;
    std::snprintf(out->device_name, sizeof(out->device_name), "%s", prop.name);
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    check_cuda(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    out->free_memory = free_bytes;
    out->total_memory = total_bytes;
  });
}

void hydit_trt_load_options_init(hydit_trt_load_options* options) {
  if (options == nullptr) return;
  options->struct_size = sizeof(hydit_trt_load_options);
  options->device = 0;
  options->cuda_graphs = 0;
  options->log_severity = static_cast<int32_t>(nvinfer1::ILogger::Severity::kWARNING);
}

int32_t hydit_trt_load(const char* plan_path, const hydit_trt_load_options* options,
                       hydit_trt_engine** out_engine, char* error, size_t error_capacity) {
  return guarded(error, error_capacity, [&] {
    if (out_engine == nullptr) fail(HYDIT_TRT_INVALID_ARGUMENT, "hydit_trt_load: out_engine is NULL");
    *out_engine = nullptr;
    if (plan_path == nullptr || plan_path[0] == '\0') {
      fail(HYDIT_TRT_INVALID_ARGUMENT, "hydit_trt_load: plan path is empty");
    }
    hydit_trt_load_options opts;
    hydit_trt_load_options_init(&opts);
    if (options != nullptr) {
      if (options->struct_size < sizeof(hydit_trt_load_options)) {
        fail(HYDIT_TRT_INVALID_ARGUMENT, "hydit_trt_load: options.struct_size is " +
                                             std::to_string(options->struct_size) + ", expected " +
                                             std::to_string(sizeof(hydit_trt_load_options)));
      }
      opts = *options;
    }
    // The plan is read and its header checked before CUDA is touched, so a wrong path or a plan
    // from another TensorRT release is reported as such even on a machine without a GPU.
    std::vector<char> blob = read_plan(plan_path);
    check_plan_header(blob, plan_path);
    int32_t count = 0;
    check_cuda(cudaGetDeviceCount(&count), "cudaGetDeviceCount (is a GPU visible to this process?)");
    if (opts.device < 0 || opts.device >= count) {
      fail(HYDIT_TRT_INVALID_ARGUMENT, "CUDA device " + std::to_string(opts.device) + " does not exist (" +
                                           std::to_string(count) + " visible)");
    }

    auto e = std::make_unique<hydit_trt_engine>();
    e->path = plan_path;
    e->device = opts.device;
    e->cuda_graphs = opts.cuda_graphs != 0;
    use_device(e->device);
    e->logger = std::make_unique<Logger>(opts.log_severity);
    e->runtime.reset(nvinfer1::createInferRuntime(*e->logger));
    if (!e->runtime) fail(HYDIT_TRT_TENSORRT_ERROR, "createInferRuntime failed: " + e->trt_errors());
    e->engine.reset(e->runtime->deserializeCudaEngine(blob.data(), blob.size()));
    std::vector<char>().swap(blob);  // the engine holds its own copy; release the file bytes now
    if (!e->engine) {
      fail(HYDIT_TRT_INCOMPATIBLE, "Cannot deserialize plan \"" + e->path +
                                       "\" (built for another TensorRT version or GPU?): " + e->trt_errors());
    }
    e->profile_count = e->engine->getNbOptimizationProfiles();
    describe_io(*e);
    e->context.reset(e->engine->createExecutionContext());
    if (!e->context) {
      fail(HYDIT_TRT_TENSORRT_ERROR, "Cannot create an execution context for \"" + e->path + "\": " + e->trt_errors());
    }
    check_cuda(cudaStreamCreateWithFlags(&e->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    *out_engine = e.release();
  });
}

int32_t hydit_trt_get_io_count(hydit_trt_engine* engine, int32_t* out_count) {
  return guarded(nullptr, 0, [&] {
    hydit_trt_engine& e = *require_engine(engine, "hydit_trt_get_io_count");
    if (out_count == nullptr) fail(HYDIT_TRT_INVALID_ARGUMENT, "hydit_trt_get_io_count: out_count is NULL");
    std::lock_guard<std::mutex> lock(e.mutex);
    *out_count = static_cast<int32_t>(e.io.size());
  });
}

int32_t hydit_trt_get_io_info(hydit_trt_engine* engine, int32_t index, hydit_trt_io_info* out) {
  return guarded(nullptr, 0, [&] {
    hydit_trt_engine& e = *require_engine(engine, "hydit_trt_get_io_info");
    if (out == nullptr) fail(HYDIT_TRT_INVALID_ARGUMENT, "hydit_trt_get_io_info: out is NULL");
    std::lock_guard<std::mutex> lock(e.mutex);
    if (index < 0 || index >= static_cast<int32_t>(e.io.size())) {
      fail(HYDIT_TRT_NOT_FOUND, "IO index " + std::to_string(index) + " is out of range (0.." +
                                    std::to_string(static_cast<int32_t>(e.io.size()) - 1) + ")");
    }
    const IoTensor& tensor = e.io[index];
    std::memset(out, 0, sizeof(*out));
    std::snprintf(out->name, sizeof(out->name), "%s", tensor.name.c_str());
    out->mode = static_cast<int32_t>(tensor.mode);
    out->dtype = static_cast<int32_t>(tensor.dtype);
    out->nb_dims = tensor.shape.nbDims;
    fill_dims(out->shape, tensor.shape);
    if (tensor.mode == nvinfer1::TensorIOMode::kINPUT) {
      fill_dims(out->min, profile_shape(e, tensor, nvinfer1::OptProfileSelector::kMIN));
      fill_dims(out->opt, profile_shape(e, tensor, nvinfer1::OptProfileSelector::kOPT));
      fill_dims(out->max, profile_shape(e, tensor, nvinfer1::OptProfileSelector::kMAX));
    }
  });
}

int32_t hydit_trt_set_input_shape(hydit_trt_engine* engine, const char* name, const int64_t* dims,
                                  int32_t nb_dims) {
  return guarded(nullptr, 0, [&] {
    hydit_trt_engine& e = *require_engine(engine, "hydit_trt_set_input_shape");
    std::lock_guard<std::mutex> lock(e.mutex);
    set_input_shape(e, find_tensor(e, name), dims, nb_dims);
  });
}

int32_t hydit_trt_tensor_shape(hydit_trt_engine* engine, const char* name, int64_t* dims,
                               int32_t* nb_dims) {
  return guarded(nullptr, 0, [&] {
    hydit_trt_engine& e = *require_engine(engine, "hydit_trt_tensor_shape");
    if (dims == nullptr || nb_dims == nullptr) {
      fail(HYDIT_TRT_INVALID_ARGUMENT, "hydit_trt_tensor_shape: output pointer is NULL");
    }
    std::lock_guard<std::mutex> lock(e.mutex);
    const IoTensor& tensor = find_tensor(e, name);
    const nvinfer1::Dims shape = e.context->getTensorShape(tensor.name.c_str());
    if (shape.nbDims < 0 || shape.nbDims > HYDIT_TRT_MAX_DIMS) {
      fail(HYDIT_TRT_TENSORRT_ERROR, "TensorRT returned no shape for \"" + tensor.name + "\": " + e.trt_errors());
    }
    *nb_dims = shape.nbDims;
    fill_dims(dims, shape);
  });
}

int32_t hydit_trt_run(hydit_trt_engine* engine, hydit_trt_binding* bindings, int32_t count,
                      char* error, size_t error_capacity) {
  return guarded(error, error_capacity, [&] {
    hydit_trt_engine& e = *require_engine(engine, "hydit_trt_run");
    std::lock_guard<std::mutex> lock(e.mutex);
    try {
      run(e, bindings, count);
    } catch (...) {
      // Leave the stream idle so the next run starts clean, then report the first error.
      cudaStreamSynchronize(e.stream);
      cudaGetLastError();
      throw;
    }
  });
}

int32_t hydit_trt_unload(hydit_trt_engine* engine) {
  return guarded(nullptr, 0, [&] {
    if (engine == nullptr) return;
    { std::lock_guard<std::mutex> lock(engine->mutex); }  // wait for a run still in flight
    delete engine;
  });
}

}  // extern "C"
