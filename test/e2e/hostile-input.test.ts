// Malformed msgpack, oversize frames, text frames, unknown ops and wrong argument types: each gets
// the SPEC §5 error code or close code, and the member keeps serving (ready, answering others).

import { expect, test } from 'vitest';
import { encodeFrame } from '@raftlock/protocol';
import { isReady, LocalCluster } from './local-cluster.js';
import { expectOk, ProtocolClient } from './protocol-client.js';

test('hostile frames get the documented error or close code and the member stays ready', async () => {
  await using cluster = await LocalCluster.start({ size: 1 });
  const address = cluster.members[0]!.address;

  const garbage = await ProtocolClient.connect(address);
  garbage.sendRaw(new Uint8Array([0xc1, 0xff, 0x00, 0x13]));
  expect(await garbage.waitForClose()).toBe(1007);

  const text = await ProtocolClient.connect(address);
  text.sendRaw('{"id":"1","op":"cluster.status"}', false);
  expect(await text.waitForClose()).toBe(1007);

  const huge = await ProtocolClient.connect(address);
  huge.sendRaw(new Uint8Array(1024 * 1024 + 10));
  expect(await huge.waitForClose()).toBe(1009);

  const client = await ProtocolClient.connect(address);
  const unknownOp = await client.request('lock.steal' as 'lock.get', { name: 'x' });
  expect(!unknownOp.ok && unknownOp.error.code).toBe('INVALID_ARGUMENT');
  const wrongType = await client.request('lock.release', { sessionId: '1', name: 'x', token: 'seven' as unknown as number });
  expect(!wrongType.ok && wrongType.error.code).toBe('INVALID_ARGUMENT');
  const tooLarge = await client.request('lock.get', { name: 'x'.repeat(300) });
  expect(!tooLarge.ok && tooLarge.error.code).toBe('TOO_LARGE');
  const noSession = await client.request('lock.acquire', { sessionId: '999999', name: 'x', mode: 'try' });
  expect(!noSession.ok && noSession.error.code).toBe('SESSION_EXPIRED');
  // A decodable frame that is not a request is answered, not dropped.
  client.sendRaw(encodeFrame(['not', 'a', 'request']));
  // Deep nesting must not crash the member.
  const nested = new Uint8Array(100_001).fill(0x91);
  nested[100_000] = 0xc0;
  const deep = await ProtocolClient.connect(address);
  deep.sendRaw(nested);
  await deep.waitForClose();

  expect(await isReady(address)).toBe(true);
  expect(expectOk(await client.request('cluster.status', {})).role).toBe('leader');
  client.close();
});
