// What authentication reads of an HTTP request or a WebSocket upgrade (one place for both).
import type { IncomingMessage } from "node:http";
import type { Credentials } from "../access/authenticate.ts";
import { clientIp, type TrustProxy } from "../access/client-ip.ts";
import type { Guard } from "./guard.ts";

export function credentialsOf(req: IncomingMessage, guard: Guard, trustProxy: TrustProxy, window: string, queryToken?: string | null): Credentials {
  const origin = req.headers.origin;
  const credentials: Credentials = {
    headers: req.headers,
    local: origin === undefined || !guard.isCrossOrigin(origin),
    url: req.url ?? "/",
    window,
  };
  if (origin !== undefined) credentials.origin = origin.toLowerCase();
  const ip = clientIp(req.socket.remoteAddress, req.headers["x-forwarded-for"], trustProxy);
  if (ip !== undefined) credentials.ip = ip;
  if (queryToken !== undefined) credentials.queryToken = queryToken;
  return credentials;
}
