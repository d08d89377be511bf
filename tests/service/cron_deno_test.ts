/**
 * The cron validator against the real `Deno.cron` (run in a child process, _cron_probe.ts): named
 * cases, then a few thousand generated expressions and names, each accepted or refused by both.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { cronNameError, parseCron } from "../../lib/jobs/cron.ts";

const PROBE = fileURLToPath(new URL("./_cron_probe.ts", import.meta.url));

async function probe(mode: "parse" | "names" | "fire", items: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--unstable-cron", PROBE],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify({ mode, items })));
  await writer.close();
  const out = await child.output();
  return {
    success: out.success,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** What Deno.cron says about each expression at registration: null = accepted. */
async function denoParse(expressions: string[]): Promise<(string | null)[]> {
  const out = await probe("parse", expressions);
  assert.ok(out.success, out.stderr);
  return JSON.parse(out.stdout);
}

/** What our validator says: null = accepted, "never" = parses but never fires, else the error. */
function ours(expression: string): string | null {
  try {
    parseCron(expression);
    return null;
  } catch (error) {
    return error instanceof RangeError ? "never" : (error as Error).message;
  }
}

/** A seeded generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ["JAN", "feb", "Dec", "SUN", "mon", "Sat", "FRI", "XYZ"];

/** Expressions near the edges of the grammar: values around each field's limits, forms, noise. */
function expressions(count: number, seed: number): string[] {
  const rand = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  const num = (max: number) =>
    String(rand() < 0.9 ? 1 + Math.floor(rand() * (max - 1)) : pick([0, 1, max, max + 1, 99]));
  const atom = (max: number): string => {
    const a = num(max);
    const b = num(max);
    if (rand() < 0.85) return pick(["*", a, `${a}-${b}`, `*/${num(max)}`, `${a}-${b}/${num(max)}`]);
    return pick([
      "*",
      a,
      `${a}-${b}`,
      `*/${num(max)}`,
      `${a}/${num(max)}`,
      `${a}-${b}/${num(max)}`,
      pick(NAMES),
      `${pick(NAMES)}-${pick(NAMES)}`,
      "L",
      "LW",
      `L-${a}`,
      `L-${a}W`,
      `${a}W`,
      `${a}L`,
      `${a}#${pick([0, 1, 5, 6])}`,
      "?",
      `0${a}`,
      "",
    ]);
  };
  const field = (max: number) => {
    const parts = [atom(max)];
    while (rand() < 0.25) parts.push(atom(max));
    return parts.join(",");
  };
  return Array.from({ length: count }, () => {
    const fields = [field(59), field(23), field(31), field(12), field(7)];
    if (rand() < 0.03) fields.pop();
    const sep = () => pick([" ", " ", " ", " ", "  ", "\t"]);
    return fields.map((f, i) => (i ? sep() : "") + f).join("");
  });
}

Deno.test("parseCron() agrees with Deno.cron on named cases", async () => {
  const cases = [
    "0 6 * * 0", // Deno's day of week is 1-7 from Sunday: 0 is refused
    "0 6 * * 7",
    "0 6 * * 1-5",
    "*/60 * * * *",
    "*/59 * * * *",
    "0 */24 * * *",
    "0 0 */31 * *",
    "0 0 * */12 *",
    "0 0 * * */7",
    "0 0 * * SUN",
    "0 0 1 JAN-MAR MON-FRI",
    "0 0 L * *",
    "0 0 LW * *",
    "0 0 15W * *",
    "0 0 * * 6L",
    "0 0 * * 2#3",
    "5-1 * * * *",
    "0,60 * * * *",
    "* * * * * *",
    "@daily",
    " 0 0 * * *",
    "0\t0 * * *",
    "0 0 ? * 1",
  ];
  const deno = await denoParse(cases);
  cases.forEach((expression, i) => {
    const mine = ours(expression);
    assert.equal(mine === null, deno[i] === null, `${expression}: ours ${mine}, Deno ${deno[i]}`);
  });
  assert.match(ours("0 6 * * 0")!, /day of week "0"/);
  assert.match(ours("*/60 * * * *")!, /minute "\*\/60": a step must be 1-59/);
});

Deno.test("parseCron() refuses what parses but never fires: Deno.cron accepts it, then panics", async () => {
  for (const expression of ["0 0 31 2 *", "0 0 31 4,6 *", "0 0 L-30 2 *"]) {
    assert.equal(ours(expression), "never", expression);
    assert.deepEqual(await denoParse([expression]), [null]);
    const run = await probe("fire", [expression]);
    assert.equal(run.success, false, `${expression} should kill Deno's scheduler`);
    assert.match(run.stderr, /InvalidCron/);
  }
  // The same day in a month that has it fires.
  assert.equal(ours("0 0 31 1-2 *"), null);
  assert.equal(ours("0 0 29 2 *"), null);
});

Deno.test("parseCron() agrees with Deno.cron on 3000 generated expressions", async () => {
  const list = expressions(3000, 20261205);
  const deno = await denoParse(list);
  const accepted: string[] = [];
  const never: string[] = [];
  const mismatches: string[] = [];
  list.forEach((expression, i) => {
    const mine = ours(expression);
    if (mine === "never") never.push(expression);
    else if (mine === null) accepted.push(expression);
    const deniedByUs = mine !== null && mine !== "never";
    if (deniedByUs !== (deno[i] !== null)) {
      mismatches.push(`${JSON.stringify(expression)}: ours ${mine}, Deno ${deno[i]}`);
    }
  });
  assert.deepEqual(mismatches, []);
  // Both kinds are well represented, and everything we accept really runs in Deno's scheduler.
  assert.ok(accepted.length > 500 && list.length - accepted.length > 500, `${accepted.length}`);
  const run = await probe("fire", accepted);
  assert.ok(run.success && run.stdout.includes("alive"), run.stderr.slice(-2000));
  // Those we refuse as never firing each kill it.
  for (const expression of never.slice(0, 5)) {
    assert.equal((await probe("fire", [expression])).success, false, expression);
  }
});

Deno.test("cronNameError() agrees with Deno.cron on names", async () => {
  const rand = random(7);
  const chars = ["a", "Z", "0", "-", "_", " ", "\t", "\n", "\v", ".", "/", "ä", "é", ":", "*"];
  const names = [
    "a".repeat(64),
    "a".repeat(65),
    `hydit-${"n".repeat(58)}`,
    `hydit-${"n".repeat(59)}`,
    "é".repeat(32),
    "é".repeat(33),
    "",
    ...Array.from(
      { length: 500 },
      () =>
        Array.from(
          { length: 1 + Math.floor(rand() * 70) },
          () =>
            rand() < 0.8
              ? "abc-_XYZ019 "[Math.floor(rand() * 12)]
              : chars[Math.floor(rand() * chars.length)],
        ).join(""),
    ),
  ];
  const out = await probe("names", names);
  assert.ok(out.success, out.stderr);
  const deno: (string | null)[] = JSON.parse(out.stdout);
  names.forEach((name, i) => {
    assert.equal(
      cronNameError(name) === null,
      deno[i] === null,
      `${JSON.stringify(name)}: ${deno[i]}`,
    );
  });
});
