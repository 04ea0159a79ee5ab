/**
 * Access tokens: HS256 JWTs naming the user, its tenant and its role, with an expiry. The role in a token is a
 * hint for clients; every request re-reads the user, so a deleted or demoted user loses access at once.
 */
import { jwtVerify, SignJWT } from 'jose';
import type { UserRole } from '../db/index.ts';

export interface TokenClaims {
  userId: string;
  tenantId: string;
  role: UserRole;
  /** The user belongs to the system tenant (fixed for a user's life). */
  system: boolean;
}

const ISSUER = 'switchboard';

export class TokenService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(claims: TokenClaims): Promise<string> {
    return new SignJWT({ tid: claims.tenantId, role: claims.role, sys: claims.system })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.key);
  }

  /** The claims of a valid, unexpired token, or undefined. */
  async verify(token: string): Promise<TokenClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || typeof payload.tid !== 'string' || typeof payload.role !== 'string') return undefined;
      return { userId: payload.sub, tenantId: payload.tid, role: payload.role as UserRole, system: payload.sys === true };
    } catch {
      return undefined;
    }
  }
}
