// Client bearer tokens and their roles (SPEC §2 --token-file). A token file holds one `token role`
// per line; `#` starts a comment. Roles: `read` may only inspect, `client` may also take locks,
// sessions and elections, `admin` may do everything (force-release, membership changes, leadership
// transfers, snapshot reads for backups: members.add/remove/transferLeader, snapshot.read).
//
// Tokens are kept only as SHA-256 digests: a lookup never compares raw secrets byte by byte, and a
// heap dump or a log line cannot give one away.

import { createHash } from 'node:crypto';
import type { OperationName } from '@raftlock/protocol';

export type ClientRole = 'read' | 'client' | 'admin';

const roles: ReadonlySet<string> = new Set<ClientRole>(['read', 'client', 'admin']);

const readOperations: ReadonlySet<OperationName> = new Set<OperationName>(['session.list', 'lock.get', 'lock.list', 'election.leader', 'watch.start', 'watch.cancel', 'cluster.status', 'members.list']);
const clientOperations: ReadonlySet<OperationName> = new Set<OperationName>([
  ...readOperations,
  'session.open',
  'session.keepalive',
  'session.close',
  'lock.acquire',
  'lock.cancel',
  'lock.release',
  'election.campaign',
  'election.cancel',
  'election.proclaim',
  'election.resign',
]);

export function rolePermits(role: ClientRole, op: OperationName): boolean {
  switch (role) {
    case 'admin':
      return true;
    case 'client':
      return clientOperations.has(op);
    case 'read':
      return readOperations.has(op);
  }
}

export class TokenFileError extends Error {
  override readonly name = 'TokenFileError';
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class ClientTokens {
  private constructor(private readonly roleByDigest: ReadonlyMap<string, ClientRole>) {}

  /** Parse a token file's text; `source` names it in errors (never the token itself). */
  static parse(text: string, source: string): ClientTokens {
    const roleByDigest = new Map<string, ClientRole>();
    text.split('\n').forEach((rawLine, position) => {
      const line = rawLine.replace(/#.*$/, '').trim();
      if (line.length === 0) return;
      const fields = line.split(/\s+/);
      const where = `${source} line ${position + 1}`;
      if (fields.length !== 2) throw new TokenFileError(`${where}: expected "token role"`);
      const [token, role] = fields as [string, string];
      if (token.length < 16) throw new TokenFileError(`${where}: a token must be at least 16 characters`);
      if (!roles.has(role)) throw new TokenFileError(`${where}: role "${role}" is not one of read, client, admin`);
      const key = digest(token);
      if (roleByDigest.has(key)) throw new TokenFileError(`${where}: this token is listed twice`);
      roleByDigest.set(key, role as ClientRole);
    });
    if (roleByDigest.size === 0) throw new TokenFileError(`${source}: no tokens (an empty token file would lock every client out)`);
    return new ClientTokens(roleByDigest);
  }

  /** The role of an `Authorization: Bearer <token>` header, or undefined when it is missing or unknown. */
  roleOf(authorization: string | undefined): ClientRole | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    return match?.[1] === undefined ? undefined : this.roleByDigest.get(digest(match[1]));
  }

  get size(): number {
    return this.roleByDigest.size;
  }
}
