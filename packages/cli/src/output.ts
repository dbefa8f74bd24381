// Output: what the CLI prints, in one of three shapes (SPEC §7):
//   - on a TTY: aligned tables with relative durations, a little colour (unless NO_COLOR), notes;
//   - piped: the same tables and lines, but nothing decorative (no colour, no notes);
//   - --json: one JSON document per command (streams: one JSON object per line).
// Errors never go through here: they are one line on stderr, written by index.ts.
//
// Fencing tokens are bigints in the SDK; in JSON they are numbers (a token is a log index, always a
// safe integer — the SDK refuses any other), so `jq '.locks[].holder.token'` compares as numbers.

import { stringWidth } from './string-width.js';

export interface OutputStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  /** Terminal width, when a terminal. */
  readonly columns?: number;
}

/** Where a CLI run reads its environment and writes its output: the process, or a test's capture. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type CellStyle = 'bold' | 'dim' | 'good' | 'bad' | 'warn';
export type Cell = string | { readonly text: string; readonly style: CellStyle | undefined };
export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

const ansi: Record<CellStyle, [string, string]> = {
  bold: ['\u001b[1m', '\u001b[22m'],
  dim: ['\u001b[2m', '\u001b[22m'],
  good: ['\u001b[32m', '\u001b[39m'],
  bad: ['\u001b[31m', '\u001b[39m'],
  warn: ['\u001b[33m', '\u001b[39m'],
};

/** Shown for an absent value in a table cell. */
export const none = '-';

export function styled(text: string, style: CellStyle | undefined): Cell {
  return { text, style };
}

function cellText(cell: Cell): string {
  return typeof cell === 'string' ? cell : cell.text;
}

function paint(text: string, style: CellStyle | undefined, color: boolean): string {
  if (!color || style === undefined) return text;
  const [open, close] = ansi[style];
  return `${open}${text}${close}`;
}

function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - stringWidth(text)));
}

function padStart(text: string, width: number): string {
  return ' '.repeat(Math.max(0, width - stringWidth(text))) + text;
}

/** Columns aligned with three spaces between them (kubectl's layout), headers in capitals, no trailing spaces. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly Cell[])[], options: { readonly color: boolean }): string {
  const widths = columns.map((column, index) => Math.max(stringWidth(column.header), ...rows.map((row) => stringWidth(cellText(row[index] ?? '')))));
  const renderRow = (cells: readonly Cell[], header: boolean): string => {
    const parts = columns.map((column, index) => {
      const cell = cells[index] ?? '';
      const text = cellText(cell);
      const width = widths[index] ?? 0;
      const last = index === columns.length - 1;
      const padded = column.align === 'right' ? padStart(text, width) : last ? text : padEnd(text, width);
      return paint(padded, header ? 'bold' : typeof cell === 'string' ? undefined : cell.style, options.color);
    });
    return parts.join('   ').trimEnd();
  };
  const lines = [renderRow(columns.map((column) => column.header.toUpperCase()), true), ...rows.map((row) => renderRow(row, false))];
  return `${lines.join('\n')}\n`;
}

/** "label   value" lines, labels aligned; for one object (lock get, election leader). */
export function renderFields(fields: readonly (readonly [string, Cell])[], options: { readonly color: boolean }): string {
  const width = Math.max(0, ...fields.map(([label]) => stringWidth(label)));
  return fields.map(([label, value]) => `${paint(padEnd(label, width), 'bold', options.color)}   ${paint(cellText(value), typeof value === 'string' ? undefined : value.style, options.color)}`.trimEnd()).join('\n') + '\n';
}

/** A command line as a shell would take it back: words quoted only where they need it. */
export function formatCommandLine(words: readonly string[]): string {
  return words.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`)).join(' ');
}

/** JSON with bigints as numbers (fencing tokens are safe integers), indented when a person reads it. */
export function toJson(value: unknown, indent: number): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? (item <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(item) : item.toString()) : item), indent);
}

export class Output {
  readonly json: boolean;
  readonly isTty: boolean;
  readonly color: boolean;

  constructor(
    private readonly io: CliIo,
    options: { readonly json: boolean },
  ) {
    this.json = options.json;
    this.isTty = io.stdout.isTTY === true;
    const noColor = io.env['NO_COLOR'] !== undefined && io.env['NO_COLOR'] !== '';
    this.color = this.isTty && !noColor && io.env['TERM'] !== 'dumb';
  }

  /** The one JSON document of a command. */
  document(value: unknown): void {
    this.io.stdout.write(`${toJson(value, 2)}\n`);
  }

  /** One JSON object on one line (streams: watch, observe). */
  jsonLine(value: unknown): void {
    this.io.stdout.write(`${toJson(value, 0)}\n`);
  }

  table(columns: readonly Column[], rows: readonly (readonly Cell[])[]): void {
    this.io.stdout.write(renderTable(columns, rows, { color: this.color }));
  }

  fields(fields: readonly (readonly [string, Cell])[]): void {
    this.io.stdout.write(renderFields(fields, { color: this.color }));
  }

  line(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** Decoration for a person at a terminal (summaries, "no locks"): dropped when piped. */
  note(text: string): void {
    if (this.isTty) this.io.stdout.write(`${paint(text, 'dim', this.color)}\n`);
  }

  /** A line on stderr, prefixed "raftlock: " — progress of run commands, warnings. */
  warn(text: string): void {
    this.io.stderr.write(`raftlock: ${text}\n`);
  }

  /** Progress a person at a terminal wants to see (acquired, running…); silent when stderr is not a TTY. */
  progress(text: string): void {
    if (this.io.stderr.isTTY === true) this.io.stderr.write(`raftlock: ${text}\n`);
  }

  paint(text: string, style: CellStyle): string {
    return paint(text, style, this.color);
  }
}
