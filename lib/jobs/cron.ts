/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week, UTC), the syntax `Deno.cron`
 * accepts: `*`, numbers, ranges `a-b`, steps `*\/n` and `a-b/n`, and lists. Used to validate schedules
 * and to compute their next run.
 *
 * @module
 */

/** A parsed expression: the allowed values of each field. */
export interface CronSpec {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  /** Whether day-of-month / day-of-week were restricted (both restricted means either matches). */
  dayRestricted: boolean;
  weekdayRestricted: boolean;
}

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
] as const;

function parseField(text: string, field: (typeof FIELDS)[number]): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new SyntaxError(`Cannot parse cron ${field.name} "${part}"`);
    const lo = m[1] === "*" ? field.min : Number(m[2]);
    const hi = m[1] === "*" ? field.max : m[3] !== undefined ? Number(m[3]) : m[4] ? field.max : lo;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (lo < field.min || hi > field.max || lo > hi || step < 1) {
      throw new RangeError(
        `Cannot parse cron ${field.name} "${part}": out of ${field.min}-${field.max}`,
      );
    }
    for (let v = lo; v <= hi; v += step) out.add(field.name === "day of week" && v === 7 ? 0 : v);
  }
  return out;
}

/** Parses a five-field expression; throws naming the field that is wrong. */
export function parseCron(expression: string): CronSpec {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) {
    throw new SyntaxError(
      `Cannot parse cron "${expression}": expected 5 fields, got ${parts.length}`,
    );
  }
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) => parseField(p, FIELDS[i]));
  return {
    minutes,
    hours,
    days,
    months,
    weekdays,
    dayRestricted: parts[2] !== "*",
    weekdayRestricted: parts[4] !== "*",
  };
}

function dayMatches(spec: CronSpec, d: Date): boolean {
  const dom = spec.days.has(d.getUTCDate());
  const dow = spec.weekdays.has(d.getUTCDay());
  if (spec.dayRestricted && spec.weekdayRestricted) return dom || dow;
  return dom && dow;
}

/** The first minute strictly after `after` that the expression fires, or null within 5 years. */
export function nextRun(spec: CronSpec, after: Date): Date | null {
  const t = new Date(Math.floor(after.getTime() / 60_000) * 60_000 + 60_000);
  const limit = after.getTime() + 5 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!spec.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(spec, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
    } else if (!spec.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
    } else if (!spec.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
    } else {
      return t;
    }
  }
  return null;
}
