/**
 * Who is on the phone: each extension's dialogs, in the states of the dialog event package (RFC 4235 section 3.7.1),
 * kept from the engine's own call events. A busy-lamp key or an attendant's console watches them through a
 * SUBSCRIBE (see dialog-subscriptions.ts). An extension has a dialog in a call when it placed it (`initiator`) or
 * when one of its devices is rung for it (`recipient`: a direct call, a transfer, a consultation, a routed call's
 * round).
 *
 *   trying ──(a device rings for the call)──> early ──(a device answers)──> confirmed
 *   trying, early, confirmed ──(the call ends, or the extension leaves it)──> terminated   told once, then forgotten
 *
 * A recipient's early dialog ends when none of its devices rings for the call any more (another extension
 * answered, the round of ringing was over); that is seen at the call's next event, as the engine tells no event of a
 * ringing device that stopped.
 */
import type { PbxEventBus } from '../events/index.ts';
import type { CallManager } from './calls/call-manager.ts';

export type DialogState = 'trying' | 'early' | 'confirmed' | 'terminated';

/** rfc4235#section-4.1.1: why a dialog ended, as its `state` element's `event` attribute says. */
export type DialogEndEvent = 'cancelled' | 'rejected' | 'replaced' | 'local-bye' | 'remote-bye' | 'error' | 'timeout';

export interface ExtensionDialog {
  /** Unique among the extension's dialogs: the call and the extension's side of it. */
  id: string;
  callId: string;
  direction: 'initiator' | 'recipient';
  state: DialogState;
  event: DialogEndEvent | undefined;
  /** The extension's own number, and the number of the party it talks or rings with. */
  local: string;
  remote: string;
  /** Milliseconds since the epoch when the dialog began. */
  since: number;
}

/**
 * An extension's dialogs changed: `dialogs()` answers them, those that just ended too (state `terminated`), this
 * once. It is computed only when asked, so that a change nobody watches costs next to nothing.
 */
export type DialogsListener = (change: { tenantId: string; extensionId: string; dialogs(): ExtensionDialog[] }) => void;

interface CallRecord {
  tenantId: string;
  /** extensionId → its dialog in this call. */
  dialogs: Map<string, ExtensionDialog>;
}

