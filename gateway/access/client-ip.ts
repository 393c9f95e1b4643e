// The caller's address for limits and auth handlers. Forwarded headers are believed only from
// peers server.trustProxy names (default: none), as Fastify's and Express's trustProxy do: a
// client that talks to the gateway directly can write any X-Forwarded-For it likes.
import { BlockList, isIP } from "node:net";

export type TrustProxy = boolean | readonly string[];

const lists = new WeakMap<readonly string[], BlockList>();

/** `10.0.0.0/8`, `127.0.0.1`, `::1`, ... as a BlockList (made once per list). */
function trusted(list: readonly string[]): BlockList {
  let blocks = lists.get(list);
  if (blocks === undefined) {
    blocks = new BlockList();
    for (const entry of list) {
      const [address, bits] = entry.split("/") as [string, string | undefined];
      const family = isIP(address) === 6 ? "ipv6" : "ipv4";
      if (isIP(address) === 0) continue;
      if (bits === undefined) blocks.addAddress(address, family);
      else blocks.addSubnet(address, Number(bits), family);
    }
    lists.set(list, blocks);
  }
  return blocks;
}

function isTrusted(address: string, trust: TrustProxy): boolean {
  if (trust === true) return true;
  if (trust === false) return false;
  const plain = address.startsWith("::ffff:") ? address.slice(7) : address;
  const family = isIP(plain) === 6 ? "ipv6" : "ipv4";
  return isIP(plain) !== 0 && trusted(trust).check(plain, family);
}

/**
 * The client's address: the socket's peer, or, when that peer is a trusted proxy, the nearest
 * address in X-Forwarded-For that is not one (read from the right, as each proxy appends).
 */
export function clientIp(peer: string | undefined, forwardedFor: string | string[] | undefined, trust: TrustProxy): string | undefined {
  let address = peer?.startsWith("::ffff:") ? peer.slice(7) : peer;
  if (address === undefined || trust === false || forwardedFor === undefined || !isTrusted(address, trust)) return address;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor).split(",").map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (isIP(hop) === 0) return address; // not an address: stop believing the header here
    address = hop;
    if (!isTrusted(hop, trust)) return hop;
  }
  return address;
}
