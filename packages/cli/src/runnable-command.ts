// Whether `lock run` / `election run` can run its command at all, decided before the lock is even
// asked for: a typo should not take a lock, and the gate's shell (child-supervisor.ts) would
// otherwise report a missing command in its own words. Found the way a shell finds it (PATH, or the
// path as given when it holds a '/'), with the shells' exit codes: 127 not found, 126 not executable.

import { access, constants } from 'node:fs/promises';
import which from 'which';

export interface UnrunnableCommand {
  readonly exitCode: 126 | 127;
  readonly message: string;
}

export async function checkRunnable(file: string): Promise<UnrunnableCommand | undefined> {
  if ((await which(file, { nothrow: true })) !== null) return undefined;
  if (file.includes('/')) {
    const exists = await access(file, constants.F_OK).then(
      () => true,
      () => false,
    );
    if (exists) return { exitCode: 126, message: `cannot run ${file}: not an executable file` };
  }
  return { exitCode: 127, message: `cannot run ${file}: command not found` };
}

/**
 * The word the gate execs for `file`: the name itself (the command sees the argv[0] it was given),
 * except for a name starting with '-', which sh's `exec` would take for an option of its own; that
 * one is run by its full path.
 */
export function execWordFor(file: string): string {
  if (!file.startsWith('-')) return file;
  return which.sync(file, { nothrow: true }) ?? `./${file}`;
}
