#!/usr/bin/env bash
# Builds ffi/libhydit_trt.so, the C shim over TensorRT.
#
#   ffi/build.sh                 compile and link (needs TensorRT headers + libnvinfer, CUDA runtime)
#   ffi/build.sh --compile-only  compile to ffi/build/hydit_trt.o only (headers suffice)
#
# TensorRT is found through TENSORRT_ROOT (an SDK folder with include/ and lib/) or the standard
# locations: /usr/include/x86_64-linux-gnu (NVIDIA .deb / NGC containers), /usr/local/tensorrt,
# /opt/tensorrt. CUDA through CUDA_HOME or /usr/local/cuda. Without TensorRT headers the script
# says so and exits 0 without building, so CI passes on machines that have no TensorRT.
# Environment: CXX (default g++), OUT_DIR (default ffi/build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${OUT_DIR:-$here/build}"
cxx="${CXX:-g++}"
compile_only=0
for arg in "$@"; do
  case "$arg" in
    --compile-only) compile_only=1 ;;
    -h | --help)
      sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "ffi/build.sh: unknown argument '$arg' (see --help)" >&2
      exit 2
      ;;
  esac
done

trt_include=""
trt_lib=""
candidates=()
if [ -n "${TENSORRT_ROOT:-}" ]; then
  candidates+=("$TENSORRT_ROOT/include:$TENSORRT_ROOT/lib")
fi
candidates+=(
  "/usr/include/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu"
  "/usr/include/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu"
  "/usr/local/tensorrt/include:/usr/local/tensorrt/lib"
  "/opt/tensorrt/include:/opt/tensorrt/lib"
)
for pair in "${candidates[@]}"; do
  inc="${pair%%:*}"
  if [ -f "$inc/NvInferRuntime.h" ] && [ -f "$inc/NvInferVersion.h" ]; then
    trt_include="$inc"
    trt_lib="${pair#*:}"
    break
  fi
done
if [ -z "$trt_include" ] && [ -n "${TENSORRT_ROOT:-}" ]; then
  echo "ffi/build.sh: TENSORRT_ROOT=$TENSORRT_ROOT has no include/NvInferRuntime.h" >&2
  exit 1
fi
if [ -z "$trt_include" ]; then
  echo "ffi/build.sh: skipped: no TensorRT headers found (set TENSORRT_ROOT, or install them under /usr/include/x86_64-linux-gnu, /usr/local/tensorrt or /opt/tensorrt)"
  exit 0
fi

cuda_home="${CUDA_HOME:-/usr/local/cuda}"
if [ ! -f "$cuda_home/include/cuda_runtime_api.h" ]; then
  echo "ffi/build.sh: CUDA headers not found at $cuda_home/include (set CUDA_HOME)" >&2
  exit 1
fi

version() {
  local key="$1"
  sed -n "s/^#define $key \([0-9]*\).*/\1/p" "$trt_include/NvInferVersion.h" | head -n 1
}
major="$(version TRT_MAJOR_ENTERPRISE)"
major="${major:-$(version NV_TENSORRT_MAJOR)}"
minor="$(version TRT_MINOR_ENTERPRISE)"
minor="${minor:-$(version NV_TENSORRT_MINOR)}"
patch="$(version TRT_PATCH_ENTERPRISE)"
patch="${patch:-$(version NV_TENSORRT_PATCH)}"
echo "ffi/build.sh: TensorRT $major.$minor.$patch headers in $trt_include; CUDA headers in $cuda_home/include"

mkdir -p "$out_dir"
flags=(-std=c++17 -O2 -fPIC -fvisibility=hidden -Wall -Wextra -Werror
  -isystem "$trt_include" -isystem "$cuda_home/include")
"$cxx" "${flags[@]}" -c "$here/hydit_trt.cpp" -o "$out_dir/hydit_trt.o"
echo "ffi/build.sh: compiled $out_dir/hydit_trt.o"
if [ "$compile_only" -eq 1 ]; then
  exit 0
fi

if ! compgen -G "$trt_lib/libnvinfer.so*" >/dev/null; then
  echo "ffi/build.sh: TensorRT headers found but no libnvinfer.so in $trt_lib; cannot link (use --compile-only for a compile check)" >&2
  exit 1
fi
cuda_lib="$cuda_home/lib64"
[ -d "$cuda_lib" ] || cuda_lib="$cuda_home/lib"
"$cxx" -shared -o "$out_dir/libhydit_trt.so" "$out_dir/hydit_trt.o" \
  -L"$trt_lib" -L"$cuda_lib" -lnvinfer -lcudart -Wl,--no-undefined -Wl,--as-needed \
  -Wl,-rpath,"$trt_lib" -Wl,-rpath,"$cuda_lib"
echo "ffi/build.sh: linked $out_dir/libhydit_trt.so against libnvinfer.so.$major"
