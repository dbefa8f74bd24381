// Argument parsing, in-process: run() with captured output and environment.

import { expect, test } from 'vitest';
import { globalOptionsOf } from './cli-context.js';
import { commandAfterDashes } from './commands/lock.js';
import { helpHint, unknownCommandWord } from './help-hint.js';
import { run } from './index.js';
import type { CliIo } from './output.js';

async function cli(argv: readonly string[], env: Record<string, string> = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (chunk: string) => (stdout += chunk), isTTY: false }, stderr: { write: (chunk: string) => (stderr += chunk), isTTY: false }, env };
  const exitCode = await run(argv, io);
  return { exitCode, stdout, stderr };
}

test('--help lists every command with examples and the exit codes', async () => {
  const { exitCode, stdout, stderr } = await cli(['--help']);
  expect(exitCode).toBe(0);
  expect(stderr).toBe('');
  for (const command of ['status', 'locks [prefix]', 'lock', 'sessions', 'election', 'watch [prefix]', 'members', 'snapshot', 'completion']) expect(stdout).toContain(`raftlock ${command}`);
  expect(stdout).toContain('Examples:');
  expect(stdout).toContain('3 cluster unavailable');
  expect(stdout).toContain('$RAFTLOCK_ENDPOINTS or 127.0.0.1:7070');
});

