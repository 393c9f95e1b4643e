// Run by bench/reload.ts with --expose-gc: 500 hot reloads of a handler that holds 20k objects
// and imports a local helper, an npm package and InvokeError, through the real watcher.
// Prints JSON: RSS and heap after GC every 50 reloads, and each reload's build time.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGateway } from "../gateway/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RELOADS = 500;
const gc = (globalThis as { gc?: () => void }).gc!;

mkdirSync(join(ROOT, ".tmp"), { recursive: true });
const dir = mkdtempSync(join(ROOT, ".tmp", "reload-memory-")); // inside the project: "yaml" resolves
const handler = (version: number) => `
import { InvokeError, type Invoke } from "ipc-gateway";
import { parse } from "yaml";
import { label } from "./_label.ts";
const data = Array.from({ length: 20000 }, (_, i) => ({ i, name: "item " + i, tags: [i % 7, i % 11] }));
export default ({ body }: Invoke<{ n?: number }>) => {
  if (body.n === -1) throw new InvokeError("negative");
  return { version: ${version}, label: label(parse("a: 1").a), size: data.length };
};
`;
mkdirSync(join(dir, "handlers"));
writeFileSync(join(dir, "gateway.yaml"), "version: 1\ncommands:\n  big:\n    handler: handlers/big.ts\n");
writeFileSync(join(dir, "handlers/_label.ts"), "export const label = (n: number) => `label ${n}`;\n");
writeFileSync(join(dir, "handlers/big.ts"), handler(0));

const loadMs: number[] = [];
const gw = await createGateway({
  config: join(dir, "gateway.yaml"),
  watch: true,
  logger: {
    info: (m) => {
      const ms = /reloaded in (\d+) ms/.exec(m);
      if (ms) loadMs.push(Number(ms[1]));
    },
    warn: () => {},
    error: (m) => process.stderr.write(m + "\n"),
  },
});
await gw.watching;

const samples: { reloads: number; rssMB: number; heapMB: number }[] = [];
const sample = (reloads: number) => {
  gc();
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  samples.push({ reloads, rssMB: rss / 2 ** 20, heapMB: heapUsed / 2 ** 20 });
};
sample(0);
for (let version = 1; version <= RELOADS; version++) {
  const reloaded = new Promise<void>((resolve) => {
    const id = gw.app.listen("gateway://reload", () => {
      gw.app.unlisten(id);
      resolve();
    });
  });
  writeFileSync(join(dir, "handlers/big.ts"), handler(version));
  await reloaded;
  const answer = await gw.invoke<{ version: number }>("big", {});
  if (answer.version !== version) {
    // A burst may be coalesced into the next reload; wait for the code to catch up.
    for (let i = 0; i < 100 && (await gw.invoke<{ version: number }>("big", {})).version !== version; i++) await new Promise((r) => setTimeout(r, 10));
  }
  if (version % 50 === 0) sample(version);
}
await gw.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify({ samples, loadMs }));
process.exit(0);
