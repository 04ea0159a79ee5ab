/**
 * Recordings at rest: AES-256-GCM with a 256-bit key from configuration. A file is `SBREC1`, the key id (the first
 * 8 bytes of the key's SHA-256), a 12-byte random IV, the 16-byte tag, then the ciphertext. The key id lets older
 * files be read after the key is rotated (the old key kept for reading, the new one for writing).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const MAGIC = Buffer.from('SBREC1');

export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export class RecordingVault {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  /** `current` encrypts; `current` and `older` decrypt. */
  constructor(
    private readonly current: Buffer,
    older: Buffer[] = [],
  ) {
    for (const key of [current, ...older]) {
      if (key.length !== 32) throw new Error('a recording key must be 32 bytes');
      this.keys.set(keyId(key), key);
    }
    this.currentKeyId = keyId(current);
  }

  seal(plain: Buffer): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current, iv);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([MAGIC, Buffer.from(this.currentKeyId, 'hex'), iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Buffer): Buffer {
    if (sealed.length < 42 || !sealed.subarray(0, 6).equals(MAGIC)) throw new Error('not a sealed recording');
    const id = sealed.subarray(6, 14).toString('hex');
    const key = this.keys.get(id);
    if (!key) throw new Error(`the recording was sealed with key ${id}, which is not configured (PBX_RECORDING_OLD_KEYS)`);
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(14, 26));
    decipher.setAuthTag(sealed.subarray(26, 42));
    return Buffer.concat([decipher.update(sealed.subarray(42)), decipher.final()]);
  }
}
