/**
 * Every event the domain publishes, by name. Each payload carries `tenantId`: no listener ever needs to guess
 * which tenant an event belongs to, and the realtime gateway routes by it.
 */
import type { AgentStatus } from '../db/schema.ts';

export interface TenantEvent {
  tenantId: string;
}

export interface RegistrationEvent {
  extensionId: string;
  number: number;
  contact: string;
  transport: string;
  source: string;
  expiresAt: Date;
}

/** A call in progress as the contact center shows it: its session as it stands. */
export interface CallView {
  callId: string;
  sessionId: string;
  /** The session's status (INITIATED, RINGING, QUEUED, CONNECTED, ON_HOLD, TRANSFERRING, or how it ended). */
  status: string;
  direction: string;
  from: string;
  to: string;
  queueId: string | null;
  /** The agent's extension: who answered, or who was offered the call first. */
  agentId: string | null;
}

/** What happened to a trunk, a phone number or an outbound route. */
export type CarrierChange = 'created' | 'updated' | 'deleted';

export interface DomainEvents {
  'tenant.created': TenantEvent & { name: string; domain: string };
  /** The tenant's call limits changed: the engine reads them again. */
  'tenant.call-limits.changed': TenantEvent & { maxCallSeconds: number };
  'tenant.recording-policy.changed': TenantEvent & { policy: 'always' | 'on-demand' | 'never' };
  /** A trunk was created, changed or deleted: the carriers' cache reads the tenant's trunks again. */
  'trunk.changed': TenantEvent & { trunkId: string; change: CarrierChange };
  /** A phone number (DID) was created, changed or deleted. */
  'phone-number.changed': TenantEvent & { phoneNumberId: string; number: string; change: CarrierChange };
  /** An outbound route was created, changed or deleted. */
  'outbound-route.changed': TenantEvent & { routeId: string; change: CarrierChange };
  'user.created': TenantEvent & { userId: string; role: string };
  'user.updated': TenantEvent & { userId: string };
  'user.deleted': TenantEvent & { userId: string };
  'extension.created': TenantEvent & { extensionId: string; userId: string; number: number };
  /** The extension's digest credentials changed: registrations made with the old secret must go. */
  'extension.credentials.changed': TenantEvent & { extensionId: string; number: number };
  'extension.updated': TenantEvent & { extensionId: string; number: number };
  'extension.deleted': TenantEvent & { extensionId: string; number: number };
  'registration.added': TenantEvent & RegistrationEvent;
  'registration.removed': TenantEvent & RegistrationEvent & { reason: 'unregistered' | 'expired' | 'replaced' | 'flow-closed' | 'credentials-changed' };
  /** A call was placed: `routed` when the number was a queue's (the contact center rings it round after round). */
  /** A call began: an extension's INVITE, or a click-to-call (`originated`: the caller's own devices ring first). */
  'call.created': TenantEvent & {
    callId: string;
    from: string;
    to: string;
    callerExtensionId: string | undefined;
    calleeExtensionId: string | undefined;
    routed: boolean;
    originated: boolean;
    /** A call from or to the telephone network: its trunk (once known), the number outside, the DID, the caller ID presented. */
    carrier: { direction: 'inbound' | 'outbound'; trunkId: string | undefined; externalNumber: string; did: string | null; callerId: string | null } | null;
  };
  /** A call out goes through this trunk now (the first tried, or the next one after a failure). */
  'call.trunk': TenantEvent & { callId: string; trunkId: string; direction: 'inbound' | 'outbound' };
  'leg.ringing': TenantEvent & { callId: string; legId: string; extensionId: string | undefined; contact: string };
  'leg.answered': TenantEvent & { callId: string; legId: string; extensionId: string | undefined; contact: string };
  'call.answered': TenantEvent & { callId: string; from: string; to: string; callerExtensionId: string | undefined; calleeExtensionId: string | undefined };
  /** A side of an answered call holds the other (its phone sent sendonly or inactive), or resumes. */
  'call.hold': TenantEvent & { callId: string; side: 'caller' | 'callee'; held: boolean };
  /** A side of an answered call was muted or unmuted from the API (the other side stops or resumes hearing it). */
  'call.muted': TenantEvent & { callId: string; side: 'caller' | 'callee'; muted: boolean };
  /** A DTMF digit pressed by a side of an answered call: RFC 4733 telephone-events seen by the relay, or SIP INFO. */
  'call.dtmf': TenantEvent & { callId: string; side: 'caller' | 'callee'; digit: string; via: 'rfc4733' | 'info' };
  /**
   * The agent `fromExtensionId` let go of the caller for `toExtensionId`: a blind transfer (the target is rung now), or
   * an `attended` one being completed (the target was consulted first). A transfer to a queue's number `to` has no
   * `toExtensionId`: the caller waits in the queue again.
   */
  'call.transferring': TenantEvent & { callId: string; fromExtensionId: string | undefined; toExtensionId: string | undefined; to: string; attended: boolean };
  /** An attended transfer's consultation began: `toExtensionId` is rung for the agent while the caller holds. */
  'call.consulting': TenantEvent & { callId: string; fromExtensionId: string | undefined; from: string; toExtensionId: string | undefined; to: string };
  /** The consultation's target answered: it talks with the agent, the caller still holds. */
  'call.consulted': TenantEvent & { callId: string; fromExtensionId: string | undefined; toExtensionId: string | undefined; to: string };
  /** The consultation ended without a transfer (cancelled by the agent, or the target did not answer or hung up). */
  'call.consultation.ended': TenantEvent & { callId: string; fromExtensionId: string | undefined; toExtensionId: string | undefined; to: string; outcome: 'cancelled' | 'failed' };
  /** The transfer's target answered: it talks with the caller now. */
  'call.transferred': TenantEvent & { callId: string; fromExtensionId: string | undefined; toExtensionId: string | undefined; to: string };
  /** A call's recording was sealed and filed. */
  'recording.ready': TenantEvent & { callId: string; durationMs: number };
  'call.ended': TenantEvent & {
    callId: string;
    cause: string;
    answered: boolean;
    callerExtensionId: string | undefined;
    /** The extension that answered, if one did. */
    calleeExtensionId: string | undefined;
    /** Milliseconds: from creation to answer (or end), of conversation, and in all. */
    durations: { ringing: number; talk: number; total: number };
  };
  /** An agent's state changed (the contact center's agents; every change is also an activity-log row). */
  'agent.status.changed': TenantEvent & {
    extensionId: string;
    userId: string;
    number: number;
    from: AgentStatus;
    to: AgentStatus;
    reason: string | null;
    callId: string | null;
    at: Date;
  };
  /** A queue's live figures changed: callers waiting, agents logged in and free, the longest wait (seconds). */
  'queue.updated': TenantEvent & { queueId: string; waiting: number; agents: number; available: number; longestWait: number };
  /** A caller entered a queue (it waits there, hearing ringback). */
  'queue.entered': TenantEvent & { callId: string; queueId: string; priority: number };
  /** A waiting caller is offered to these agents (their devices ring). */
  'queue.offered': TenantEvent & { callId: string; queueId: string; extensionIds: string[] };
  /** An agent answered a queue caller after `wait` seconds. */
  'queue.connected': TenantEvent & { callId: string; queueId: string; extensionId: string; wait: number };
  /** A queue event in app_queue's words (ENTERQUEUE, CONNECT, ABANDON...), as stored. */
  'queue.event': TenantEvent & { queueId: string; callId: string | null; extensionId: string | null; event: string; data: Record<string, unknown> };
  /** A call session row changed (created, queued, offered, connected, held, ended, notes). */
  'session.updated': TenantEvent & { sessionId: string; callId: string; status: string; extensionId: string | null; queueId: string | null };
  /*
   * The contact center's live view of calls in progress (src/contact-center/live-calls.ts). Each names the
   * extensions concerned, so a door tells them without keeping calls of its own or listening to the engine.
   */
  /**
   * A call rings these agents: a direct call's callee (once per call), a queue's offer (every round), a transfer's
   * or a consultation's target. `from` and `to` are what the agent's screen shows: for a consultation, the
   * consulting agent's number and the target's, with the caller it is about in `consultation.caller`.
   */
  'cc.call.offered': TenantEvent & {
    callId: string;
    sessionId: string;
    extensionIds: string[];
    from: string;
    to: string;
    queueId: string | null;
    /** The contact (a CRM record) a click-to-call is about. */
    contactId: string | null;
    consultation: { caller: string } | null;
  };
  /**
   * A call's session changed (status, queue, agent), or a side was muted from the API (`muted`). `extensionIds`:
   * the call's parties and the session's agent.
   */
  'cc.call.changed': TenantEvent & CallView & { extensionIds: string[]; muted?: { side: 'caller' | 'callee'; muted: boolean } };
  /** A call ended: its session's final status, its talk time, the disposition if one is set already. */
  'cc.call.ended': TenantEvent & {
    callId: string;
    sessionId: string;
    status: string;
    cause: string;
    talkSeconds: number;
    disposition: string | null;
    extensionIds: string[];
  };
}
