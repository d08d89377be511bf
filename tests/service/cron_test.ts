import assert from "node:assert/strict";
import { nextRun, parseCron } from "../../lib/jobs/cron.ts";

const at = (iso: string) => new Date(iso);

Deno.test("parseCron() reads lists, ranges and steps", () => {
  const spec = parseCron("*/15 9-17 1,15 * 1-5");
  assert.deepEqual([...spec.minutes], [0, 15, 30, 45]);
  assert.deepEqual([...spec.hours], [9, 10, 11, 12, 13, 14, 15, 16, 17]);
  assert.deepEqual([...spec.days], [1, 15]);
  assert.equal(spec.months.size, 12);
  assert.deepEqual([...spec.weekdays], [1, 2, 3, 4, 5]);
  assert.deepEqual([...parseCron("0 0 * * 7").weekdays], [0]);
  assert.deepEqual([...parseCron("5-20/5 * * * *").minutes], [5, 10, 15, 20]);
});

Deno.test("parseCron() rejects malformed expressions naming the field", () => {
  assert.throws(() => parseCron("* * * *"), /expected 5 fields/);
  assert.throws(() => parseCron("60 * * * *"), /minute "60"/);
  assert.throws(() => parseCron("* 24 * * *"), /hour/);
  assert.throws(() => parseCron("* * 0 * *"), /day of month/);
  assert.throws(() => parseCron("* * * 13 *"), /month/);
  assert.throws(() => parseCron("*/0 * * * *"), /minute/);
  assert.throws(() => parseCron("a * * * *"), /minute "a"/);
  assert.throws(() => parseCron("5-1 * * * *"), /minute/);
});

Deno.test("nextRun() finds the next matching minute in UTC", () => {
  const every = parseCron("* * * * *");
  assert.equal(
    nextRun(every, at("2026-01-01T10:00:30Z"))!.toISOString(),
    "2026-01-01T10:01:00.000Z",
  );
  assert.equal(
    nextRun(every, at("2026-01-01T10:00:00Z"))!.toISOString(),
    "2026-01-01T10:01:00.000Z",
  );
  const daily = parseCron("30 6 * * *");
  assert.equal(
    nextRun(daily, at("2026-01-01T07:00:00Z"))!.toISOString(),
    "2026-01-02T06:30:00.000Z",
  );
  const monthEnd = parseCron("0 0 31 * *");
  assert.equal(
    nextRun(monthEnd, at("2026-02-01T00:00:00Z"))!.toISOString(),
    "2026-03-31T00:00:00.000Z",
  );
  const leap = parseCron("0 12 29 2 *");
  assert.equal(
    nextRun(leap, at("2026-03-01T00:00:00Z"))!.toISOString(),
    "2028-02-29T12:00:00.000Z",
  );
  // Day of month and day of week both restricted: either matches (Vixie cron).
  const either = parseCron("0 0 13 * 5");
  assert.equal(
    nextRun(either, at("2026-11-01T00:00:00Z"))!.toISOString(),
    "2026-11-06T00:00:00.000Z",
  );
  const weekdays = parseCron("0 9 * * 1-5");
  assert.equal(
    nextRun(weekdays, at("2026-11-27T10:00:00Z"))!.toISOString(),
    "2026-11-30T09:00:00.000Z",
  );
  assert.equal(nextRun(parseCron("0 0 31 2 *"), at("2026-01-01T00:00:00Z")), null);
});
