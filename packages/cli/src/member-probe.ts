// probeMember: one member's own view of itself and of the cluster, asked over its HTTP port
// (GET /status, SPEC §2's one port), not through the SDK: the SDK follows every member to the leader,
// and `raftlock status` has to hear from each member on its own, so that a member that is down shows
// as down. Plain HTTP also keeps `raftlock status` from loading ws and the SDK at all. No client token
// is needed (like /readyz and /metrics). Against a TLS cluster the same GET goes over https://,
// verifying the member's certificate against --tls-ca (or the system's CAs).

import { get as getPlain, type IncomingMessage } from 'node:http';
import { get as getTls } from 'node:https';
import type { ClusterStatus } from '@raftlock/protocol';
import type { CliTls } from './cli-context.js';

export interface MemberProbe {
  readonly address: string;
  /** The member answered /status. */
  readonly reachable: boolean;
  /** It knows a leader and has applied up to its commit index. */
  readonly ready: boolean;
  readonly role: string | undefined;
  readonly leaderId: string | null | undefined;
  readonly commitIndex: number | undefined;
  readonly appliedIndex: number | undefined;
  readonly term: number | undefined;
  /** Why it was not reachable. */
  readonly error: string | undefined;
  /** Its whole answer: the member list and the leader as it sees them. */
  readonly status: ClusterStatus | undefined;
}

interface HttpAnswer {
  readonly statusCode: number;
  readonly body: string;
}

const maxBodyBytes = 1 << 20;

function httpGet(address: string, path: string, timeoutMs: number, tls: CliTls | undefined): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const options = { timeout: timeoutMs, headers: { accept: '*/*' } };
    const onResponse = (response: IncomingMessage) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > maxBodyBytes) request.destroy(new Error(`${path}: answer too large`));
      });
      response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, body }));
      response.on('error', reject);
    };
    const request =
      tls === undefined
        ? getPlain(`http://${address}${path}`, options, onResponse)
        : getTls(`https://${address}${path}`, { ...options, ...(tls.ca === undefined ? {} : { ca: tls.ca }) }, onResponse);
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function unreachable(address: string, error: string): MemberProbe {
  return { address, reachable: false, ready: false, role: undefined, leaderId: undefined, commitIndex: undefined, appliedIndex: undefined, term: undefined, error, status: undefined };
}

export async function probeMember(address: string, timeoutMs: number, tls: CliTls | undefined): Promise<MemberProbe> {
  let answer: HttpAnswer;
  try {
    answer = await httpGet(address, '/status', timeoutMs, tls);
  } catch (error) {
    return unreachable(address, error instanceof Error ? error.message : String(error));
  }
  let status: ClusterStatus;
  try {
    status = JSON.parse(answer.body) as ClusterStatus;
  } catch {
    return unreachable(address, `GET /status answered HTTP ${answer.statusCode} with something that is not raftlockd's JSON`);
  }
  if (answer.statusCode !== 200 || typeof status !== 'object' || status === null || !Array.isArray(status.members)) {
    return unreachable(address, `GET /status answered HTTP ${answer.statusCode}`);
  }
  const commitIndex = numberOr(status.commitIndex);
  const appliedIndex = numberOr(status.appliedIndex);
  return {
    address,
    reachable: true,
    // Ready as /readyz defines it: a leader is known and this member has applied what it knows committed.
    ready: status.leaderId !== null && commitIndex !== undefined && appliedIndex !== undefined && appliedIndex >= commitIndex,
    role: typeof status.role === 'string' ? status.role : undefined,
    leaderId: typeof status.leaderId === 'string' || status.leaderId === null ? status.leaderId : undefined,
    commitIndex,
    appliedIndex,
    term: numberOr(status.term),
    error: undefined,
    status,
  };
}
