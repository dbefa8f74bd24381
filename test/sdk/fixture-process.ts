// FixtureProcess: an SDK client in its own Node process (test/sdk/fixtures/*.ts run through tsx
// against the sources), so a test can freeze it (SIGSTOP), thaw it (SIGCONT) or kill it (SIGKILL)
// by pid. It prints one JSON object per line; the test reads them as they come. Every process
// started is stopped by pid in dispose().

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

export type FixtureLine = Record<string, unknown> & { readonly event: string };

export class FixtureProcess {
  readonly lines: FixtureLine[] = [];
  private output = '';
  private pending = '';
  private readonly listeners = new Set<() => void>();
  private exited = false;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => this.onStdout(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.once('exit', () => {
      this.exited = true;
      for (const listener of [...this.listeners]) listener();
    });
  }

  static start(fixture: string, args: readonly string[]): FixtureProcess {
    const path = fileURLToPath(new URL(`./fixtures/${fixture}.ts`, import.meta.url));
    const child = spawn(process.execPath, ['--conditions=@raftlock/source', '--import', 'tsx', path, ...args], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    return new FixtureProcess(`${fixture} ${args.join(' ')}`, child);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get isRunning(): boolean {
    return !this.exited;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.exited) process.kill(this.pid, signal);
  }

  /** The first line (from the start) matching predicate, waiting at most timeoutMs. */
  waitFor(predicate: (line: FixtureLine) => boolean, timeoutMs: number, what: string): Promise<FixtureLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.find(predicate);
        if (found) {
          finish();
          resolve(found);
        } else if (this.exited) {
          finish();
          reject(new Error(`${this.name} exited before ${what}:\n${this.output.slice(-2000)}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms:\n${this.output.slice(-2000)}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** SIGKILL by pid (SIGCONT first, in case it is frozen) and wait for the exit. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    process.kill(this.pid, 'SIGKILL');
    await exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private onStdout(text: string): void {
    this.pending += text;
    const parts = this.pending.split('\n');
    this.pending = parts.pop() ?? '';
    for (const part of parts) {
      if (part.trim() === '') continue;
      try {
        this.lines.push(JSON.parse(part) as FixtureLine);
      } catch {
        this.output += `${part}\n`;
      }
    }
    for (const listener of [...this.listeners]) listener();
  }
}
