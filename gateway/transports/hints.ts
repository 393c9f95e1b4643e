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

  refusedHost(host: string | undefined): void {
    if (!this.first(`host ${host}`)) return;
    this.logger.warn(
      `gateway: refused a request for host ${host ?? "(none)"}: the gateway answers only to its own address, localhost and 127.0.0.1 (DNS-rebinding protection); to be reached under another name, set server.host in ${this.manifest()} (a non-loopback host needs server.token)`,
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