test.each([
  [['status', '--bogus'], /^raftlock: Unknown argument: bogus \(see raftlock status --help\)$/],
  [['statsu'], /^raftlock: unknown command "statsu"; did you mean status\? \(see raftlock --help\)$/],
  [['lock', 'geet', 'x'], /^raftlock: unknown command "lock geet"; did you mean get\? \(see raftlock lock --help\)$/],
  [['--endpoints', '10.0.0.1:7070', '--timeout', '1s', 'locks', '--limit', 'x'], /^raftlock: --limit: "x" is not a whole number from 1 to 10000 \(see raftlock locks --help\)$/],
  [[], /^raftlock: give a command \(see raftlock --help\)$/],
  [['lock'], /^raftlock: lock: give a subcommand: get, release or run \(see raftlock lock --help\)$/],
  [['lock', 'run', 'job'], /^raftlock: give the command to run after --, e\.g\. raftlock lock run job -- \.\/job\.sh$/],
  [['lock', 'run', 'job', 'echo'], /^raftlock: Unknown argument: echo \(see raftlock lock run --help\)$/],
  [['lock', 'release', 'job'], /add --force/],
  [['--timeout', '5', 'locks'], /^raftlock: --timeout: "5" needs a unit, e\.g\. 5s or 5ms \(see raftlock locks --help\)$/],
  [['--timeout', '0', 'locks'], /^raftlock: --timeout must be more than 0$/],
  [['--endpoints', ' , ', 'locks'], /^raftlock: --endpoints: give at least one host:port$/],
  [['--endpoints', '127.0.0.1', 'status'], /^raftlock: --endpoints: "127\.0\.0\.1" is not host:port \(e\.g\. 10\.0\.0\.1:7070\)$/],
  [['--endpoints', '10.0.0.1:7070,10.0.0.2', 'locks'], /^raftlock: --endpoints: "10\.0\.0\.2" is not host:port/],
  [['--endpoints', 'a:70700', 'locks'], /^raftlock: --endpoints: "a:70700" is not host:port/],
  [['--endpoints', '::1', 'locks'], /^raftlock: --endpoints: "::1" is not host:port/],
  [['lock', 'run', '--wait', 'soon', 'job', '--', 'true'], /--wait: "soon" is not a duration/],
  [['lock', 'run', '--ttl', '400ms', 'job', '--', 'true'], /--ttl must be between 500ms and 5m \(got 400ms\)/],
  [['election', 'run', 'scheduler'], /Not enough non-option arguments/],
  [['lock', 'get', 'bad\u0001name'], /^raftlock: lock get: "bad\\u0001name": name must not contain control characters$/],
  [['watch', '--kind', 'queue'], /Invalid values/],
  [['locks', '--limit', 'abc'], /^raftlock: --limit: "abc" is not a whole number from 1 to 10000 \(see raftlock locks --help\)$/],
  [['locks', '--limit', '0'], /^raftlock: --limit: "0" is not a whole number from 1 to 10000/],
  [['locks', '--limit', '2.5'], /^raftlock: --limit: "2\.5" is not a whole number/],
  [['locks', '--limit', '10001'], /^raftlock: --limit: "10001" is not a whole number from 1 to 10000/],
  [['members', 'add', 'N4', '127.0.0.1:7074'], /^raftlock: members add: member id "N4" must match \[a-z0-9-\]\{1,32\}$/],
  [['members', 'add', 'n4', 'ws://10.0.0.4:7070'], /^raftlock: members add: address "ws:\/\/10\.0\.0\.4:7070" must be host:port \(the member's --advertise address, e\.g\. 10\.0\.0\.4:7070\)$/],
  [['members', 'add', 'n4'], /Not enough non-option arguments/],
  [['members', 'remove', 'n_3'], /^raftlock: members remove: member id "n_3" must match/],
  [['members', 'transfer-leader'], /Not enough non-option arguments/],
  [['snapshot', 'save'], /Not enough non-option arguments/],
  [['--tls-ca', '/nonexistent-raftlock-dir/ca.pem', 'status'], /^raftlock: --tls-ca: cannot read \/nonexistent-raftlock-dir\/ca\.pem \(ENOENT\)$/],
  [['--tls-ca', 'package.json', 'status'], /^raftlock: --tls-ca: package\.json holds no PEM certificate/],
  [['--endpoints', 'https://a:1,ws://b:2', 'status'], /^raftlock: --endpoints: mixes TLS \(https:\/\/, wss:\/\/\) and plain \(http:\/\/, ws:\/\/\) members$/],
  [['--endpoints', 'ws://a:1', '--tls', 'locks'], /http:\/\/ and ws:\/\/ members cannot be reached over TLS/],
  [['--endpoints', 'ftp://a:1', 'locks'], /use host:port, or https:\/\/ \/ wss:\/\/ for TLS/],
])('usage error %j exits 2 with one line', async (argv, message) => {
  const { exitCode, stdout, stderr } = await cli(argv);
  expect(exitCode).toBe(2);
  expect(stdout).toBe('');
  expect(stderr.endsWith('\n')).toBe(true);
  expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(stderr.trimEnd()).toMatch(message);
});

test('snapshot save into a directory that cannot be written exits 1 before contacting anything', async () => {
  const startedMs = performance.now();
  const saved = await cli(['--timeout', '10s', 'snapshot', 'save', '/nonexistent-raftlock-dir/backup.raftlock'], { RAFTLOCK_ENDPOINTS: '127.0.0.1:1' });
  expect(saved).toEqual({ exitCode: 1, stdout: '', stderr: expect.stringMatching(/^raftlock: snapshot save: cannot write into \/nonexistent-raftlock-dir: .*ENOENT.*\n$/) });
  expect(performance.now() - startedMs).toBeLessThan(1_000);
});

test('RAFTLOCK_ENDPOINTS is the default endpoint list, and nothing listening there is exit 3 within --timeout', async () => {
  const startedMs = performance.now();
  const { exitCode, stderr } = await cli(['--timeout', '300ms', 'locks'], { RAFTLOCK_ENDPOINTS: '127.0.0.1:1' });
  const elapsedMs = performance.now() - startedMs;
  expect(exitCode).toBe(3);
  expect(stderr).toMatch(/^raftlock: cluster unavailable: .*127\.0\.0\.1:1.*\n$/);
  expect(elapsedMs).toBeLessThan(1_500);
});

test('global options: endpoints split and trimmed, durations parsed, token optional', () => {
  const globals = globalOptionsOf({ _: [], $0: 'raftlock', endpoints: ' a:1, b:2 ,,c:3', timeout: 1500, json: true }, 100);
  expect(globals).toEqual({ endpoints: ['a:1', 'b:2', 'c:3'], token: undefined, tls: undefined, json: true, timeoutMs: 1500, deadlineMs: 1600 });
  expect(globalOptionsOf({ _: [], $0: 'raftlock', token: 's3cret' }, 0)).toMatchObject({ endpoints: ['127.0.0.1:7070'], token: 's3cret', json: false, timeoutMs: 5000 });
});

test('TLS: --tls, RAFTLOCK_TLS and https:// or wss:// endpoints ask for it; schemes are stripped from the addresses', async () => {
  const base = { _: [], $0: 'raftlock' };
  expect(globalOptionsOf({ ...base, endpoints: 'a:1', tls: true }, 0)).toMatchObject({ endpoints: ['a:1'], tls: { ca: undefined } });
  expect(globalOptionsOf({ ...base, endpoints: 'wss://a:1/v1/client, https://b:2/' }, 0)).toMatchObject({ endpoints: ['a:1', 'b:2'], tls: { ca: undefined } });
  expect(globalOptionsOf({ ...base, endpoints: 'ws://a:1,http://[::1]:2' }, 0)).toMatchObject({ endpoints: ['a:1', '[::1]:2'], tls: undefined });
  // RAFTLOCK_TLS=1 against a port where nothing listens: the CLI tried (and failed) to connect, exit 3.
  const { exitCode, stderr } = await cli(['--timeout', '300ms', 'locks'], { RAFTLOCK_ENDPOINTS: '127.0.0.1:1', RAFTLOCK_TLS: '1' });
  expect(exitCode).toBe(3);
  expect(stderr).toMatch(/^raftlock: cluster unavailable: .*127\.0\.0\.1:1.*\n$/);
});

test('the command of lock run comes after --', () => {
  expect(commandAfterDashes({ _: ['lock', 'run'], '--': ['sh', '-c', 'exit 3'] }, 'x')).toEqual(['sh', '-c', 'exit 3']);
  expect(() => commandAfterDashes({ _: ['lock', 'run'], '--': [] }, 'raftlock lock run job -- ./job.sh')).toThrow('give the command to run after --, e.g. raftlock lock run job -- ./job.sh');
  expect(() => commandAfterDashes({ _: ['lock', 'run', 'echo'], '--': ['hi'] }, 'x')).toThrow('unexpected echo: put the command after --');
});

test('usage errors point at the --help of the command they are about', () => {
  expect(helpHint(['lock', 'run', 'job', 'sh'])).toBe('raftlock lock run --help');
  expect(helpHint(['--json', 'members', 'frob'])).toBe('raftlock members --help');
  expect(helpHint(['nonsense'])).toBe('raftlock --help');
  // The values of options are not commands.
  expect(helpHint(['--endpoints', '10.0.0.1:7070', '--timeout', '2s', 'lock', 'run', '--ttl', '5s', 'job'])).toBe('raftlock lock run --help');
  expect(helpHint(['--endpoints=10.0.0.1:7070', 'members', 'add'])).toBe('raftlock members add --help');
});

/** The command paths of the real yargs tree (from each --help's Commands section) and each one's options that take a value. */
async function commandTree(path: readonly string[] = []): Promise<{ path: readonly string[]; valueOptions: string[] }[]> {
  const { stdout } = await cli([...path, '--help']);
  const [beforeOptions = '', options = ''] = stdout.split('\nOptions:\n');
  const commandsSection = beforeOptions.split('\nCommands:\n')[1] ?? '';
  const prefix = ['raftlock', ...path].join(' ');
  const children = [...commandsSection.matchAll(/^ {2}(raftlock [\w -]+?)(?: [<[]| {2})/gm)]
    .map((match) => (match[1] as string).slice(prefix.length + 1).trim())
    .filter((word) => word.length > 0 && !word.includes(' ') && word !== 'completion');
  // One block per option: its first line names it, the type tag may sit on a continuation line.
  const valueOptions = (options.split('\n\n')[0] as string)
    .split(/\n(?= +(?:-\w, )?--)/)
    .filter((block) => /\[(?:string|number|array)\]/.test(block))
    .map((block) => /--([\w-]+)/.exec(block)?.[1] as string);
  const below = await Promise.all(children.map((child) => commandTree([...path, child])));
  return [{ path, valueOptions }, ...below.flat()];
}

test("usage hints know every command, subcommand and value-taking option the CLI defines (help-hint's tables cannot drift)", async () => {
  const tree = (await commandTree()).filter((node) => node.path.length > 0);
  expect(tree.map((node) => node.path.join(' '))).toEqual(expect.arrayContaining(['status', 'lock run', 'members transfer-leader', 'snapshot save']));
  for (const { path, valueOptions } of tree) {
    const hint = `raftlock ${path.join(' ')} --help`;
    expect(helpHint([...path]), hint).toBe(hint);
    expect(unknownCommandWord([...path]), hint).toBeUndefined();
    // The value of every option that takes one is not a command word: `--limit status locks`.
    const decoy = path[0] === 'status' ? 'locks' : 'status';
    for (const option of valueOptions) expect(helpHint([`--${option}`, decoy, ...path]), `--${option} before ${hint}`).toBe(hint);
  }
});
