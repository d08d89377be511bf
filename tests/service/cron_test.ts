import assert from "node:assert/strict";
import { cronNameError, nextRun, parseCron } from "../../lib/jobs/cron.ts";

const at = (iso: string) => new Date(iso);
const next = (expression: string, after: string) =>
  nextRun(parseCron(expression), at(after))?.toISOString() ?? null;

Deno.test("parseCron() reads lists, ranges, steps, names and Deno's 1-7 weekdays", () => {
  const spec = parseCron("*/15 9-17 1,15 * 2-6");
  assert.deepEqual([...spec.minutes], [0, 15, 30, 45]);
  assert.deepEqual([...spec.hours], [9, 10, 11, 12, 13, 14, 15, 16, 17]);
  assert.deepEqual(spec.days, { kind: "days", days: new Set([1, 15]) });
  assert.equal(spec.months.size, 12);
  // Day of week numbers are 1 (Sunday) to 7 (Saturday); stored 0-6 from Sunday.
  assert.deepEqual(spec.weekdays, { kind: "days", days: new Set([1, 2, 3, 4, 5]) });
  assert.deepEqual(parseCron("0 0 * * 7").weekdays, { kind: "days", days: new Set([6]) });
  assert.deepEqual(parseCron("0 0 * * MON-FRI").weekdays, parseCron("0 0 * * 2-6").weekdays);
  assert.deepEqual([...parseCron("5-20/5 * * * *").minutes], [5, 10, 15, 20]);
  assert.deepEqual([...parseCron("0 0 * jan-MAR *").months], [1, 2, 3]);
});

Deno.test("parseCron() rejects what Deno.cron rejects, naming the field", () => {
  assert.throws(() => parseCron("* * * *"), /expected 5 fields/);
  assert.throws(() => parseCron(" * * * * *"), /leading or trailing space/);
  assert.throws(() => parseCron("60 * * * *"), /minute "60"/);
  assert.throws(() => parseCron("* 24 * * *"), /hour "24"/);
  assert.throws(() => parseCron("* * 0 * *"), /day of month "0"/);
  assert.throws(() => parseCron("* * * 13 *"), /month "13"/);
  assert.throws(() => parseCron("0 6 * * 0"), /day of week "0"/);
  assert.throws(() => parseCron("*/60 * * * *"), /minute "\*\/60": a step must be 1-59/);
  assert.throws(() => parseCron("0 */24 * * *"), /hour/);
  assert.throws(() => parseCron("005 * * * *"), /minute "005"/);
  assert.throws(() => parseCron("a * * * *"), /minute "a"/);
  assert.throws(() => parseCron("0 0 31 2 *"), RangeError);
});

Deno.test("cronNameError() takes at most 64 ASCII letters, digits, spaces, - and _", () => {
  assert.equal(cronNameError("hydit-daily cat_1"), null);
  assert.equal(cronNameError("a".repeat(64)), null);
  assert.match(cronNameError("a".repeat(65))!, /64/);
  assert.match(cronNameError("a.b")!, /only ASCII/);
});

Deno.test("nextRun() finds the next matching minute in UTC", () => {
  assert.equal(next("* * * * *", "2026-01-01T10:00:30Z"), "2026-01-01T10:01:00.000Z");
  assert.equal(next("* * * * *", "2026-01-01T10:00:00Z"), "2026-01-01T10:01:00.000Z");
  assert.equal(next("30 6 * * *", "2026-01-01T07:00:00Z"), "2026-01-02T06:30:00.000Z");
  assert.equal(next("0 0 31 * *", "2026-02-01T00:00:00Z"), "2026-03-31T00:00:00.000Z");
  assert.equal(next("0 12 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T12:00:00.000Z");
  assert.equal(next("0 0 29 2 *", "2096-03-01T00:00:00Z"), "2104-02-29T00:00:00.000Z");
  // Day of month and day of week both restricted: either matches. 6 is Friday.
  assert.equal(next("0 0 13 * 6", "2026-11-01T00:00:00Z"), "2026-11-06T00:00:00.000Z");
  // 2-6 is Monday to Friday: from Friday 10:00 the next is Monday.
  assert.equal(next("0 9 * * 2-6", "2026-11-27T10:00:00Z"), "2026-11-30T09:00:00.000Z");
  assert.equal(next("0 9 * * 1", "2026-11-27T10:00:00Z"), "2026-11-29T09:00:00.000Z");
  // Cases from Deno's own cron tests.
  assert.equal(next("0 0 * 2 FRI#5", "2020-01-01T00:00:00Z"), "2036-02-29T00:00:00.000Z");
  assert.equal(next("0 0 13 * TUE", "2024-05-13T00:00:00Z"), "2024-05-14T00:00:00.000Z");
  assert.equal(next("59-0 23-0 31-1 12-1 *", "2020-12-30T23:58:00Z"), "2020-12-30T23:59:00.000Z");
  assert.equal(next("0 0 LW MAY *", "2025-05-01T00:00:00Z"), "2025-05-30T00:00:00.000Z");
  assert.equal(next("0 0 1W MAY *", "2021-04-01T00:00:00Z"), "2021-05-03T00:00:00.000Z");
  assert.equal(next("0 0 * * 7L", "2020-02-01T00:00:00Z"), "2020-02-29T00:00:00.000Z");
});
