/**
 * Secrets the server must read back in clear (a trunk's digest password: the engine answers the carrier's
 * challenges with it, so it cannot be hashed), kept sealed at rest. It is the recordings' vault, AES-256-GCM under
 * the server's key, given a face for short strings stored as base64 text: one key and one format to rotate, and the
 * key id inside every sealed value lets a rotated key's older values still be opened.
 */
import { RecordingVault } from '../../media/index.ts';

export class SecretBox {
  private readonly vault: RecordingVault | undefined;

  /**
   * `key` seals and opens, `older` keys only open. Without a key (tools and tests that never store a secret) the
   * box refuses to seal or open rather than invent a key nobody could open with after a restart.
   */
  constructor(key: Buffer | undefined, older: Buffer[] = []) {
    this.vault = key ? new RecordingVault(key, older) : undefined;
  }

  /** The id of the key new values are sealed with (the first 16 hex digits of its SHA-256), or undefined. */
  get keyId(): string | undefined {
    return this.vault?.currentKeyId;
  }

  /** The sealed value of `plain`, as base64 text; a new random IV each time. */
  seal(plain: string): string {
    return this.required().seal(Buffer.from(plain, 'utf8')).toString('base64');
  }

  /** The clear text of a value `seal` made; throws when it was sealed with a key the box does not hold, or altered. */
  open(sealed: string): string {
    return this.required().open(Buffer.from(sealed, 'base64')).toString('utf8');
  }

  private required(): RecordingVault {
    if (!this.vault) throw new Error('no secret key is configured: secrets cannot be sealed or opened');
    return this.vault;
  }
}
