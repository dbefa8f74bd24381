// Member ids and addresses (SPEC §2): the one rule for raftlockd's --id/--listen/--advertise/--peers,
// the wire (members.add), snapshot files, the SDK and the CLI's --endpoints.
//
// No imports, and exported on its own (`@raftlock/protocol/member-address`): the CLI checks
// --endpoints before it loads the rest of the protocol package (msgpackr) or the SDK.

export interface HostPort {
  /** A name, an IPv4 address, or an IPv6 address without its brackets. */
  readonly host: string;
  readonly port: number;
}

const memberIdPattern = /^[a-z0-9-]{1,32}$/;
// A bracketed IPv6 address (an IPv4-mapped one included), or a name or IPv4 address. `_` is allowed:
// container runtimes hand out such names and resolve them.
const hostPortPattern = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

/** SPEC §2 --id: [a-z0-9-]{1,32}. */
export function memberIdProblem(id: string): string | undefined {
  return memberIdPattern.test(id) ? undefined : 'must match [a-z0-9-]{1,32}';
}

/** host and port of text shaped host:port, the port not yet checked against 1–65535; else undefined. */
export function splitHostPort(address: string): HostPort | undefined {
  const match = hostPortPattern.exec(address);
  if (match === null) return undefined;
  return { host: (match[1] as string).replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

export function isPort(port: number): boolean {
  return port >= 1 && port <= 65535;
}

/** host:port, port 1–65535, or undefined when the text is not one. */
export function parseMemberAddress(address: string): HostPort | undefined {
  const split = splitHostPort(address);
  return split !== undefined && isPort(split.port) ? split : undefined;
}

/** What is wrong with a member address, or undefined when it is host:port with a port in 1–65535. */
export function memberAddressProblem(address: string): string | undefined {
  const split = splitHostPort(address);
  if (split === undefined) return 'must be host:port';
  return isPort(split.port) ? undefined : 'must have a port in 1–65535';
}
