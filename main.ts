/**
 * Service entry point: configuration from flags and `HYDIT_*` variables (see the README's
 * configuration table), the engine folder (the bundled hydit-tiny model's, built on first start,
 * when none is configured), then the service of lib/service.ts, drained on SIGTERM/SIGINT. Run it
 * with `deno run` as the process that receives the signals. `--help` lists the settings; start-up
 * errors (a bad flag, a bad schedules file, no engine folder) are one line on stderr and exit code 1.
 *
 * @module
 */
import { bundledEngines } from "./engines/bundled.ts";
import { configHelp, loadConfig } from "./lib/config.ts";
import { createLogger } from "./lib/log.ts";
import { startService } from "./lib/service.ts";

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(configHelp());
  Deno.exit(0);
}

try {
  const config = loadConfig(Deno.args);
  const log = createLogger(config.logLevel);
  const engines = config.engines || await bundledEngines((line) => log("info", line));
  const service = await startService({ ...config, engines }, { log });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => void service.shutdown());
  }
  await service.finished;
  Deno.exit(0);
} catch (e) {
  console.error(`hydit: ${e instanceof Error ? e.message : String(e)}`);
  Deno.exit(1);
}
