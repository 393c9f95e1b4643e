// A refused Origin or Host is usually a missing line in gateway.yaml, and the page only says
// "Failed to fetch": the log says which key would allow it. Once per origin or host, so a page
// retrying (or a hostile flood) does not drown the log.
import { basename } from "node:path";
import type { Logger } from "../runtime/logger.ts";
import type { Generation } from "../runtime/generation.ts";

/** Distinct origins and hosts remembered; past it nothing more is said (the answers stay the same). */
const REMEMBERED = 100;

export class RefusalHints {
  private readonly told = new Set<string>();

  constructor(
    private readonly logger: Logger,
    private readonly current: () => Generation,
  ) {}

  refusedOrigin(origin: string): void {
    if (!this.first(`origin ${origin}`)) return;
    this.logger.warn(
      `gateway: refused a request from origin ${origin}; if that page is yours, add it to server.origins in ${this.manifest()} (e.g. origins: [${origin}])`,
      { origin },
    );
  }

  /**
   * server.hosts is the key that lets a name in (server.host is only the address the gateway
   * binds); a name there without a port takes any port.
   */
  refusedHost(host: string | undefined): void {
    if (!this.first(`host ${host}`)) return;
    const told = host === undefined || host === "" ? "(none)" : host;
    const name = host ? nameOf(host) : undefined;
    const allow = name ? `; if that name is yours (a proxy or load balancer forwarding it), add it to server.hosts in ${this.manifest()} (e.g. hosts: [${name}])` : "";
    this.logger.warn(
      `gateway: refused a request for host ${told}: the gateway answers only to its own address, localhost, 127.0.0.1 and the names in server.hosts (DNS-rebinding protection)${allow}`,
      { host: host ?? null },
    );
  }

  private first(key: string): boolean {
    if (this.told.has(key) || this.told.size >= REMEMBERED) return false;
    this.told.add(key);
    return true;
  }

  private manifest(): string {
    return basename(this.current().manifestFile);
  }
}

/** "name:port" -> "name" ("[::1]:80" -> "[::1]"), lower-cased, as server.hosts takes it. */
function nameOf(host: string): string {
  const colon = host.lastIndexOf(":");
  return (colon > host.lastIndexOf("]") ? host.slice(0, colon) : host).toLowerCase();
}
