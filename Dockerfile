# syntax=docker/dockerfile:1
#
# HunyuanDiT edge function, GPU image.
#
#   docker build -t hydit .                      # runtime image (default target)
#   docker build -t hydit-plans --target plans .  # plan builder, run on a GPU host
#
# Stages: `deno` (the Deno binary), `build` (NVIDIA's TensorRT image: compiles the FFI shim,
# collects its runtime libraries, installs the app's npm dependencies), `plans` (optional: builds
# ONNX graphs + TensorRT plans from a mounted checkpoint on a GPU builder), `runtime` (Ubuntu with
# Deno, the app, the shim and only the TensorRT/CUDA runtime libraries it links).
#
# TRT_IMAGE: NGC TensorRT 25.10 is the 25.10 release train (CUDA 13.0.2, TensorRT 10.13.x,
# Ubuntu 24.04, driver >= 580 or a data-center branch under forward compatibility). Plans are tied
# to the TensorRT version of the image that builds them: build plans with the same TRT_IMAGE as
# the runtime (the `plans` target does), and rebuild them after changing it.
ARG TRT_IMAGE=nvcr.io/nvidia/tensorrt:25.10-py3
ARG DENO_VERSION=2.9.6
ARG RUNTIME_IMAGE=ubuntu:24.04

FROM denoland/deno:bin-${DENO_VERSION} AS deno

FROM ${TRT_IMAGE} AS build
COPY --from=deno /deno /usr/local/bin/deno
WORKDIR /src
COPY ffi/ ffi/
# ffi/build.sh finds the image's headers in /usr/include/x86_64-linux-gnu; the test makes a
# missing TensorRT fail the build here instead of shipping an image without the shim.
RUN bash ffi/build.sh && test -f ffi/build/libhydit_trt.so
# The shim's shared-library closure minus what the runtime base and the NVIDIA driver provide.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN mkdir -p /out/lib \
  && cp ffi/build/libhydit_trt.so /out/lib/ \
  && ldd ffi/build/libhydit_trt.so \
  | awk '/=> \// { print $3 }' \
  | grep -Ev '/(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|ld-linux[^/]*|libcuda)\.so' \
  | xargs -r -I{} cp -L {} /out/lib/ \
  && ls -l /out/lib
WORKDIR /app
ENV DENO_DIR=/app/.deno
COPY deno.json deno.lock main.ts ./
COPY lib/ lib/
COPY engines/*.ts engines/
RUN deno install --frozen-lockfile && deno cache main.ts engines/build.ts

# Optional plan builder: docker run --gpus all -v CKPT:/checkpoint:ro -v ENGINES:/engines hydit-plans
#   --checkpoint /checkpoint --out /engines/v12 --precision fp16 --trt
FROM build AS plans
# trtexec's place differs between TensorRT images; link whichever exists to /usr/local/bin.
RUN if ! command -v trtexec; then \
    for c in /usr/src/tensorrt/bin/trtexec /opt/tensorrt/bin/trtexec /workspace/tensorrt/bin/trtexec; do \
      if [ -x "$c" ]; then ln -s "$c" /usr/local/bin/trtexec; break; fi; \
    done; \
  fi \
  && command -v trtexec \
  && useradd --uid 10001 --create-home --shell /usr/sbin/nologin hydit \
  && mkdir -p /engines \
  && chown -R hydit /app /engines
ENV NVIDIA_VISIBLE_DEVICES=all \
  NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001
VOLUME ["/checkpoint", "/engines"]
ENTRYPOINT ["deno", "run", "--allow-all", "--cached-only", "engines/build.ts"]
CMD ["--help"]

FROM ${RUNTIME_IMAGE} AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --uid 10001 --create-home --shell /usr/sbin/nologin hydit \
  && mkdir -p /engines /data \
  && chown hydit /engines /data
COPY --from=deno /deno /usr/local/bin/deno
COPY --from=build /out/lib/ /opt/hydit/lib/
COPY --from=build --chown=hydit /app /app
WORKDIR /app
ENV DENO_DIR=/app/.deno \
  LD_LIBRARY_PATH=/opt/hydit/lib \
  HYDIT_TRT_SHIM=/opt/hydit/lib/libhydit_trt.so \
  HYDIT_PORT=8000 \
  HYDIT_ENGINES=/engines/default \
  HYDIT_KV_PATH=/data/hydit.kv \
  HYDIT_RESULTS_DIR=/data/results \
  NVIDIA_VISIBLE_DEVICES=all \
  NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001
VOLUME ["/engines", "/data"]
EXPOSE 8000
# Ready means engines loaded and warmed; the first start includes plan deserialization and warm-up.
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('HYDIT_PORT') ?? '8000'}/readyz`); Deno.exit(r.ok ? 0 : 1);"]
# tini is PID 1: it forwards SIGTERM to Deno (graceful drain) and reaps children.
ENTRYPOINT ["/usr/bin/tini", "--", "deno", "run", "--allow-all", "--cached-only", "main.ts"]
