// A flag server nobody can use: a loopback TCP port that accepts each connection and resets it at once
// (a proxy in front of a dead Unleash). Tests also use a closed port (refused connections) for the same.
//
// unleash-client retries a refused fetch for about 3 s; closing the flags while such a fetch was in
// flight used to end in an unhandled rejection (fixed in src/flags/unleash.ts close()). A reset connection
// ends as ECONNRESET, which unleash-client reports as a warning instead of an error.
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
