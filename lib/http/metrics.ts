/**
 * A small Prometheus registry: counters, gauges (set or sampled at scrape) and histograms with fixed
 * buckets, rendered in the text exposition format 0.0.4.
 *
 * @module
 */

type Labels = Record<string, string>;

/** A monotonically increasing counter with labels. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

/** A value that goes up and down. */
export interface Gauge {
  set(value: number, labels?: Labels): void;
}

/** Observations counted into cumulative buckets. */
export interface Histogram {
  observe(value: number): void;
}

/** The set of metrics a process exposes. */
export interface Registry {
  counter(name: string, help: string): Counter;
  gauge(name: string, help: string): Gauge;
  histogram(name: string, help: string, buckets: readonly number[]): Histogram;
  /** Registers a callback run before each scrape (to sample gauges). */
  onCollect(fn: () => Promise<void> | void): void;
  /** Renders every metric as Prometheus text. */
  render(): Promise<string>;
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) =>
    `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN";
}

/** Creates an empty registry. */
export function createRegistry(): Registry {
  const blocks: (() => string)[] = [];
  const collectors: (() => Promise<void> | void)[] = [];

  function labelled(name: string, help: string, type: string) {
    const values = new Map<string, { labels: Labels; value: number }>();
    blocks.push(() => {
      const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
      for (const { labels, value } of values.values()) {
        lines.push(`${name}${labelText(labels)} ${num(value)}`);
      }
      return lines.join("\n");
    });
    return values;
  }

  return {
    counter(name, help) {
      const values = labelled(name, help, "counter");
      return {
        inc(labels = {}, by = 1) {
          const key = labelText(labels);
          const entry = values.get(key) ?? { labels, value: 0 };
          entry.value += by;
          values.set(key, entry);
        },
      };
    },
    gauge(name, help) {
      const values = labelled(name, help, "gauge");
      return { set: (value, labels = {}) => void values.set(labelText(labels), { labels, value }) };
    },
    histogram(name, help, buckets) {
      const counts = new Array(buckets.length).fill(0);
      let sum = 0;
      let count = 0;
      blocks.push(() => {
        const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
        buckets.forEach((b, i) => lines.push(`${name}_bucket{le="${b}"} ${counts[i]}`));
        lines.push(
          `${name}_bucket{le="+Inf"} ${count}`,
          `${name}_sum ${sum}`,
          `${name}_count ${count}`,
        );
        return lines.join("\n");
      });
      return {
        observe(value) {
          for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]) counts[i]++;
          sum += value;
          count++;
        },
      };
    },
    onCollect(fn) {
      collectors.push(fn);
    },
    async render() {
      for (const fn of collectors) await fn();
      return blocks.map((b) => b()).join("\n") + "\n";
    },
  };
}
