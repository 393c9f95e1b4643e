// Who may talk to the gateway: the Host and Origin checks that keep other web pages (and DNS
// rebinding) away from handlers, and the optional bearer token. Shared by HTTP and WebSocket.
import { bearerOf, tokenMatches } from "../access/bearer.ts";
import { isIP } from "node:net";
import type { ServerSettings } from "../config/manifest.ts";

export interface BoundAddress {
  host: string;
  port: number;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

/** host:port as it appears in a URL or a Host header (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** "name:port" -> "name" ("[::1]:80" -> "[::1]"). */
function withoutPort(host: string): string {
  const colon = host.lastIndexOf(":");
  return colon > host.lastIndexOf("]") ? host.slice(0, colon) : host;
}

/** How a guard on a server of someone else's (the Vite plugin's) sees its requests. */
export interface SharedServer {
  /** Its pages' origin is https://. */
  secure: boolean;
  /**
   * The Host headers the server's owner admits (Vite's server.allowedHosts): each is accepted as
   * the gateway's own, and a page of that host is same-origin. Absent: the bound address's, as alone.
   */
  hostAllowed?: ((host: string) => boolean) | undefined;
}

export class Guard {
  /** host:port values a request's Host header may carry. */
  private readonly hosts: Set<string>;
  /** The gateway's own origins (http://<allowed host>). */
  private readonly ownOrigins: Set<string>;

  private readonly scheme: string;

  constructor(
    private readonly bound: BoundAddress,
    private readonly settings: () => ServerSettings,
    private readonly shared?: SharedServer,
  ) {
    this.scheme = shared?.secure ? "https" : "http";
    this.hosts = new Set([hostPort(bound.host, bound.port), `localhost:${bound.port}`, `127.0.0.1:${bound.port}`].map((h) => h.toLowerCase()));
    this.ownOrigins = new Set([...this.hosts].map((h) => `${this.scheme}://${h}`));
  }

  /**
   * The Host header names this gateway, or one of server.hosts (a name without a port there takes
   * any port). On a wildcard bind (0.0.0.0) any name with the right port is accepted: such a bind
   * needs a token, and Origin is still checked.
   */
  hostAllowed(host: string | undefined): boolean {
    if (!host) return false;
    if (this.hosts.has(host) || this.shared?.hostAllowed?.(host)) return true;
    const normalized = host.toLowerCase();
    if (this.hosts.has(normalized)) return true;
    const listed = this.settings().hosts;
    if (listed.length > 0 && (listed.includes(normalized) || listed.includes(withoutPort(normalized)))) return true;
    return isWildcard(this.bound.host) && normalized.endsWith(`:${this.bound.port}`);
  }

  /**
   * The page's origin is the gateway's own or listed in server.origins. On a wildcard bind the
   * gateway's own origin is the one the request was addressed to (`http://<Host>`).
   */
  originAllowed(origin: string, host: string | undefined): boolean {
    const normalized = origin.toLowerCase();
    const settings = this.settings();
    if (this.ownOrigins.has(normalized) || settings.origins.includes(normalized)) return true;
    // On a shared server: a page of a host its owner admits is the server's own.
    if (this.shared?.hostAllowed !== undefined && host !== undefined && normalized === `${this.scheme}://${host.toLowerCase()}` && this.hostAllowed(host)) return true;
    // A name in server.hosts is the gateway's own (a page served through the balancer that uses it).
    if (settings.hosts.length > 0) {
      const name = normalized.replace(/^https?:\/\//, "");
      if (name !== normalized && (settings.hosts.includes(name) || settings.hosts.includes(withoutPort(name)))) return true;
    }
    return isWildcard(this.bound.host) && host !== undefined && normalized === `http://${host.toLowerCase()}`;
  }

  /** A cross-origin page (one that needs CORS headers) rather than the gateway's own. */
  isCrossOrigin(origin: string): boolean {
    return !this.ownOrigins.has(origin.toLowerCase());
  }

  /** No token configured, or `Authorization: Bearer <token>` (or `?token=` for WebSockets) matches it. */
  authorized(authorization: string | undefined, queryToken?: string | null): boolean {
    const token = this.settings().token;
    if (token === undefined) return true;
    return tokenMatches(bearerOf(authorization, queryToken), token);
  }
}
