// Which Host headers Vite's dev server admits (server.allowedHosts), for the gateway's socket:
// Vite checks the hosts of requests in its middleware, but an 'upgrade' never passes there.
// The rule is Vite's own (its host-validation-middleware): IP addresses, localhost and
// *.localhost, and the names listed (".example.com" is that name and every name under it).
import { isIP } from "node:net";

/** A Host header check for the dev server's settings; undefined when Vite checks no host (true, https). */
export function viteHostCheck(allowedHosts: readonly string[] | true | undefined, https: boolean): ((host: string) => boolean) | undefined {
  // https: a page cannot reach the server under another name (the certificate's), so Vite checks none;
  // true: the user turned the check off, for the gateway's routes too.
  if (https || allowedHosts === true) return () => true;
  // Vite before 6.0.9 had no such setting: the gateway checks the Host itself (its own address).
  if (allowedHosts === undefined) return undefined;
  const listed = [...allowedHosts];
  return (host) => {
    const name = hostName(host.trim());
    if (name === undefined) return false;
    if (name === "") return true; // an IP address
    if (name === "localhost" || name.endsWith(".localhost")) return true;
    return listed.some((allowed) => allowed === name || (allowed.startsWith(".") && (allowed.slice(1) === name || name.endsWith(allowed))));
  };
}

/** The name in a Host header ("" for an IP address), or undefined when it is not one. */
function hostName(host: string): string | undefined {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end > 0 && isIP(host.slice(1, end)) === 6 ? "" : undefined;
  }
  const colon = host.indexOf(":");
  const name = (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
  return isIP(name) === 4 ? "" : name;
}
