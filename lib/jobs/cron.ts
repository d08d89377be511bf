/**
 * Cron expressions and cron names exactly as `Deno.cron` (Deno 2.9) takes them, a port of its
 * parser and matcher (ext/cron/cron.rs): five UTC fields separated by spaces or tabs (minute 0-59,
 * hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 1-7 = Sunday-Saturday or
 * SUN-SAT; 0 is refused), each `*` or a list of values, ranges `a-b` (wrapping when a > b) and
 * steps `*\/n`, `a/n`, `a-b/n` (n from 1 to 59, 23, 30, 11, 6 by field); numbers have at most two
 * digits. Day of month also takes `L`, `LW`, `L-n`, `L-nW` and `nW`; day of week `L`, `dL` and
 * `d#n`. An expression that parses but never fires within 100 years (`0 0 31 2 *`) is accepted by
 * `Deno.cron` and then panics its scheduler, so it is refused here too.
 *
 * @module
 */

/** Day-of-month rule: any day, a set of days, the last (weekday) day less an offset, or `nW`. */
export type DayOfMonthRule =
  | { kind: "any" }
  | { kind: "days"; days: Set<number> }
  | { kind: "last"; offset: number; weekday: boolean }
  | { kind: "closestWeekday"; day: number };

/** Day-of-week rule (weekdays 0-6 from Sunday): any, a set, the last `d` of the month, or `d#n`. */
export type DayOfWeekRule =
  | { kind: "any" }
  | { kind: "days"; days: Set<number> }
  | { kind: "last"; weekday: number }
  | { kind: "nth"; weekday: number; nth: number };

/** A parsed expression: minutes 0-59, hours 0-23, months 1-12, and the two day rules. */
export interface CronSpec {
  minutes: Set<number>;
  hours: Set<number>;
  months: Set<number>;
  days: DayOfMonthRule;
  weekdays: DayOfWeekRule;
}

interface Field {
  name: string;
  min: number;
  max: number;
  maxStep: number;
  /** Reads one value (names and numbers) as the field stores it; throws when it is not one. */
  value(text: string): number;
}

function fail(field: string, text: string, why: string): never {
  throw new SyntaxError(`Cannot parse cron ${field} "${text}": ${why}`);
}

