// recordCall: one SDK call as a recorded operation — `invoke` before it is made, then `ok` (with
// the fields the caller picks from the result) or `fail` (with the error's stable code). The pair
// is what the checker reasons about: an `ok` is an acknowledgement the cluster must honour, a `fail`
// leaves the outcome open (a timed-out request may still have been applied).

import { isServiceError } from '@raftlock/client';
import type { History, OperationType } from './history.js';

export interface CallFields {
  readonly session?: string;
  readonly name?: string;
  readonly holdOpId?: string;
  readonly token?: number;
  readonly timeoutMs?: number;
  readonly ttlMs?: number;
}

export async function recordCall<T>(
  history: History,
  call: { readonly client: string; readonly opId: string; readonly op: OperationType; readonly fields: CallFields },
  run: () => Promise<T>,
  okFields: (result: T) => { readonly session?: string } = () => ({}),
): Promise<T | undefined> {
  const { client, opId, op, fields } = call;
  history.record({ kind: 'invoke', opId, client, op, ...fields });
  let result: T;
  try {
    result = await run();
  } catch (error) {
    history.record({ kind: 'fail', opId, client, op, code: errorCode(error), message: errorMessage(error) });
    return undefined;
  }
  history.record({ kind: 'ok', opId, client, op, ...(fields.name === undefined ? {} : { name: fields.name }), ...okFields(result) });
  return result;
}

/** The stable code of an SDK error (SPEC §5), or the error's class name for anything else. */
export function errorCode(error: unknown): string {
  if (isServiceError(error)) return error.code;
  if (error instanceof Error) return error.name;
  return 'UNKNOWN';
}

export function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}
