/**
 * Service entry point: configuration from flags and `HYDIT_*` variables (see the README's
 * configuration table), then the service of lib/service.ts, drained on SIGTERM/SIGINT. Run it with
 * `deno run` as the process that receives the signals (`deno task` does not forward SIGTERM).
 *
 * @module
 */
import { loadConfig } from "./lib/config.ts";
import { createLogger } from "./lib/log.ts";
import { startService } from "./lib/service.ts";

const config = loadConfig(Deno.args);
const service = await startService(config, { log: createLogger(config.logLevel) });
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => void service.shutdown());
}
await service.finished;
Deno.exit(0);
