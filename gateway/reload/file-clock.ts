// Now, as file modification times count, for "was this file changed after that moment?".

/**
 * The wall clock (performance.timeOrigin + now() drifts from it: measured 5 ms a second on a VM),
 * rounded up to the next millisecond: file times have sub-millisecond precision and Date.now() is
 * truncated, so a file written just before would look newer.
 */
export function fileClockNow(): number {
  return Date.now() + 1;
}
