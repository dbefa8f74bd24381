// TcpProxy: a loopback TCP relay whose server→client direction can be cut, so a test can make a
// member commit and reply while the reply never arrives (a lost reply, deterministically).

import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private repliesBlocked = false;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly address: string) {}

  static async start(target: string): Promise<TcpProxy> {
    const [targetHost, targetPort] = target.split(':') as [string, string];
    const holder: { proxy?: TcpProxy } = {};
    const server = createServer((client) => {
      const proxy = holder.proxy;
      const upstream = connect(Number(targetPort), targetHost);
      proxy?.sockets.add(client).add(upstream);
      client.on('data', (chunk) => upstream.write(chunk));
      upstream.on('data', (chunk) => {
        if (!proxy?.repliesBlocked) client.write(chunk);
      });
      const closeBoth = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', closeBoth).on('error', closeBoth);
      upstream.on('close', closeBoth).on('error', closeBoth);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    holder.proxy = new TcpProxy(server, `127.0.0.1:${port}`);
    return holder.proxy;
  }

  blockReplies(): void {
    this.repliesBlocked = true;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
