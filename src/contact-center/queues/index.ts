/**
 * Queues: their settings and members (stored), and the ACD that runs them (in memory). A caller who dials a
 * queue's number waits (hearing ringback) while the ACD offers the call to idle members by the queue's strategy,
 * one offer at a time (all of the best tier at once for `ringall`), each for the ring timeout; an offer nobody
 * answers is followed, after the retry delay, by the next choice. Callers of higher priority (the INVITE's
 * RFC 3261 Priority header) wait in front; several callers are offered at once when several members are idle.
 *
 * Too long a wait, a full queue or (by the join rule) nobody to answer sends the caller to the queue's fallback:
 * another queue, an extension, or a hang-up. Everything that happens is a queue event in app_queue's words, stored
 * and published, and the metrics are computed from those and the call sessions.
 */
export { callerPriority, QueueService, type QueueTelephony } from './queue-service.ts';
export type { Queue, QueueMember, QueueSettings } from './queue-store.ts';
