import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { errorCodes, isRetriable } from './error-codes.js';
import { serviceErrorFromWire, NotLeaderError, ServiceError, InternalError } from './service-error.js';

const errorsDoc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

test('docs/errors.md lists exactly the error codes the code defines, in both directions', () => {
  const documented = [...errorsDoc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]);
  expect([...documented].sort()).toEqual([...errorCodes].sort());
});

test('docs/errors.md marks exactly the retriable codes as retriable', () => {
  for (const match of errorsDoc.matchAll(/^\| `([A-Z_]+)` \| (yes|no) \|/gm)) {
    expect(isRetriable(match[1] as (typeof errorCodes)[number]), match[1]).toBe(match[2] === 'yes');
  }
});

test('every code rebuilds into its own error class with the same code and message', () => {
  for (const code of errorCodes) {
    const error = serviceErrorFromWire({ code, message: `m-${code}` });
    expect(error).toBeInstanceOf(ServiceError);
    expect(error.code).toBe(code);
    expect(error.message).toBe(`m-${code}`);
    expect(error.name).not.toBe('ServiceError');
  }
  const redirect = serviceErrorFromWire(new NotLeaderError('not me', '127.0.0.1:7072').toWire());
  expect(redirect).toBeInstanceOf(NotLeaderError);
  expect(redirect.leader).toBe('127.0.0.1:7072');
});

test('an unknown or malformed wire error becomes INTERNAL instead of throwing', () => {
  expect(serviceErrorFromWire({ code: 'NOPE', message: 'x' })).toBeInstanceOf(InternalError);
  expect(serviceErrorFromWire(null).code).toBe('INTERNAL');
  expect(serviceErrorFromWire('junk').code).toBe('INTERNAL');
});
