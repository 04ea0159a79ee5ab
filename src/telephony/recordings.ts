/**
 * Call recordings. Which calls: the tenant's policy (`always`, `never`, `on-demand`), which an extension may
 * override; `never` on either side wins, then `always` on either side; `on-demand` calls are recorded when someone
 * starts it on the live call. The media plane records and mixes down (caller left, callee right); this service seals
 * the WAV (AES-256-GCM), files it under the data directory, and writes its row. What a call being recorded is
 * about is also written beside the recordings at once, so a recording the relay kept through a crash is filed at
 * the next start with its tenant and parties.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { extensions, type RecordingPolicy, recordings, tenants } from '../db/schema.ts';
import { PbxError } from '../errors/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import type { FinishedRecording, MediaPlane } from '../media/index.ts';
import type { RecordingVault } from '../media/recording/vault.ts';
import type { Call } from './calls/call.ts';
import type { CallManager } from './calls/call-manager.ts';

export interface Recording {
  id: string;
  tenantId: string;
  callId: string;
  callerNumber: number | null;
  calleeNumber: number | null;
  durationMs: number;
  size: number;
  sha256: string;
  channels: string;
  startedAt: Date;
  endedAt: Date;
  createdAt: Date;
}

interface Pending {
  tenantId: string;
  callId: string;
  callerNumber: number | null;
  calleeNumber: number | null;
}

/** The number columns hold numbers inside the building (up to nine digits); a number outside (E.164) is not kept there. */
function storedNumber(number: string): number | null {
  return /^\d{1,9}$/.test(number) ? Number(number) : null;
}

export const CHANNELS = 'stereo: caller left, callee right';

/** `never` on either side wins, then `always` on either side; otherwise someone has to ask. */
export function effectivePolicy(tenant: RecordingPolicy, caller: RecordingPolicy | null, callee: RecordingPolicy | null): RecordingPolicy {
  const sides = [caller ?? tenant, callee ?? tenant];
  if (sides.includes('never')) return 'never';
  if (sides.includes('always')) return 'always';
  return 'on-demand';
}

