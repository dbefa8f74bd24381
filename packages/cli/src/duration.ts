// Durations on the command line ("5s", "500ms", "1m30s") and in tables ("3m12s"), in milliseconds.
// Parsing is strict — a bare number is refused rather than guessed at, because "--ttl 10" meaning ten
// milliseconds or ten seconds is exactly the kind of ambiguity an operator should not have to resolve
// at 3 a.m. Formatting follows kubectl's relative ages: coarser as durations grow.

const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
const termPattern = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/** "1m30s" → 90 000. Throws RangeError with a one-line reason naming `what` (e.g. "--timeout"). */
export function parseDuration(text: string, what: string): number {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  if (/^\d+(\.\d+)?$/.test(trimmed)) throw new RangeError(`${what}: "${text}" needs a unit, e.g. ${trimmed}s or ${trimmed}ms`);
  let totalMs = 0;
  let position = 0;
  termPattern.lastIndex = 0;
  while (position < trimmed.length) {
    termPattern.lastIndex = position;
    const match = termPattern.exec(trimmed);
    if (!match) throw new RangeError(`${what}: "${text}" is not a duration (use e.g. 500ms, 5s, 2m, 1h, 1m30s)`);
    totalMs += Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
    position = termPattern.lastIndex;
  }
  if (trimmed.length === 0 || !Number.isFinite(totalMs)) throw new RangeError(`${what}: "${text}" is not a duration (use e.g. 500ms, 5s, 2m, 1h, 1m30s)`);
  return Math.round(totalMs);
}

/** 450 → "450ms", 1500 → "1.5s", 42 000 → "42s", 192 000 → "3m12s", 7 500 000 → "2h5m", 3 days → "3d". */
export function formatDuration(durationMs: number): string {
  const ms = Math.max(0, Math.floor(durationMs));
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 10_000) {
    const tenths = Math.floor(ms / 100);
    return tenths % 10 === 0 ? `${tenths / 10}s` : `${(tenths / 10).toFixed(1)}s`;
  }
  const totalSeconds = Math.floor(ms / 1_000);
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  if (totalMinutes < 10) return pair(totalMinutes, 'm', totalSeconds % 60, 's');
  if (totalMinutes < 60) return `${totalMinutes}m`;
  const totalHours = Math.floor(totalMinutes / 60);
  if (totalHours < 24) return pair(totalHours, 'h', totalMinutes % 60, 'm');
  return pair(Math.floor(totalHours / 24), 'd', totalHours % 24, 'h');
}

function pair(major: number, majorUnit: string, minor: number, minorUnit: string): string {
  return minor === 0 ? `${major}${majorUnit}` : `${major}${majorUnit}${minor}${minorUnit}`;
}
