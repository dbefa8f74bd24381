// The SDK exports one error class per stable code (SPEC §5), and docs/errors.md lists exactly those
// codes: an application can `instanceof` or switch on `.code` for every answer the cluster gives.

import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { serviceErrorFromWire } from '@raftlock/protocol';
import * as sdk from './index.js';

const errorsDoc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
const documentedCodes = [...errorsDoc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1] as string);

type ErrorClass = new (message: string) => sdk.ServiceError;

function exportedErrorClasses(): Map<string, ErrorClass> {
  const classes = new Map<string, ErrorClass>();
  for (const [name, value] of Object.entries(sdk)) {
    if (typeof value !== 'function' || value === sdk.ServiceError || !(value.prototype instanceof sdk.ServiceError)) continue;
    const code = new (value as ErrorClass)('probe').code;
    expect(classes.has(code), `two classes for ${code}`).toBe(false);
    expect(name, `${code}'s class`).toMatch(/Error$/);
    classes.set(code, value as ErrorClass);
  }
  return classes;
}

test('the SDK exports exactly one error class for every code, and docs/errors.md lists exactly those codes', () => {
  const classes = exportedErrorClasses();
  expect([...classes.keys()].sort()).toEqual([...sdk.errorCodes].sort());
  expect([...documentedCodes].sort()).toEqual([...classes.keys()].sort());
});

test('an error from the wire is an instance of the exported class for its code', () => {
  const classes = exportedErrorClasses();
  for (const code of sdk.errorCodes) {
    const error = serviceErrorFromWire({ code, message: `m-${code}` });
    expect(error).toBeInstanceOf(classes.get(code));
    expect(error.code).toBe(code);
    expect(sdk.isServiceError(error)).toBe(true);
  }
});
