/**
 * Every event the domain publishes, by name. Each payload carries `tenantId`: no listener ever needs to guess
 * which tenant an event belongs to, and the realtime gateway routes by it.
 */
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

export interface DomainEvents {
  'tenant.created': TenantEvent & { name: string; domain: string };
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
  'call.created': TenantEvent & { callId: string; from: number; to: string };
  'leg.ringing': TenantEvent & { callId: string; legId: string; extensionId: string; contact: string };
  'leg.answered': TenantEvent & { callId: string; legId: string; extensionId: string; contact: string };
  'call.answered': TenantEvent & { callId: string; from: number; to: number };
  /** A side of an answered call holds the other (its phone sent sendonly or inactive), or resumes. */
  'call.hold': TenantEvent & { callId: string; side: 'caller' | 'callee'; held: boolean };
  /** A DTMF digit pressed by a side of an answered call: RFC 4733 telephone-events seen by the relay, or SIP INFO. */
  'call.dtmf': TenantEvent & { callId: string; side: 'caller' | 'callee'; digit: string; via: 'rfc4733' | 'info' };
  /** A call's recording was sealed and filed. */
  'recording.ready': TenantEvent & { callId: string; durationMs: number };
  'call.ended': TenantEvent & {
    callId: string;
    cause: string;
    answered: boolean;
    /** Milliseconds: from creation to answer (or end), of conversation, and in all. */
    durations: { ringing: number; talk: number; total: number };
  };
  'extension.status.changed': TenantEvent & { extensionId: string; userId: string; number: number; from: string; to: string; reason: string | null };
}
