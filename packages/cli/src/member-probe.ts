// probeMember: one member's own view of itself, asked over its HTTP port (SPEC §2: GET /readyz and
// /metrics), not through the SDK — the SDK follows every member to the leader, and `raftlock status`
// has to hear from each member on its own, so that a member that is down shows as down.
//
// /readyz gives role, known leader, commit and applied index, and readiness; /metrics gives the term
// (raftlock_term). Neither needs a client token.

import { get } from 'node:http';

export interface MemberProbe {
  readonly address: string;
  /** The member answered /readyz. */
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
}

interface HttpAnswer {
  readonly statusCode: number;
  readonly body: string;
}

const maxBodyBytes = 1 << 20;

function httpGet(address: string, path: string, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = get(`http://${address}${path}`, { timeout: timeoutMs, headers: { accept: '*/*' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > maxBodyBytes) request.destroy(new Error(`${path}: answer too large`));
      });
      response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

function numberOr(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The value of one un-labelled Prometheus sample, e.g. `raftlock_term 3`. */
export function metricValue(metricsText: string, name: string): number | undefined {
  const match = new RegExp(`^${name}\\s+(\\S+)\\s*$`, 'm').exec(metricsText);
  if (!match) return undefined;
  const value = Number(match[1]);
  return Number.isFinite(value) ? value : undefined;
}

export async function probeMember(address: string, timeoutMs: number): Promise<MemberProbe> {
  const [readiness, metrics] = await Promise.allSettled([httpGet(address, '/readyz', timeoutMs), httpGet(address, '/metrics', timeoutMs)]);
  if (readiness.status === 'rejected') {
    const reason = readiness.reason instanceof Error ? readiness.reason.message : String(readiness.reason);
    return { address, reachable: false, ready: false, role: undefined, leaderId: undefined, commitIndex: undefined, appliedIndex: undefined, term: undefined, error: reason };
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(readiness.value.body) as Record<string, unknown>;
  } catch {
    // Not a raftlockd answer: reachable, but we know nothing else.
  }
  const leaderId = body['leaderId'];
  return {
    address,
    reachable: true,
    ready: readiness.value.statusCode === 200,
    role: typeof body['role'] === 'string' ? body['role'] : undefined,
    leaderId: typeof leaderId === 'string' || leaderId === null ? leaderId : undefined,
    commitIndex: numberOr(body['commitIndex']),
    appliedIndex: numberOr(body['appliedIndex']),
    term: metrics.status === 'fulfilled' && metrics.value.statusCode === 200 ? metricValue(metrics.value.body, 'raftlock_term') : undefined,
    error: undefined,
  };
}
