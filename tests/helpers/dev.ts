// A gateway in watch mode over a temp app, with next(): the next reload or broken edit it reports.
import { gatewayFor } from "./app.ts";
import type { GatewaySettings } from "../../gateway/index.ts";

export type Outcome = { kind: "reload" | "error"; payload: any };
export type DevGateway = Awaited<ReturnType<typeof gatewayFor>> & { next(timeoutMs?: number): Promise<Outcome> };

export async function devGateway(files: Record<string, string>, options: Partial<GatewaySettings> = {}): Promise<DevGateway> {
  const ctx = await gatewayFor(files, { watch: true, ...options });
  await ctx.gw.watching;
  const outcomes: Outcome[] = [];
  const waiters: ((o: Outcome) => void)[] = [];
  const record = (kind: Outcome["kind"]) => (event: { payload: unknown }) => {
    const outcome = { kind, payload: event.payload };
    const waiter = waiters.shift();
    if (waiter) waiter(outcome);
    else outcomes.push(outcome);
  };
  ctx.gw.app.listen("gateway://reload", record("reload"));
  ctx.gw.app.listen("gateway://error", record("error"));
  return {
    ...ctx,
    next: (timeoutMs = 5000) => {
      const ready = outcomes.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const waiter = (o: Outcome) => {
          clearTimeout(timer);
          resolve(o);
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no reload within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
  };
}
