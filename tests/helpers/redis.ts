// A real redis-server for the tests that need one: started on a free port on 127.0.0.1, in a
// temp folder, stopped (or killed and started again on the same port) by the test; and a proxy
// in front of it that a test can cut, to part one instance from Redis.
// `npm test`'s pretest installs Debian's redis-server when it is missing (scripts/pretest.js).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";

export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? "/usr/bin/redis-server";

export interface TestRedis {
  port: number;
  url: string;
  /** Kill it (SIGKILL: no goodbye to clients, no final save). */
  kill(): Promise<void>;
  /** Start it again on the same port (with what it persisted, when `persist` is on). */
  restart(): Promise<void>;
  /** A command over a raw connection (e.g. ["DBSIZE"]), answered as text. */
  command(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** `persist`: append-only file, so a restart keeps what was written (fsync always). `port`: a given one (default: a free one). */
export async function startRedis(options: { persist?: boolean; port?: number } = {}): Promise<TestRedis> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "gw-redis-"));
  let child: ChildProcess | undefined;
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no", "--protected-mode", "no"];
  if (options.persist) args.push("--appendonly", "yes", "--appendfsync", "always");
  else args.push("--appendonly", "no");

  const launch = async () => {
    child = spawn(REDIS_SERVER, args, { stdio: "ignore" });
    const exited = new Promise<never>((_, reject) => child!.once("exit", (code) => reject(new Error(`redis-server exited (${code})`))));
    exited.catch(() => {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      const answer = await raw(port, ["PING"]).catch(() => "");
      if (answer.startsWith("+PONG")) break;
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
      await Promise.race([sleep(25), exited]);
    }
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once("exit", () => resolve());
      running.kill("SIGKILL");
    });
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: launch,
    command: (command) => raw(port, command),
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP proxy in front of a Redis, for cutting one instance off from it while the others stay connected. */
export interface RedisLink {
  url: string;
  /** Drop every connection through the proxy and refuse new ones (closed at once) until `heal()`. */
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startRedisLink(redisPort: number): Promise<RedisLink> {
  const sockets = new Set<Socket>();
  let cut = false;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (cut) return void client.destroy();
    const upstream = createConnection({ host: "127.0.0.1", port: redisPort });
    track(upstream);
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      cut = true;
      for (const socket of sockets) socket.destroy();
    },
    heal() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        cut = true;
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One command in RESP over a fresh connection; the reply as text. */
function raw(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    let reply = "";
    socket.setTimeout(2_000, () => socket.destroy(new Error("timeout")));
    socket.on("connect", () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`));
    socket.on("data", (data) => {
      reply += data.toString();
      if (reply.endsWith("\r\n")) socket.end();
    });
    socket.on("close", () => resolve(reply));
    socket.on("error", reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
