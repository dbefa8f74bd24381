import { expect, test } from 'vitest';
import { formatCommandLine, Output, renderFields, renderTable, styled, toJson, type CliIo } from './output.js';
import { stringWidth } from './string-width.js';

function capture(options: { tty: boolean; env?: Record<string, string> }): { io: CliIo; stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  return {
    io: { stdout: { write: (chunk: string) => (stdout += chunk), isTTY: options.tty }, stderr: { write: (chunk: string) => (stderr += chunk), isTTY: options.tty }, env: options.env ?? {} },
    stdout: () => stdout,
    stderr: () => stderr,
  };
}

test('tables align columns three spaces apart, right-align numbers, capitalise headers and leave no trailing space', () => {
  const text = renderTable(
    [{ header: 'lock' }, { header: 'token', align: 'right' }, { header: 'held for', align: 'right' }, { header: 'client' }],
    [
      ['orders/42', '57', '3m12s', 'billing-worker-3'],
      ['reports', '1024', '450ms', '-'],
    ],
    { color: false },
  );
  expect(text).toBe(['LOCK        TOKEN   HELD FOR   CLIENT', 'orders/42      57      3m12s   billing-worker-3', 'reports      1024      450ms   -', ''].join('\n'));
});

test('colour codes never change the alignment', () => {
  const plain = renderTable([{ header: 'member' }, { header: 'health' }, { header: 'x' }], [['n1', styled('ok', 'good'), 'a'], ['n22', styled('down', 'bad'), 'b']], { color: false });
  const coloured = renderTable([{ header: 'member' }, { header: 'health' }, { header: 'x' }], [['n1', styled('ok', 'good'), 'a'], ['n22', styled('down', 'bad'), 'b']], { color: true });
  expect(coloured).toContain('\u001b[32mok    \u001b[39m');
  expect(coloured.replaceAll('\u001b[32m', '').replaceAll('\u001b[31m', '').replaceAll('\u001b[39m', '').replaceAll('\u001b[1m', '').replaceAll('\u001b[22m', '')).toBe(plain);
});

test('wide characters take two columns', () => {
  expect(stringWidth('abc')).toBe(3);
  expect(stringWidth('注文/42')).toBe(7);
  expect(stringWidth('\u001b[1mbold\u001b[22m')).toBe(4);
  expect(stringWidth('e\u0301')).toBe(1);
  const text = renderTable([{ header: 'lock' }, { header: 'token' }], [['注文', '1'], ['ab', '2']], { color: false });
  expect(text.split('\n')[1]).toBe('注文   1');
  expect(text.split('\n')[2]).toBe('ab     2');
});

test('fields align their labels', () => {
  expect(renderFields([['lock', 'orders/42'], ['held for', '3m12s']], { color: false })).toBe('lock       orders/42\nheld for   3m12s\n');
});

test('JSON turns fencing tokens (bigint) into numbers', () => {
  expect(toJson({ token: 57n, nested: [{ token: 9_007_199_254_740_993n }] }, 0)).toBe('{"token":57,"nested":[{"token":"9007199254740993"}]}');
});

test('piped: no colour, no notes; on a TTY: colour and notes, unless NO_COLOR', () => {
  const piped = capture({ tty: false });
  const pipedOutput = new Output(piped.io, { json: false });
  pipedOutput.note('no locks');
  pipedOutput.table([{ header: 'a' }], [[styled('x', 'bad')]]);
  pipedOutput.progress('waiting');
  expect(piped.stdout()).toBe('A\nx\n');
  expect(piped.stderr()).toBe('');

  const tty = capture({ tty: true });
  const ttyOutput = new Output(tty.io, { json: false });
  ttyOutput.note('no locks');
  ttyOutput.progress('waiting');
  expect(tty.stdout()).toBe('\u001b[2mno locks\u001b[22m\n');
  expect(tty.stderr()).toBe('raftlock: waiting\n');

  const noColor = capture({ tty: true, env: { NO_COLOR: '1' } });
  new Output(noColor.io, { json: false }).table([{ header: 'a' }], [['x']]);
  expect(noColor.stdout()).toBe('A\nx\n');
});

test('--json: one document, or one object per line for streams', () => {
  const sink = capture({ tty: false });
  const output = new Output(sink.io, { json: true });
  output.document({ locks: [{ token: 3n }] });
  expect(JSON.parse(sink.stdout())).toEqual({ locks: [{ token: 3 }] });
  const stream = capture({ tty: false });
  const streamOutput = new Output(stream.io, { json: true });
  streamOutput.jsonLine({ index: 1 });
  streamOutput.jsonLine({ index: 2 });
  expect(stream.stdout()).toBe('{"index":1}\n{"index":2}\n');
});

test('command lines are quoted only where a shell needs it', () => {
  expect(formatCommandLine(['./backup.sh', '--full', 'a=b'])).toBe('./backup.sh --full a=b');
  expect(formatCommandLine(['sh', '-c', "echo it's done; exit 3"])).toBe("sh -c 'echo it'\\''s done; exit 3'");
});
