/**
 * Bearer API keys. Keys from the configuration are kept only as SHA-256 digests; a presented key is
 * hashed and compared with every stored digest in constant time. The caller's identity (owner) is a
 * short prefix of the digest, so job records never hold a key.
 *
 * @module
 */

import { hex } from "../bytes.ts";

/** Verifies `Authorization` headers. */
export interface Authenticator {
  /** True when no key is configured: every request is accepted as owner "anonymous". */
  readonly open: boolean;
  /** The owner id for a valid header, or null. */
  verify(authorization: string | undefined): Promise<string | null>;
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** True when the two digests are equal; time depends only on their length. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Creates an authenticator over `keys` (plain text, hashed at once). */
export async function createAuthenticator(keys: readonly string[]): Promise<Authenticator> {
  const digests = await Promise.all(keys.map(sha256));
  return {
    open: digests.length === 0,
    async verify(authorization) {
      if (digests.length === 0) return "anonymous";
      // The scheme is case-insensitive (RFC 9110, 11.1): "bearer" and "BEARER" are Bearer too.
      const m = /^Bearer +([\x21-\x7e]{1,512})$/i.exec(authorization ?? "");
      if (!m) return null;
      const presented = await sha256(m[1]);
      let owner: string | null = null;
      // Compare against every digest, without stopping early, so timing reveals nothing.
      for (const digest of digests) {
        if (constantTimeEqual(presented, digest)) owner = `key-${hex(digest.subarray(0, 8))}`;
      }
      return owner;
    },
  };
}
