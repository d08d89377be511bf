/**
 * Python's `round()` / numpy's `round` for one value: round half to even.
 *
 * @param x value to round
 * @returns the nearest integer, ties to the even one
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round sends ties up; move those that landed on an odd integer back down.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
