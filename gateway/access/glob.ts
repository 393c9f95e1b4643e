// Name globs (`todo:*`, `settings-*`) and origin patterns (`https://*.example.com:5173`).

export type Matcher = (value: string) => boolean;

const SPECIAL = /[.+?^${}()|[\]\\]/g;

/** `*` stands for any run of characters (`:` and `/` included); everything else is literal. */
export function globMatcher(glob: string): Matcher {
  if (glob === "*") return () => true;
  if (!glob.includes("*")) return (value) => value === glob;
  const pattern = new RegExp(`^${glob.replace(SPECIAL, "\\$&").replace(/\*/g, ".*")}$`, "s");
  return (value) => pattern.test(value);
}

/** Any of the globs. */
export function anyGlob(globs: readonly string[]): Matcher {
  if (globs.includes("*")) return () => true;
  const matchers = globs.map(globMatcher);
  if (matchers.length === 0) return () => false;
  if (matchers.length === 1) return matchers[0]!;
  return (value) => matchers.some((m) => m(value));
}

export function isGlob(name: string): boolean {
  return name.includes("*");
}

const DEFAULT_PORTS: Record<string, string> = { http: "80", https: "443", ws: "80", wss: "443" };

/**
 * An origin pattern: scheme, host and port all count. `*` in the host stands for any run of
 * name characters (`*.example.com` is not `example.com`); a port of `*` is any port; no port is the
 * scheme's default. A path after the host (as Tauri's remote URLs may have) is ignored.
 */
export function originMatcher(pattern: string): Matcher {
  const match = /^([a-z*][a-z0-9+.*-]*):\/\/([^/:]+|\[[^\]]+\])(?::(\d+|\*))?/i.exec(pattern.trim());
  if (!match) return () => false;
  const [, scheme, host, port] = match as unknown as [string, string, string, string | undefined];
  const part = (text: string, any: string) => text.toLowerCase().replace(SPECIAL, "\\$&").replace(/\*/g, any);
  const portPart = port === undefined || DEFAULT_PORTS[scheme.toLowerCase()] === port ? "" : port === "*" ? "(?::\\d+)?" : `:${port}`;
  const regex = new RegExp(`^${part(scheme, "[a-z0-9+.-]*")}://${part(host, "[a-z0-9-.]*")}${portPart}$`);
  return (origin) => regex.test(withoutDefaultPort(origin.toLowerCase()));
}

/** `http://a:80` is the origin `http://a`. */
function withoutDefaultPort(origin: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*):(\d+)$/.exec(origin);
  return m && DEFAULT_PORTS[m[1]!] === m[3] ? `${m[1]}://${m[2]}` : origin;
}
