// A flag server nobody can use: a loopback TCP port that accepts each connection and resets it at once.
//
// Why not simply a closed port (ECONNREFUSED)? unleash-client retries a refused fetch for a few
// seconds, and when the flags are closed while such a fetch is still in flight its final error is
// emitted after the client's repository dropped its listeners: an unhandled rejection (reported to
// the flags owner; reproduced by closing flags started against http://127.0.0.1:9/api within ~2 s).
// A reset connection ends as ECONNRESET, which unleash-client reports as a warning, so closing is safe.
import net from 'node:net';

export async function startResettingServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/api`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
