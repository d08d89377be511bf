/*
 * hydit_trt: a C ABI over TensorRT prebuilt plans, made for Deno FFI.
 *
 * Conventions
 * - Every fallible function returns an int32_t status (hydit_trt_status); 0 is success.
 * - On failure the message is stored in a thread-local string read with hydit_trt_last_error().
 *   Functions that a caller may run on a worker thread (Deno `nonblocking` symbols) also copy the
 *   message into the caller's `error` buffer (NUL-terminated, truncated to `error_capacity`), because
 *   the next call from another thread cannot see that thread's last error.
 * - Handles are opaque. hydit_trt_unload(NULL) is a no-op.
 * - Calls on one engine are serialized by a mutex inside the shim; the caller should still keep at
 *   most one hydit_trt_run in flight per engine.
 * - The shim owns all CUDA memory (one stream per engine, IO buffers reused across runs and grown
 *   only when a larger shape arrives, 256-byte aligned). Callers pass host memory only.
 * - Struct layouts are fixed (sizes asserted in hydit_trt.cpp) so FFI callers can read them with
 *   plain byte offsets.
 */
#ifndef HYDIT_TRT_H
#define HYDIT_TRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HYDIT_TRT_API __attribute__((visibility("default")))
#else
#define HYDIT_TRT_API
#endif

/** Version of this ABI; bumped on any incompatible change. Callers compare it at load. */
#define HYDIT_TRT_API_VERSION 1
/** Maximum tensor rank (TensorRT's Dims::MAX_DIMS). */
#define HYDIT_TRT_MAX_DIMS 8
/** Capacity of fixed-size name fields, terminator included. */
#define HYDIT_TRT_NAME_CAPACITY 256

/** Status codes. Names come from hydit_trt_status_name(). */
typedef enum hydit_trt_status {
  HYDIT_TRT_OK = 0,
  HYDIT_TRT_INVALID_ARGUMENT = 1, /* NULL pointer, bad size, bad dtype, bad rank, shape out of profile */
  HYDIT_TRT_NOT_FOUND = 2,        /* unknown tensor name or index, missing plan file */
  HYDIT_TRT_IO_ERROR = 3,         /* the plan file could not be read */
  HYDIT_TRT_INCOMPATIBLE = 4,     /* not a plan, or built for another TensorRT version or GPU */
  HYDIT_TRT_TENSORRT_ERROR = 5,   /* TensorRT refused a call; message carries its log */
  HYDIT_TRT_CUDA_ERROR = 6,       /* a CUDA runtime call failed */
  HYDIT_TRT_OUT_OF_MEMORY = 7,    /* host or device allocation failed */
  HYDIT_TRT_INTERNAL = 8,         /* unexpected exception inside the shim */
  HYDIT_TRT_STATUS_COUNT = 9
} hydit_trt_status;

/** IO tensor direction, numerically equal to nvinfer1::TensorIOMode. */
typedef enum hydit_trt_io_mode {
  HYDIT_TRT_IO_INPUT = 1,
  HYDIT_TRT_IO_OUTPUT = 2
} hydit_trt_io_mode;

/*
 * Element types are passed as the numeric value of nvinfer1::DataType (identical in TensorRT 10.x
 * and 11.x): 0 float32, 1 float16, 2 int8, 3 int32, 4 bool, 5 uint8, 6 fp8, 7 bf16, 8 int64,
 * 9 int4, 10 fp4, 11 e8m0. fp16 data crosses as raw IEEE half bits.
 */

/** An engine: a deserialized plan, one execution context, one CUDA stream, its device buffers. */
typedef struct hydit_trt_engine hydit_trt_engine;

/** Runtime and device facts (304 bytes). Filled by hydit_trt_get_version_info. */
typedef struct hydit_trt_version_info {
  int32_t api_version;              /* HYDIT_TRT_API_VERSION of the library */
  int32_t tensorrt_header_version;  /* NV_TENSORRT_VERSION compiled in, e.g. 110100 = 11.1.0 */
  int32_t tensorrt_library_version; /* getInferLibVersion() of the loaded libnvinfer */
  int32_t cuda_runtime_version;     /* cudaRuntimeGetVersion, e.g. 13000 */
  int32_t cuda_driver_version;      /* cudaDriverGetVersion (highest CUDA the driver supports) */
  int32_t device;                   /* CUDA device ordinal described */
  int32_t sm_major;                 /* compute capability major */
  int32_t sm_minor;                 /* compute capability minor */
  uint64_t free_memory;             /* bytes free on the device (cudaMemGetInfo) */
  uint64_t total_memory;            /* bytes total on the device */
  char device_name[HYDIT_TRT_NAME_CAPACITY]; /* NUL-terminated marketing name */
} hydit_trt_version_info;

/** Options for hydit_trt_load (16 bytes). Initialise with hydit_trt_load_options_init. */
typedef struct hydit_trt_load_options {
  uint32_t struct_size; /* sizeof(hydit_trt_load_options); lets fields be added later */
  int32_t device;       /* CUDA device ordinal; default 0 */
  int32_t cuda_graphs;  /* 1 = capture one CUDA graph per input-shape set, with fallback; default 0 */
  int32_t log_severity; /* TensorRT messages at or below this severity go to stderr; default 2 (warning) */
} hydit_trt_load_options;

