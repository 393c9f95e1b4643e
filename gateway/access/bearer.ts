// Shared secrets compared as they must be: server.token, and a route's own token
// (server.metrics: { token }). One place, so no check forgets the constant time.
import { createHash, timingSafeEqual } from "node:crypto";

/** The credential of `Authorization: Bearer <token>`, else `?token=` (the WebSocket upgrade's), else undefined. */
export function bearerOf(authorization: string | readonly string[] | undefined, queryToken?: string | null): string | undefined {
  if (typeof authorization === "string" && authorization.startsWith("Bearer ")) return authorization.slice(7);
  return queryToken ?? undefined;
}

/**
 * Is `given` the `token`? Compared in constant time, over digests so that the token's length is
 * not told either.
 */
export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(token)) && given !== "";
}
