/**
 * Short-lived SIP passwords for the browser softphone. A logged-in user gets a password for its own extension that
 * the registrar accepts beside the permanent secret, so the permanent secret never has to live in a browser.
 *
 * Nothing is stored: the password is an HMAC, under a key derived from the server's secret, of the extension, its
 * current HA1 and a time window. The registrar recomputes the HA1 of the passwords of the current and the previous
 * window, so a password is good for between one and two windows; a new secret (reset) or a server with another
 * secret ends every softphone password at once. This is the scheme TURN servers use for their REST credentials.
 */
import { createHmac } from 'node:crypto';
import { ha1 } from './digest-credentials.ts';

/** What the password is derived from: the extension's identity and its current hashes. */
export interface SoftphoneSubject {
  extensionId: string;
  number: number;
  realm: string;
  ha1Sha256: string;
}

export interface SoftphonePassword {
  /** The digest username: the extension number, as for any phone. */
  username: string;
  password: string;
  realm: string;
  expiresAt: Date;
}

export class SoftphoneCredentials {
  private readonly key: Buffer;

  constructor(
    serverSecret: string,
    /** Length of a window; a password lives between one and two of them. */
    readonly windowMs = 12 * 3600_000,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', serverSecret).update('softphone-credentials').digest();
  }

  issue(subject: SoftphoneSubject): SoftphonePassword {
    const window = Math.floor(this.now() / this.windowMs);
    return {
      username: String(subject.number),
      password: this.password(subject, window),
      realm: subject.realm,
      expiresAt: new Date((window + 2) * this.windowMs),
    };
  }

  /** HA1 of every softphone password good now, for the registrar to try after the permanent one. */
  ha1s(subject: SoftphoneSubject, algorithm: 'MD5' | 'SHA-256'): string[] {
    const window = Math.floor(this.now() / this.windowMs);
    return [window, window - 1].map((w) => ha1(algorithm, String(subject.number), subject.realm, this.password(subject, w)));
  }

  private password(subject: SoftphoneSubject, window: number): string {
    return createHmac('sha256', this.key).update(`${subject.extensionId}:${subject.ha1Sha256}:${window}`).digest('base64url').slice(0, 32);
  }
}
