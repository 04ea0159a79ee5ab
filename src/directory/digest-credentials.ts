/**
 * SIP digest credentials (RFC 7616 section 3.4.2): the server keeps only HA1 = H(username ":" realm ":" password)
 * for each algorithm it offers, never the password. The username of an extension is its number.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';

export interface DigestHashes {
  realm: string;
  ha1Md5: string;
  ha1Sha256: string;
}

export function ha1(algorithm: 'MD5' | 'SHA-256', username: string, realm: string, password: string): string {
  return createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(`${username}:${realm}:${password}`).digest('hex');
}

export function digestHashes(username: string, realm: string, password: string): DigestHashes {
  return { realm, ha1Md5: ha1('MD5', username, realm, password), ha1Sha256: ha1('SHA-256', username, realm, password) };
}

/** True when the secret is the one the hashes were made from (compared in constant time). */
export function secretMatches(username: string, hashes: DigestHashes, secret: string): boolean {
  const expected = Buffer.from(hashes.ha1Sha256, 'hex');
  const actual = Buffer.from(ha1('SHA-256', username, hashes.realm, secret), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

// Letters and digits that cannot be mistaken for one another when read aloud or typed into a desk phone.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A random SIP secret: 20 characters, about 117 bits. */
export function generateSecret(length = 20): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}
