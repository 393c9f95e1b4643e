// A TCP load balancer for tests: each connection goes to the backend `choose` picks from the
// request's first bytes (no sticky sessions, no HTTP parsing beyond the request line).
import { createConnection, createServer, type Socket } from "node:net";

export interface Balancer {
  url: string;
  close(): Promise<void>;
}

export async function startBalancer(backends: number[], choose: (requestLine: string, connection: number) => number): Promise<Balancer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    const n = connections++;
    client.once("data", (first: Buffer) => {
      const line = first.toString("latin1", 0, Math.min(first.length, 2048)).split("\r\n")[0] ?? "";
      const upstream = createConnection({ host: "127.0.0.1", port: backends[choose(line, n) % backends.length]! });
      sockets.add(upstream);
      upstream.on("close", () => {
        sockets.delete(upstream);
        client.destroy();
      });
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.write(first);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