export class ExtensionDialogs {
  private readonly calls = new Map<string, CallRecord>();
  /** extensionId → the calls it has a dialog in. */
  private readonly byExtension = new Map<string, Set<string>>();
  private readonly listeners = new Set<DialogsListener>();
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    bus: PbxEventBus,
    private readonly manager: Pick<CallManager, 'find'>,
  ) {
    this.unsubscribe.push(
      bus.on('call.created', (e) => {
        const record = this.record(e.tenantId, e.callId);
        // A click-to-call rings its caller's devices first: the caller is then rung like a recipient.
        if (!e.originated && e.callerExtensionId !== undefined) this.open(record, e.callId, e.callerExtensionId, 'initiator', 'trying', e.from, e.to);
        this.changed(record, e.callId);
      }),
      bus.on('leg.ringing', (e) => {
        const record = this.record(e.tenantId, e.callId);
        for (const d of record.dialogs.values()) if (d.direction === 'initiator' && d.state === 'trying') d.state = 'early';
        if (e.extensionId !== undefined && !record.dialogs.has(e.extensionId)) this.openRecipient(record, e.callId, e.extensionId, 'early');
        this.changed(record, e.callId);
      }),
      bus.on('leg.answered', (e) => {
        const record = this.record(e.tenantId, e.callId);
        // A party outside (a trunk's) has no extension whose dialogs anyone watches.
        const answered = e.extensionId === undefined ? undefined : (record.dialogs.get(e.extensionId) ?? this.openRecipient(record, e.callId, e.extensionId, 'confirmed'));
        if (answered) answered.state = 'confirmed';
        for (const d of record.dialogs.values()) if (d.direction === 'initiator' && d.state !== 'terminated') d.state = 'confirmed';
        this.changed(record, e.callId);
      }),
      bus.on('call.answered', (e) => this.changed(this.record(e.tenantId, e.callId), e.callId)),
      // The party who answered lets the caller go (blind), or hands it over (attended): its dialog ends.
      bus.on('call.transferring', (e) => {
        const record = this.record(e.tenantId, e.callId);
        if (!e.attended) this.end(record, e.fromExtensionId, 'replaced');
        this.changed(record, e.callId);
      }),
      bus.on('call.transferred', (e) => {
        const record = this.record(e.tenantId, e.callId);
        this.end(record, e.fromExtensionId, 'replaced');
        this.changed(record, e.callId);
      }),
      bus.on('call.consultation.ended', (e) => {
        const record = this.record(e.tenantId, e.callId);
        this.end(record, e.toExtensionId, e.outcome === 'cancelled' ? 'cancelled' : 'rejected');
        this.changed(record, e.callId);
      }),
      bus.on('call.ended', (e) => {
        const record = this.record(e.tenantId, e.callId);
        for (const [extensionId, d] of record.dialogs) this.end(record, extensionId, endEvent(d, e.cause));
        this.changed(record, e.callId);
        this.calls.delete(e.callId);
      }),
    );
  }

  /** Listens to every change of any extension's dialogs; answers the function that stops it. */
  onChange(listener: DialogsListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The dialogs an extension is in now (none terminated). */
  dialogsOf(extensionId: string): ExtensionDialog[] {
    const out: ExtensionDialog[] = [];
    for (const callId of this.byExtension.get(extensionId) ?? []) {
      const d = this.calls.get(callId)?.dialogs.get(extensionId);
      if (d && d.state !== 'terminated') out.push({ ...d });
    }
    return out.sort((a, b) => a.since - b.since);
  }

  close(): void {
    for (const off of this.unsubscribe) off();
    this.listeners.clear();
    this.calls.clear();
    this.byExtension.clear();
  }

  /** The call's record; one is kept only for a call in progress, so a late event of an ended call leaves nothing. */
  private record(tenantId: string, callId: string): CallRecord {
    let record = this.calls.get(callId);
    if (!record) {
      record = { tenantId, dialogs: new Map() };
      if (this.manager.find(callId)) this.calls.set(callId, record);
    }
    return record;
  }

  private open(record: CallRecord, callId: string, extensionId: string, direction: ExtensionDialog['direction'], state: DialogState, local: string, remote: string): ExtensionDialog {
    const dialog: ExtensionDialog = { id: `${callId}-${direction === 'initiator' ? 'i' : 'r'}`, callId, direction, state, event: undefined, local, remote, since: Date.now() };
    record.dialogs.set(extensionId, dialog);
    let calls = this.byExtension.get(extensionId);
    if (!calls) this.byExtension.set(extensionId, (calls = new Set()));
    calls.add(callId);
    return dialog;
  }

  /** A device of `extensionId` is rung for the call: the extension's number and the other party's from the call. */
  private openRecipient(record: CallRecord, callId: string, extensionId: string, state: DialogState): ExtensionDialog {
    const call = this.manager.find(callId);
    const party = call?.legs.find((l) => l.party.extensionId === extensionId)?.party;
    const remote = !call ? '' : call.caller.extensionId === extensionId ? call.dialed : call.caller.number;
    return this.open(record, callId, extensionId, 'recipient', state, party?.number ?? '', remote);
  }

  private end(record: CallRecord, extensionId: string | undefined, event: DialogEndEvent | undefined): void {
    const d = extensionId === undefined ? undefined : record.dialogs.get(extensionId);
    if (!d || d.state === 'terminated') return;
    d.state = 'terminated';
    d.event = event;
  }

  /**
   * After an event of a call: early dialogs of recipients none of whose devices still rings end; then each
   * extension whose dialog changed is told, and dialogs that ended are forgotten.
   */
  private changed(record: CallRecord, callId: string): void {
    const call = this.manager.find(callId);
    if (call) {
      for (const [extensionId, d] of record.dialogs) {
        if (d.direction !== 'recipient' || (d.state !== 'early' && d.state !== 'trying')) continue;
        if (!call.legs.some((l) => l.party.extensionId === extensionId && l.live)) this.end(record, extensionId, 'cancelled');
      }
    }
    for (const [extensionId, d] of [...record.dialogs]) {
      if (!this.moved(d)) continue;
      const ended = d.state === 'terminated' ? { ...d } : undefined;
      if (ended) this.forget(record, ended.callId, extensionId);
      const dialogs = () => [...this.dialogsOf(extensionId), ...(ended ? [ended] : [])];
      for (const listener of this.listeners) {
        try {
          listener({ tenantId: record.tenantId, extensionId, dialogs });
        } catch {
          // a listener's failure is its own
        }
      }
    }
  }

  private forget(record: CallRecord, callId: string, extensionId: string): void {
    record.dialogs.delete(extensionId);
    const calls = this.byExtension.get(extensionId);
    calls?.delete(callId);
    if (calls?.size === 0) this.byExtension.delete(extensionId);
  }

  /** Whether a dialog's state differs from what was last told of it. */
  private moved(d: ExtensionDialog): boolean {
    const told = lastTold.get(d);
    lastTold.set(d, d.state);
    return told !== d.state;
  }
}

/** The state each dialog had when its extension was last told. */
const lastTold = new WeakMap<ExtensionDialog, DialogState>();

/** How a call's end reads from one side (rfc4235#section-4.1.1): who hung up, or that it never got through. */
function endEvent(d: ExtensionDialog, cause: string): DialogEndEvent | undefined {
  if (d.state === 'confirmed') {
    if (cause === 'caller-hangup') return d.direction === 'initiator' ? 'local-bye' : 'remote-bye';
    if (cause === 'callee-hangup') return d.direction === 'initiator' ? 'remote-bye' : 'local-bye';
    return undefined;
  }
  if (cause === 'cancelled') return 'cancelled';
  return d.direction === 'initiator' ? 'rejected' : 'cancelled';
}