/** One IO tensor of an engine (528 bytes). Dims beyond nb_dims are 0. */
typedef struct hydit_trt_io_info {
  char name[HYDIT_TRT_NAME_CAPACITY]; /* NUL-terminated tensor name */
  int32_t mode;                       /* hydit_trt_io_mode */
  int32_t dtype;                      /* nvinfer1::DataType value */
  int32_t nb_dims;                    /* rank */
  int32_t reserved;                   /* 0 */
  int64_t shape[HYDIT_TRT_MAX_DIMS];  /* engine shape, -1 for a dynamic dimension */
  int64_t min[HYDIT_TRT_MAX_DIMS];    /* profile 0 minimum (inputs only, else 0) */
  int64_t opt[HYDIT_TRT_MAX_DIMS];    /* profile 0 optimum (inputs only, else 0) */
  int64_t max[HYDIT_TRT_MAX_DIMS];    /* profile 0 maximum (inputs only, else 0) */
} hydit_trt_io_info;

/**
 * One host buffer handed to hydit_trt_run (96 bytes). For an input, dims give its shape; for an
 * output, the shim writes the resolved shape into dims/nb_dims and requires `bytes` to equal the
 * resolved size exactly. `data` is a host address owned by the caller and must stay valid until
 * hydit_trt_run returns.
 */
typedef struct hydit_trt_binding {
  uint64_t data;                     /* host address */
  uint64_t bytes;                    /* buffer length in bytes */
  int32_t io_index;                  /* index as listed by hydit_trt_get_io_info */
  int32_t dtype;                     /* must equal the tensor's dtype */
  int32_t nb_dims;                   /* inputs: rank given; outputs: written */
  int32_t reserved;                  /* 0 */
  int64_t dims[HYDIT_TRT_MAX_DIMS];  /* inputs: shape given; outputs: written */
} hydit_trt_binding;

/** Returns HYDIT_TRT_API_VERSION. Never fails. */
HYDIT_TRT_API int32_t hydit_trt_api_version(void);

/**
 * The calling thread's last error message ("" when none). Owned by the shim; valid until the next
 * hydit_trt call on this thread, so copy it at once. Never NULL; does not change the error state.
 */
HYDIT_TRT_API const char* hydit_trt_last_error(void);

/** Static name of a status code, e.g. "HYDIT_TRT_NOT_FOUND"; "HYDIT_TRT_UNKNOWN_STATUS" when out of range. */
HYDIT_TRT_API const char* hydit_trt_status_name(int32_t status);

/**
 * Fills `out` with TensorRT/CUDA versions and facts about `device`. Initialises CUDA on first use,
 * so it may take a while: declare it nonblocking.
 */
HYDIT_TRT_API int32_t hydit_trt_get_version_info(int32_t device, hydit_trt_version_info* out,
                                                 char* error, size_t error_capacity);

/** Fills `options` with defaults (device 0, no CUDA graphs, warnings to stderr). */
HYDIT_TRT_API void hydit_trt_load_options_init(hydit_trt_load_options* options);

/**
 * Reads and deserializes the plan at `plan_path` (NUL-terminated UTF-8), creates one execution
 * context on profile 0 and one stream. `options` may be NULL for defaults. On success `*out_engine`
 * receives a handle to release with hydit_trt_unload; on failure it is set to NULL and the message
 * (including TensorRT's logged errors, e.g. a version-tag mismatch) is reported.
 */
HYDIT_TRT_API int32_t hydit_trt_load(const char* plan_path, const hydit_trt_load_options* options,
                                     hydit_trt_engine** out_engine, char* error,
                                     size_t error_capacity);

/** Number of IO tensors of the engine. */
HYDIT_TRT_API int32_t hydit_trt_get_io_count(hydit_trt_engine* engine, int32_t* out_count);

/** Describes IO tensor `index` (0 <= index < count). */
HYDIT_TRT_API int32_t hydit_trt_get_io_info(hydit_trt_engine* engine, int32_t index,
                                        hydit_trt_io_info* out);

/**
 * Sets the runtime shape of input `name`; fails when the name is not an input, the rank differs,
 * a static dimension differs or the shape is outside the optimization profile.
 */
HYDIT_TRT_API int32_t hydit_trt_set_input_shape(hydit_trt_engine* engine, const char* name,
                                                const int64_t* dims, int32_t nb_dims);

/**
 * The current shape of tensor `name` in the execution context; for outputs this is resolved from
 * the input shapes set so far. `dims` must hold HYDIT_TRT_MAX_DIMS values.
 */
HYDIT_TRT_API int32_t hydit_trt_tensor_shape(hydit_trt_engine* engine, const char* name,
                                             int64_t* dims, int32_t* nb_dims);

/**
 * Runs one inference: sets every input shape from `bindings`, checks that each IO tensor appears
 * exactly once with the right dtype and byte size, copies inputs to the engine's device buffers,
 * enqueues (or replays a captured CUDA graph), copies outputs back into the output bindings and
 * waits for the stream. Blocks until the GPU is done: declare it nonblocking.
 */
HYDIT_TRT_API int32_t hydit_trt_run(hydit_trt_engine* engine, hydit_trt_binding* bindings,
                                    int32_t count, char* error, size_t error_capacity);

/** Waits for the engine's stream and frees everything it owns. NULL is a no-op. */
HYDIT_TRT_API int32_t hydit_trt_unload(hydit_trt_engine* engine);

#ifdef __cplusplus
}
#endif

#endif /* HYDIT_TRT_H */