/** One or two ASCII digits within [min, max]. */
function number(field: string, text: string, min: number, max: number): number {
  const v = /^\d{1,2}$/.test(text) ? Number(text) : NaN;
  if (!(v >= min && v <= max)) fail(field, text, `expected a number from ${min} to ${max}`);
  return v;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

function plainField(name: string, min: number, max: number, maxStep: number): Field {
  return { name, min, max, maxStep, value: (text) => number(name, text, min, max) };
}

const MINUTE = plainField("minute", 0, 59, 59);
const HOUR = plainField("hour", 0, 23, 23);
const DAY = plainField("day of month", 1, 31, 30);
const MONTH: Field = {
  name: "month",
  min: 1,
  max: 12,
  maxStep: 11,
  value: (text) => {
    const i = MONTHS.indexOf(text.toUpperCase());
    return i >= 0 && /^[a-z]+$/i.test(text) ? i + 1 : number("month", text, 1, 12);
  },
};
/** Stored 0-6 from Sunday; names are SUN-SAT, numbers 1-7 (1 = Sunday). */
const WEEKDAY: Field = {
  name: "day of week",
  min: 0,
  max: 6,
  maxStep: 6,
  value: (text) => {
    const i = WEEKDAYS.indexOf(text.toUpperCase());
    if (i >= 0 && /^[a-z]+$/i.test(text)) return i;
    return number("day of week", text, 1, 7) - 1;
  },
};

function range(from: number, to: number, into: Set<number>): void {
  for (let v = from; v <= to; v++) into.add(v);
}

function part(text: string, field: Field, into: Set<number>): void {
  const slash = text.indexOf("/");
  const base = slash < 0 ? text : text.slice(0, slash);
  const stepText = text.slice(slash + 1);
  const step = slash < 0 ? null : /^\d{1,2}$/.test(stepText) &&
      Number(stepText) >= 1 && Number(stepText) <= field.maxStep
    ? Number(stepText)
    : fail(field.name, text, `a step must be 1-${field.maxStep}`);
  let start: number;
  let end: number;
  const dash = base.indexOf("-");
  if (base === "*") [start, end] = [field.min, field.max];
  else if (dash >= 0) {
    [start, end] = [field.value(base.slice(0, dash)), field.value(base.slice(dash + 1))];
  } else {
    start = field.value(base);
    end = step === null ? start : field.max;
  }
  if (step === null) {
    if (start <= end) range(start, end, into);
    else {
      // Deno (like saffron before it) also takes the value before the start of a wrapping range.
      range(start - 1, field.max, into);
      range(field.min, end, into);
    }
    return;
  }
  const values: number[] = [];
  for (let v = start; v <= (start <= end ? end : field.max); v++) values.push(v);
  if (start > end) { for (let v = field.min; v <= end; v++) values.push(v); }
  for (let i = 0; i < values.length; i += step) into.add(values[i]);
}

function list(text: string, field: Field): Set<number> {
  const out = new Set<number>();
  if (text === "*") range(field.min, field.max, out);
  else {
    for (const p of text.split(",")) {
      if (p === "") fail(field.name, text, "empty list item");
      part(p, field, out);
    }
  }
  return out;
}

function daysOfMonth(text: string): DayOfMonthRule {
  if (text === "*") return { kind: "any" };
  if (text === "L") return { kind: "last", offset: 0, weekday: false };
  if (text === "LW") return { kind: "last", offset: 0, weekday: true };
  if (text.startsWith("L-")) {
    const weekday = text.endsWith("W");
    const offset = number(DAY.name, text.slice(2, weekday ? -1 : undefined), 1, 30);
    return { kind: "last", offset, weekday };
  }
  if (text.endsWith("W")) {
    return { kind: "closestWeekday", day: number(DAY.name, text.slice(0, -1), 1, 31) };
  }
  return { kind: "days", days: list(text, DAY) };
}

function daysOfWeek(text: string): DayOfWeekRule {
  if (text === "*") return { kind: "any" };
  if (text === "L") return { kind: "days", days: new Set([6]) };
  if (text.endsWith("L")) return { kind: "last", weekday: WEEKDAY.value(text.slice(0, -1)) };
  const hash = text.indexOf("#");
  if (hash >= 0) {
    return {
      kind: "nth",
      weekday: WEEKDAY.value(text.slice(0, hash)),
      nth: number(WEEKDAY.name, text.slice(hash + 1), 1, 5),
    };
  }
  return { kind: "days", days: list(text, WEEKDAY) };
}

/**
 * Parses an expression exactly as `Deno.cron` does; throws a SyntaxError naming the field that is
 * wrong, or a RangeError when the expression never fires.
 */
export function parseCron(expression: string, now = new Date()): CronSpec {
  if (expression.trim() !== expression || /[\n\v\f\r]/.test(expression)) {
    throw new SyntaxError(
      `Cannot parse cron "${expression}": leading or trailing space, or a line break`,
    );
  }
  const fields = expression.split(/[ \t]/).filter((f) => f !== "");
  if (fields.length !== 5) {
    throw new SyntaxError(
      `Cannot parse cron "${expression}": expected 5 fields (minute hour day-of-month month ` +
        `day-of-week), got ${fields.length}`,
    );
  }
  const [m, h, dom, mon, dow] = fields;
  const spec: CronSpec = {
    minutes: list(m, MINUTE),
    hours: list(h, HOUR),
    days: daysOfMonth(dom),
    months: list(mon, MONTH),
    weekdays: daysOfWeek(dow),
  };
  if (nextRun(spec, now) === null) {
    throw new RangeError(
      `Cannot use cron "${expression}": day of month "${dom}" never occurs in month "${mon}" ` +
        "within 100 years",
    );
  }
  return spec;
}

/**
 * Checks a cron name as `Deno.cron` does: at most 64 bytes of ASCII letters, digits, whitespace,
 * `-` and `_`. Returns what is wrong, or null.
 */
export function cronNameError(name: string): string | null {
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > 64) return `longer than 64 characters (${bytes})`;
  if (!/^[A-Za-z0-9_\- \t\n\f\r]*$/.test(name)) {
    return "only ASCII letters, digits, whitespace, hyphens and underscores are allowed";
  }
  return null;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The weekday nearest to `day` within its month (Deno's `closest_weekday`), or null. */
function closestWeekday(year: number, month: number, day: number): number | null {
  const dim = daysIn(year, month);
  if (day === 0 || day > dim) return null;
  const wd = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  if (wd === 6) return day === 1 ? day + 2 : day - 1;
  if (wd === 0) return day === dim ? day - 2 : day + 1;
  return day;
}

function domMatches(rule: DayOfMonthRule, year: number, month: number, day: number): boolean {
  switch (rule.kind) {
    case "any":
      return true;
    case "days":
      return rule.days.has(day);
    case "last": {
      const target = daysIn(year, month) - rule.offset;
      if (target <= 0) return false;
      return rule.weekday ? closestWeekday(year, month, target) === day : day === target;
    }
    case "closestWeekday":
      return closestWeekday(year, month, rule.day) === day;
  }
}

function dowMatches(rule: DayOfWeekRule, year: number, month: number, day: number): boolean {
  const wd = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  switch (rule.kind) {
    case "any":
      return true;
    case "days":
      return rule.days.has(wd);
    case "last":
      return wd === rule.weekday && day + 7 > daysIn(year, month);
    case "nth":
      return wd === rule.weekday && Math.floor((day - 1) / 7) + 1 === rule.nth;
  }
}

/** Deno's day test: both rules restricted means either matches. */
function dayMatches(spec: CronSpec, year: number, month: number, day: number): boolean {
  const domAny = spec.days.kind === "any";
  const dowAny = spec.weekdays.kind === "any";
  if (domAny && dowAny) return true;
  if (domAny) return dowMatches(spec.weekdays, year, month, day);
  if (dowAny) return domMatches(spec.days, year, month, day);
  return domMatches(spec.days, year, month, day) || dowMatches(spec.weekdays, year, month, day);
}

/** The first minute strictly after `after` that the expression fires, or null within 100 years. */
export function nextRun(spec: CronSpec, after: Date): Date | null {
  const start = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
  const day = new Date(start);
  day.setUTCHours(0, 0, 0, 0);
  for (let i = 0; i <= 366 * 100; i++, day.setUTCDate(day.getUTCDate() + 1)) {
    const [year, month, date] = [day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate()];
    if (!spec.months.has(month) || !dayMatches(spec, year, month, date)) continue;
    for (const h of [...spec.hours].sort((a, b) => a - b)) {
      for (const m of [...spec.minutes].sort((a, b) => a - b)) {
        const t = day.getTime() + h * 3_600_000 + m * 60_000;
        if (t >= start) return new Date(t);
      }
    }
  }
  return null;
}
