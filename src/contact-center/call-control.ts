/**
 * Call control as agents and managers use it (seeds 000 and 001): hang up, hold, mute, and answer by asking the
 * agent's browser softphone to do it. Every action names the call (its id or its session's), and is checked
 * against who asks: an agent acts only on calls it is a party to, staff on every call of their tenant (on the
 * agent's side of it). The engine's errors become the catalogue's.
 */
import { PbxError } from '../errors/index.ts';
import type { PbxEventBus } from '../events/index.ts';
import { MediaUnavailableError } from '../media/index.ts';
import { type Call, type CallManager, type CallSide, type CallState, CallStateError } from '../telephony/index.ts';
import type { AgentService } from './agents.ts';
import type { CallSessionService } from './call-sessions.ts';
import type { QueueTelephony } from './queues/index.ts';

/** Seconds a number outside rings for a transfer or a consultation before it is given up. */
const OUTSIDE_RING_SECONDS = 60;

/** Who asks: an agent (its extension) or staff of the tenant. */
export interface CallActor {
  tenantId: string;
  extensionId: string | undefined;
  staff: boolean;
}

/**
 * The agent's browser softphones, as a door that reaches them (the live API) asks them to answer a call ringing
 * them: answers whether any was there to ask. Given to the contact center when the server is wired.
 */
export interface SoftphoneAnswerer {
  requestAnswer(request: { tenantId: string; extensionId: string; callId: string; callSessionId: string | null }): boolean;
}

export interface CallControlState {
  callId: string;
  sessionId: string | undefined;
  state: CallState;
  /** The side the action was taken for. */
  side: CallSide;
  held: boolean;
  muted: boolean;
  /** An attended transfer's consultation in progress: the target's number, and whether it answered. */
  consultation: { target: string; answered: boolean } | null;
}

export class CallControl {
  constructor(
    private readonly calls: Pick<CallManager, 'find' | 'contactsOf' | 'originate' | 'activeCalls' | 'transferToRouter' | 'planOut' | 'outsideTarget'>,
    private readonly sessions: CallSessionService,
    private readonly agents: AgentService,
    private readonly bus: PbxEventBus,
    private readonly findExtension: QueueTelephony['findExtension'],
    private readonly isQueueNumber: (tenantId: string, number: number) => boolean,
    /** Without one, no call can be answered from afar. */
    private readonly softphones?: SoftphoneAnswerer,
  ) {}

  /**
   * The call in progress named by `id` (call or session id), and the side `actor` acts for. A call that ended is
   * a 409, one that never existed (or is not the agent's) a 404: an agent learns nothing of others' calls.
   */
  private async resolve(actor: CallActor, id: string): Promise<{ call: Call; side: CallSide }> {
    const callId = this.sessions.liveSession(actor.tenantId, id)?.callId ?? id;
    const call = this.calls.find(callId);
    if (!call || call.tenantId !== actor.tenantId) {
      // Known but over (its session is stored): say so, to whoever may see it.
      const session = await this.sessions.get(actor.tenantId, id);
      if (actor.staff || session.extensionId === actor.extensionId) throw new PbxError('PBX_ERR_CALL_STATE', 'The call has ended');
      throw new PbxError('PBX_ERR_CALL_NOT_FOUND');
    }
    const own = actor.extensionId === undefined ? undefined : call.sideOf(actor.extensionId);
    if (own) return { call, side: own };
    if (!actor.staff) throw new PbxError('PBX_ERR_CALL_NOT_FOUND');
    // Staff act for the agent of the call: the side answered by an agent, else the caller if it is one.
    const isAgent = (extensionId: string | undefined) => extensionId !== undefined && this.agents.find(extensionId) !== undefined;
    const side: CallSide = isAgent(call.callee?.extensionId) || !isAgent(call.caller.extensionId) ? 'callee' : 'caller';
    return { call, side };
  }

  private state(call: Call, side: CallSide): CallControlState {
    return {
      callId: call.id,
      sessionId: this.sessions.ofCall(call.id)?.id,
      state: call.state,
      side,
      held: call.isHolding(side),
      muted: call.isMuted(side),
      consultation: call.consulting ? { target: call.consulting.target.number, answered: call.consulting.answered } : null,
    };
  }

