// Temporary apps on disk for tests: a folder with a manifest, handlers and schemas.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createGateway, type Gateway, type GatewaySettings } from "../../gateway/index.ts";
import type { Logger } from "../../gateway/runtime/logger.ts";

export interface TempApp {
  dir: string;
  path(relative: string): string;
  write(relative: string, content: string): void;
  read(relative: string): string;
  remove(): void;
}

/** A folder under the OS temp dir holding `files` (relative path -> content). */
export function tempApp(files: Record<string, string>, parent = tmpdir()): TempApp {
  const dir = mkdtempSync(join(parent, "gw-test-"));
  const app: TempApp = {
    dir,
    path: (relative) => join(dir, relative),
    write(relative, content) {
      const file = join(dir, relative);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
    },
    read: (relative) => readFileSync(join(dir, relative), "utf8"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  for (const [relative, content] of Object.entries(files)) app.write(relative, content);
  return app;
}

/** A logger that keeps what it is told, so tests can assert on it and the output stays clean. */
export function memoryLogger(): Logger & { lines: string[]; errors: unknown[] } {
  const lines: string[] = [];
  const errors: unknown[] = [];
  return {
    lines,
    errors,
    info: (m) => void lines.push(m),
    warn: (m) => void lines.push(m),
    error: (m, e) => {
      lines.push(m);
      if (e !== undefined) errors.push(e);
    },
  };
}

/** A gateway over a temp app; `close` removes both. */
export async function gatewayFor(files: Record<string, string>, options: Partial<GatewaySettings> = {}): Promise<{ gw: Gateway; app: TempApp; logger: ReturnType<typeof memoryLogger>; close(): Promise<void> }> {
  const app = tempApp(files);
  const logger = memoryLogger();
  try {
    const gw = await createGateway({ config: app.path("gateway.yaml"), logger, ...options });
    return {
      gw,
      app,
      logger,
      async close() {
        await gw.close();
        app.remove();
      },
    };
  } catch (error) {
    app.remove();
    throw error;
  }
}

/** The rejection value of a promise (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<any> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
}
