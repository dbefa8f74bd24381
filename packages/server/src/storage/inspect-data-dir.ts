// inspectDataDir: what is at --data-dir before LMDB touches it. LMDB would happily create its files
// inside any directory, next to whatever is already there, so this is where a dir that is not ours
// is refused. Invariants: it never writes; it accepts only a missing path, an empty directory, or a
// directory holding nothing but LMDB's own two files whose data file starts with an LMDB meta page;
// anything else is a DataDirError naming the path.
// Why the header check: lmdb-js 3.5 SEGFAULTS (no exception to catch) when asked to open a data.mdb
// that is not an LMDB file, so such a file must be refused before LMDB ever sees it.

import { closeSync, openSync, readSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { DataDirError } from './data-dir-error.js';

/** The files LMDB keeps in an environment directory (noSubdir: false). */
export const environmentFileNames: readonly string[] = ['data.mdb', 'lock.mdb'];
const environmentDataFileName = 'data.mdb';
const lmdbMagic = 0xbeefc0de;
const lmdbMagicOffsets: readonly number[] = [16, 24];
const lmdbMetaHeaderBytes = 32;
/** How many unexpected names an error message lists, so it stays one readable line. */
const namesListedMax = 3;

export type DataDirState = 'missing' | 'empty' | 'environment';

export function inspectDataDir(dataDir: string): DataDirState {
  const stats = statOrUndefined(dataDir);
  if (stats === undefined) return 'missing';
  if (!stats.isDirectory()) throw new DataDirError(`data dir ${dataDir} is not a directory`);
  const names = readNames(dataDir);
  const foreignNames = names.filter((name) => !environmentFileNames.includes(name));
  if (foreignNames.length > 0) {
    const listed = foreignNames.slice(0, namesListedMax).join(', ');
    const more = foreignNames.length > namesListedMax ? `, and ${foreignNames.length - namesListedMax} more` : '';
    throw new DataDirError(`data dir ${dataDir} holds files that are not a raftlock environment (${listed}${more}); refusing to use it`);
  }
  // A lone lock.mdb is only LMDB's reader table, which it recreates; without data.mdb there is no data.
  if (!names.includes(environmentDataFileName)) return 'empty';
  const dataFile = join(dataDir, environmentDataFileName);
  if (!startsWithLmdbMetaPage(dataFile)) {
    throw new DataDirError(`data dir ${dataDir} holds a ${environmentDataFileName} that is not an LMDB data file; refusing to use it`);
  }
  return 'environment';
}

/**
 * LMDB's first page is a meta page: a page header, then the magic 0xBEEFC0DE (little-endian). The
 * header is 16 bytes in LMDB 0.9 and 24 in the LMDB 1.0 layout that lmdb-js 3 writes (it adds a
 * txnid). An empty file is also accepted: LMDB initialises it (a first start that died early).
 */
function startsWithLmdbMetaPage(dataFile: string): boolean {
  const header = Buffer.alloc(lmdbMetaHeaderBytes);
  let bytesRead: number;
  try {
    const descriptor = openSync(dataFile, 'r');
    try {
      bytesRead = readSync(descriptor, header, 0, header.length, 0);
    } finally {
      closeSync(descriptor);
    }
  } catch (error) {
    throw new DataDirError(`data file ${dataFile} cannot be read (${errorCode(error)})`, { cause: error });
  }
  if (bytesRead === 0) return true;
  if (bytesRead < lmdbMetaHeaderBytes) return false;
  return lmdbMagicOffsets.some((offset) => header.readUInt32LE(offset) === lmdbMagic);
}

function statOrUndefined(dataDir: string): Stats | undefined {
  try {
    return statSync(dataDir, { throwIfNoEntry: false });
  } catch (error) {
    throw new DataDirError(`data dir ${dataDir} cannot be inspected (${errorCode(error)})`, { cause: error });
  }
}

function readNames(dataDir: string): string[] {
  try {
    return readdirSync(dataDir);
  } catch (error) {
    throw new DataDirError(`data dir ${dataDir} cannot be read (${errorCode(error)})`, { cause: error });
  }
}

function errorCode(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return String(error);
}