  /**
   * Click-to-call (seeds 000 and 001 `dial`): the agent's own devices ring first; once the agent answers, it hears
   * ringback while `phoneNumber` (an extension, or a queue's number, where it hears the queue's music) is rung, and
   * the two are bridged. Answers at once with the call's ids; what follows is told by events. An agent already on a
   * call gets 400 "Agent is already on a call".
   */
  async dial(actor: CallActor, phoneNumber: string, contactId: string | undefined): Promise<CallControlState> {
    const agentId = actor.extensionId;
    if (agentId === undefined) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    const onCall = this.calls.activeCalls.some((c) => c.involves(agentId));
    if (onCall) throw new PbxError('PBX_ERR_AGENT_ON_CALL');
    const number = phoneNumber.trim().replace(/[\s().-]/g, '');
    if (!/^\+?[0-9*#]{1,32}$/.test(number)) throw new PbxError('PBX_ERR_VALIDATION', 'phoneNumber must be an extension, a queue or a telephone number (digits, with a leading + for E.164)');
    const profile = this.agents.find(agentId);
    const self = profile && (await this.findExtension(actor.tenantId, profile.number));
    if (!self || self.extensionId !== agentId) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND');
    if (self.number === Number(number)) throw new PbxError('PBX_ERR_VALIDATION', 'An agent cannot dial its own extension');
    const agentContacts = await this.calls.contactsOf(agentId);
    if (agentContacts.length === 0) throw new PbxError('PBX_ERR_AGENT_NOT_REGISTERED');
    const internal = /^\d{1,9}$/.test(number);
    const ext = internal ? await this.findExtension(actor.tenantId, Number(number)) : undefined;
    let callee: Parameters<CallManager['originate']>[4];
    if (ext?.isActive) {
      const contacts = await this.calls.contactsOf(ext.extensionId);
      if (contacts.length === 0) throw new PbxError('PBX_ERR_TARGET_UNAVAILABLE');
      callee = { target: { party: { extensionId: ext.extensionId, number: String(ext.number) }, contacts }, ringTimeout: ext.ringTimeout };
    } else if (internal && this.isQueueNumber(actor.tenantId, Number(number))) {
      callee = 'router';
    } else {
      // A number outside: the tenant's outbound routes and the agent's dial policy decide.
      const plan = await this.calls.planOut(actor.tenantId, agentId, number);
      if (!plan) throw new PbxError('PBX_ERR_NUMBER_NOT_FOUND');
      if (!plan.ok) throw new PbxError(plan.code, plan.message, plan.numberClass ? { details: { class: plan.numberClass } } : undefined);
      callee = { outside: plan };
    }
    const caller = { party: { extensionId: agentId, number: String(self.number) }, contacts: agentContacts };
    let call!: Call;
    await this.engine(async () => {
      call = await this.calls.originate(actor.tenantId, caller, self.ringTimeout, number, callee);
    });
    if (contactId !== undefined) this.sessions.attachContact(call.id, contactId);
    return this.state(call, 'caller');
  }

  /** Ends the call for both sides (a ringing call too: its caller hears 480). */
  async hangup(actor: CallActor, id: string): Promise<CallControlState> {
    const { call, side } = await this.resolve(actor, id);
    call.hangUpAll('hangup');
    return this.state(call, side);
  }

  /** Puts the other party on hold (it hears music, the hold time counts), or resumes; without `held`, toggles. */
  async hold(actor: CallActor, id: string, held: boolean | undefined): Promise<CallControlState> {
    const { call, side } = await this.resolve(actor, id);
    await this.engine(() => call.holdFrom(side, held ?? !call.isHolding(side)));
    return this.state(call, side);
  }

  /** The other party stops hearing the agent (who still hears it), or hears it again. */
  async mute(actor: CallActor, id: string, muted: boolean): Promise<CallControlState> {
    const { call, side } = await this.resolve(actor, id);
    const before = call.isMuted(side);
    await this.engine(() => call.mute(side, muted));
    if (before !== muted) this.bus.emit('call.muted', { tenantId: call.tenantId, callId: call.id, side, muted });
    return this.state(call, side);
  }

  /**
   * Transfers the other party (the caller) to `target`, an extension of the tenant. Blind: the agent is let go at
   * once (wrap-up for a queue call) and the target rings for its ring timeout; if it does not answer, the caller is
   * hung up. Attended: the caller holds (music) while the target is rung for the agent; once it answers the two
   * talk, and {@link completeTransfer} or {@link cancelTransfer} ends the consultation. A queue's number takes the
   * caller blind: it waits in the queue again, hearing music, until a member answers (needs the relay).
   */
  async transfer(actor: CallActor, id: string, target: string, type: 'blind' | 'attended'): Promise<CallControlState> {
    const { call, side } = await this.resolve(actor, id);
    if (side !== 'callee') throw new PbxError('PBX_ERR_CALL_STATE', 'Only the party who answered a call can transfer its caller');
    const number = /^\d{1,9}$/.test(target) ? Number(target) : undefined;
    const ext = number === undefined ? undefined : await this.findExtension(actor.tenantId, number);
    if ((!ext || !ext.isActive) && (number === undefined || !this.isQueueNumber(actor.tenantId, number))) {
      // A phone number outside (seed 001: "Extension or phone number"), through the tenant's routes and the agent's policy.
      const out = await this.calls.outsideTarget(call, actor.extensionId, target.replace(/[\s().-]/g, ''));
      if (!out) throw new PbxError('PBX_ERR_TRANSFER_TARGET_NOT_FOUND');
      // No route takes it: as for any target that does not exist, the transfer's own code.
      if (!out.ok && out.code === 'PBX_ERR_NUMBER_NOT_FOUND') throw new PbxError('PBX_ERR_TRANSFER_TARGET_NOT_FOUND', out.message);
      if (!out.ok) throw new PbxError(out.code, out.message, out.numberClass ? { details: { class: out.numberClass } } : undefined);
      await this.engine(async () => {
        const ringing = type === 'attended' ? call.consult(out.target, OUTSIDE_RING_SECONDS) : call.transferCaller(out.target, OUTSIDE_RING_SECONDS);
        void ringing.catch(() => undefined);
      });
      return this.state(call, side);
    }
    if (!ext || !ext.isActive) {
      if (number === undefined) throw new PbxError('PBX_ERR_TRANSFER_TARGET_NOT_FOUND');
      if (type === 'attended') throw new PbxError('PBX_ERR_NOT_SUPPORTED', 'A queue cannot be consulted: transfer to it blind');
      await this.engine(async () => {
        if (!(await this.calls.transferToRouter(call, number))) throw new PbxError('PBX_ERR_TRANSFER_TARGET_NOT_FOUND');
      });
      return this.state(call, side);
    }
    if (ext.extensionId === call.callee?.extensionId || ext.extensionId === call.caller.extensionId) throw new PbxError('PBX_ERR_CALL_STATE', 'The target is already on this call');
    const contacts = await this.calls.contactsOf(ext.extensionId);
    if (contacts.length === 0) throw new PbxError('PBX_ERR_TARGET_UNAVAILABLE');
    const ringTarget = { party: { extensionId: ext.extensionId, number: String(ext.number) }, contacts };
    await this.engine(async () => {
      // The ringing goes on after the answer: its outcome is told by events (call.transferred or call.consulted, or
      // the call's or the consultation's end).
      const ringing = type === 'attended' ? call.consult(ringTarget, ext.ringTimeout) : call.transferCaller(ringTarget, ext.ringTimeout);
      void ringing.catch(() => undefined);
    });
    return this.state(call, side);
  }

  /** Completes an attended transfer: the caller talks with the target, and the agent is let go. */
  async completeTransfer(actor: CallActor, id: string): Promise<CallControlState> {
    const { call, side } = await this.resolve(actor, id);
    await this.engine(async () => call.completeConsultation());
    return this.state(call, side);
  }

  /** Cancels an attended transfer: the target is let go, and the caller is back with the agent. */
  async cancelTransfer(actor: CallActor, id: string): Promise<CallControlState> {
    const { call, side } = await this.resolve(actor, id);
    await this.engine(async () => call.cancelConsultation());
    return this.state(call, side);
  }

  /**
   * Asks the agent's browser softphone to answer the call ringing it. A phone cannot be answered from afar: only a
   * call ringing the agent over WebSocket, with the agent's softphone connected to the gateway, can be.
   */
  async answer(actor: CallActor, id: string): Promise<CallControlState> {
    const callId = this.sessions.liveSession(actor.tenantId, id)?.callId ?? id;
    const call = this.calls.find(callId);
    if (!call || call.tenantId !== actor.tenantId || actor.extensionId === undefined) throw new PbxError('PBX_ERR_CALL_NOT_FOUND');
    const devices = call.ringingDevices(actor.extensionId);
    if (devices.browsers + devices.phones === 0) {
      if (call.sideOf(actor.extensionId)) throw new PbxError('PBX_ERR_CALL_STATE', 'The call is not ringing you');
      throw new PbxError('PBX_ERR_CALL_NOT_FOUND');
    }
    if (devices.browsers === 0) throw new PbxError('PBX_ERR_NOT_REMOTELY_ANSWERABLE', 'The call rings a SIP phone, which cannot be answered remotely: answer it on the phone');
    const callSessionId = this.sessions.ofCall(call.id)?.id ?? null;
    if (!this.softphones?.requestAnswer({ tenantId: actor.tenantId, extensionId: actor.extensionId, callId: call.id, callSessionId })) {
      throw new PbxError('PBX_ERR_NOT_REMOTELY_ANSWERABLE', 'No softphone of yours is connected to the live API to answer it');
    }
    return this.state(call, 'callee');
  }

  private async engine(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (err) {
      if (err instanceof CallStateError) throw new PbxError('PBX_ERR_CALL_STATE', err.message);
      if (err instanceof MediaUnavailableError) throw new PbxError('PBX_ERR_MEDIA_UNAVAILABLE', err.message);
      throw err;
    }
  }
}