export class RecordingService {
  private readonly pending = new Map<string, Pending>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly stored: Array<Promise<void>> = [];

  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
    private readonly plane: MediaPlane,
    private readonly calls: CallManager,
    private readonly vault: RecordingVault,
    private readonly dataDir: string,
    private readonly onError: (err: unknown, context: string) => void,
  ) {}

  /**
   * The recording policy of each tenant and extension, by id, read at its first answered call and kept: the
   * directory's events say when one changes (and an extension's is read again). While the database cannot be read,
   * the policies known decide.
   */
  private readonly policies = new Map<string, RecordingPolicy | null>();
  /** Moves with every change heard: a read that started before one does not keep what it read. */
  private policyVersion = 0;

  private get pendingDir(): string {
    return path.join(this.dataDir, 'recordings', 'pending');
  }

  /** Listens for answered calls and finished recordings, and files what an earlier run left behind. */
  async start(): Promise<void> {
    this.plane.onRecording((r) => {
      const job = this.store(r).catch((err: unknown) => this.onError(err, 'recordings:store'));
      this.stored.push(job);
      void job.finally(() => this.stored.splice(this.stored.indexOf(job), 1));
    });
    const forget = (id: string) => {
      this.policyVersion++;
      this.policies.delete(id);
    };
    this.unsubscribe.push(
      this.bus.on('call.answered', (e) => this.onAnswered(e.tenantId, e.callId)),
      this.bus.on('tenant.recording-policy.changed', (e) => {
        this.policyVersion++;
        this.policies.set(e.tenantId, e.policy);
      }),
      this.bus.on('extension.updated', (e) => forget(e.extensionId)),
      this.bus.on('extension.deleted', (e) => forget(e.extensionId)),
    );
    if (this.plane.unavailableReason === undefined) {
      await this.plane.recoverRecordings((mediaId) => this.calls.activeCalls.some((c) => c.mediaId === mediaId));
    }
  }

  private async onAnswered(tenantId: string, callId: string): Promise<void> {
    if (this.plane.unavailableReason !== undefined) return;
    const call = this.calls.find(callId);
    if (!call?.answered) return;
    const callee = call.answered.party;
    const ids = [call.caller.extensionId, callee.extensionId].filter((id): id is string => id !== undefined);
    // What this call decides by: the policies known, and those read now (kept unless a change came meanwhile).
    const read = new Map<string, RecordingPolicy | null>();
    const unknown = ids.filter((id) => !this.policies.has(id));
    if (!this.policies.has(tenantId) || unknown.length > 0) {
      const version = this.policyVersion;
      try {
        if (!this.policies.has(tenantId)) {
          const [tenant] = await this.db.select({ policy: tenants.recordingPolicy }).from(tenants).where(eq(tenants.id, tenantId));
          read.set(tenantId, tenant?.policy ?? 'on-demand');
        }
        const rows = unknown.length === 0 ? [] : await this.db.select({ id: extensions.id, policy: extensions.recordingPolicy }).from(extensions).where(inArray(extensions.id, unknown));
        for (const id of unknown) read.set(id, rows.find((r) => r.id === id)?.policy ?? null);
        if (version === this.policyVersion) for (const [id, policy] of read) this.policies.set(id, policy);
      } catch (err) {
        // The database is away: the policies known decide, so a call that must be recorded still is.
        if (!this.policies.has(tenantId)) throw err;
      }
    }
    const known = (id: string) => (this.policies.has(id) ? this.policies.get(id) : read.get(id)) ?? null;
    // A party outside (through a trunk) has no extension, hence no policy of its own.
    const policyOf = (id: string | undefined) => (id === undefined ? null : known(id));
    if (effectivePolicy(known(tenantId) ?? 'on-demand', policyOf(call.caller.extensionId), policyOf(callee.extensionId)) !== 'always') return;
    await this.startOn(tenantId, callId);
  }

  /** An answered call of the tenant; another tenant's call is as unknown as none. */
  private liveCall(tenantId: string, callId: string): Call & { answered: NonNullable<Call['answered']> } {
    const call = this.calls.find(callId);
    if (!call?.answered || call.tenantId !== tenantId) throw new PbxError('PBX_ERR_NOT_FOUND', 'Call session not found');
    return call as Call & { answered: NonNullable<Call['answered']> };
  }

  /** Starts (or resumes) recording a live call of the tenant. */
  async startOn(tenantId: string, callId: string): Promise<void> {
    const call = this.liveCall(tenantId, callId);
    const entry: Pending = { tenantId, callId, callerNumber: storedNumber(call.caller.number), calleeNumber: storedNumber(call.answered.party.number) };
    this.pending.set(call.mediaId, entry);
    fs.mkdirSync(this.pendingDir, { recursive: true });
    fs.writeFileSync(path.join(this.pendingDir, `${call.mediaId}.json`), JSON.stringify(entry));
    // The caller's side in the relay: a click-to-call's first party is tagged by its leg, not as an inbound caller.
    await this.plane.startRecording(call.mediaId, [call.bridge.callerTag, call.answered.id]);
  }

  async stopOn(tenantId: string, callId: string): Promise<void> {
    await this.plane.stopRecording(this.liveCall(tenantId, callId).mediaId);
  }

  /** A finished recording: sealed, filed, and its row written; then the relay's files may go. */
  private async store(finished: FinishedRecording): Promise<void> {
    const pendingFile = path.join(this.pendingDir, `${finished.callId}.json`);
    let pending = this.pending.get(finished.callId);
    if (!pending) {
      try {
        pending = JSON.parse(fs.readFileSync(pendingFile, 'utf8')) as Pending;
      } catch {
        this.onError(new Error(`a recording of ${finished.callId} has no call it belongs to; it is dropped`), 'recordings:store');
        return;
      }
    }
    this.pending.delete(finished.callId);
    const { mixdown } = finished;
    const sealed = this.vault.seal(mixdown.wav);
    const day = new Date(mixdown.startedAt || Date.now()).toISOString().slice(0, 10);
    const relative = path.join('recordings', pending.tenantId, day, `${pending.callId}.wav.sealed`);
    const file = path.join(this.dataDir, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, sealed, { mode: 0o600 });
    await this.db.insert(recordings).values({
      tenantId: pending.tenantId,
      callId: pending.callId,
      callerNumber: pending.callerNumber,
      calleeNumber: pending.calleeNumber,
      path: relative,
      durationMs: mixdown.durationMs,
      size: sealed.length,
      sha256: createHash('sha256').update(mixdown.wav).digest('hex'),
      keyId: this.vault.currentKeyId,
      channels: CHANNELS,
      startedAt: new Date(mixdown.startedAt || Date.now()),
      endedAt: new Date(mixdown.endedAt || Date.now()),
    });
    fs.rmSync(pendingFile, { force: true });
    this.bus.emit('recording.ready', { tenantId: pending.tenantId, callId: pending.callId, durationMs: mixdown.durationMs });
  }

  async list(tenantId: string, filter: { callId?: string; limit: number; offset: number }): Promise<Recording[]> {
    const where = filter.callId ? and(eq(recordings.tenantId, tenantId), eq(recordings.callId, filter.callId)) : eq(recordings.tenantId, tenantId);
    const rows = await this.db.select().from(recordings).where(where).orderBy(desc(recordings.startedAt)).limit(filter.limit).offset(filter.offset);
    return rows.map(({ path: _path, keyId: _keyId, ...r }) => r);
  }

  async get(tenantId: string, id: string): Promise<Recording & { path: string }> {
    const [row] = await this.db.select().from(recordings).where(and(eq(recordings.tenantId, tenantId), eq(recordings.id, id)));
    if (!row) throw new PbxError('PBX_ERR_NOT_FOUND', 'Recording not found');
    const { keyId: _keyId, ...rest } = row;
    return rest;
  }

  /** The WAV, decrypted, checked against the hash it was filed with. */
  async audio(tenantId: string, id: string): Promise<Buffer> {
    const row = await this.get(tenantId, id);
    const wav = this.vault.open(fs.readFileSync(path.join(this.dataDir, row.path)));
    if (createHash('sha256').update(wav).digest('hex') !== row.sha256) throw new Error(`recording ${id} does not match its hash`);
    return wav;
  }

  /** Waits for recordings being filed (shutdown). */
  async close(): Promise<void> {
    for (const off of this.unsubscribe) off();
    await Promise.allSettled([...this.stored]);
  }
}

