import assert from "node:assert/strict";
import { createRegistry } from "../../lib/http/metrics.ts";

Deno.test("createRegistry() renders counters, gauges and histograms as Prometheus text", async () => {
  const r = createRegistry();
  const c = r.counter("t_requests_total", "Requests");
  c.inc({ route: "/a", status: "200" });
  c.inc({ route: "/a", status: "200" }, 2);
  c.inc({ route: 'q"\\', status: "500" });
  const g = r.gauge("t_depth", "Depth");
  r.onCollect(() => g.set(7));
  const h = r.histogram("t_seconds", "Latency", [0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const text = await r.render();
  assert.equal(
    text,
    [
      "# HELP t_requests_total Requests",
      "# TYPE t_requests_total counter",
      't_requests_total{route="/a",status="200"} 3',
      't_requests_total{route="q\\"\\\\",status="500"} 1',
      "# HELP t_depth Depth",
      "# TYPE t_depth gauge",
      "t_depth 7",
      "# HELP t_seconds Latency",
      "# TYPE t_seconds histogram",
      't_seconds_bucket{le="0.1"} 1',
      't_seconds_bucket{le="1"} 2',
      't_seconds_bucket{le="+Inf"} 3',
      "t_seconds_sum 5.55",
      "t_seconds_count 3",
      "",
    ].join("\n"),
  );
});
