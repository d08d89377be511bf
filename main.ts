/**
 * Service entry point: configuration from flags and `HYDIT_*` variables, then the HTTP API, job worker,
 * schedules and drain on SIGTERM/SIGINT (see the README's configuration table). The engine backend is
 * chosen per engine folder (TensorRT when its shim and plans fit this GPU, else ONNX Runtime), and the
 * diffusion pipeline runs on worker threads (one per HYDIT_CONCURRENCY slot) so inference never blocks
 * HTTP.
 */
import { loadConfig } from "./lib/config.ts";
import { probeBackend } from "./lib/engine/backend_select.ts";
import { createLogger } from "./lib/log.ts";
import { startService } from "./lib/http/service.ts";
import { threadedPipeline } from "./lib/jobs/pipeline_threads.ts";

const config = loadConfig(Deno.args);
const log = createLogger(config.logLevel);
const service = await startService(config, async (engineDir) => {
  const choice = await probeBackend(engineDir, {
    preference: config.backend,
    shimPath: config.trtShim,
  });
  log("info", "engine backend chosen", { backend: choice.backend, reason: choice.reason });
  return await threadedPipeline({
    engineDir,
    options: {
      backend: choice.backend,
      threads: config.threads,
      trtShim: config.trtShim,
      sizeLimits: { min: config.minSide, max: config.maxSide },
    },
    threads: config.concurrency,
  });
});
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => void service.shutdown());
}
await service.finished;
Deno.exit(0);
