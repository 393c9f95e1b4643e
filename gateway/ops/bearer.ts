// A route guarded by a token of its own (server.metrics: { token }), apart from server.token.
import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Does `authorization` carry `Bearer <token>`? Compared in constant time, over digests so that
 * the token's length is not told either.
 */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = authorization?.startsWith("Bearer ") ? authorization.slice(7) : "";
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(given), digest(token)) && given !== "";
}
