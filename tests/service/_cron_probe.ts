/**
 * Asks the real `Deno.cron` about cron expressions and names; run as a child process by
 * cron_deno_test.ts (a never-firing expression panics Deno's scheduler, so never in the test itself).
 * stdin: JSON `{ mode, items }`.
 * - `parse`: registers each expression (or name, with a valid schedule) and closes it at once, before
 *   the scheduler looks at it; prints a JSON array of error messages (null = accepted).
 * - `fire`: registers the expressions 90 at a time and lets the scheduler compute their next runs;
 *   prints "alive" at the end (a never-firing one kills the process first).
 */
const { mode, items } = JSON.parse(await new Response(Deno.stdin.readable).text()) as {
  mode: "parse" | "names" | "fire";
  items: string[];
};
const noop = () => {};
if (mode === "parse" || mode === "names") {
  const out = items.map((item, i) => {
    const abort = new AbortController();
    try {
      if (mode === "parse") Deno.cron(`probe-${i}`, item, { signal: abort.signal }, noop);
      else Deno.cron(item, "* * * * *", { signal: abort.signal }, noop);
      return null;
    } catch (error) {
      return (error as Error).message;
    } finally {
      abort.abort();
    }
  });
  console.log(JSON.stringify(out));
} else {
  for (let i = 0; i < items.length; i += 90) {
    const abort = new AbortController();
    items.slice(i, i + 90).forEach((item, j) =>
      Deno.cron(`fire-${i + j}`, item, { signal: abort.signal }, noop)
    );
    // The scheduler computes each next run as soon as it gets to it; give it the time to.
    await new Promise((resolve) => setTimeout(resolve, 300));
    abort.abort();
  }
  console.log("alive");
}
