/**
 * Queues (seed 000's queues, in the words of Asterisk's app_queue): this folder's public surface.
 *
 * - `queue-store.ts`: queues and their members, checked, kept in memory and written to the database;
 * - `acd.ts`: callers waiting, offers to members by the queue's strategy (`../strategies.ts`), timeouts, fallbacks;
 * - `queue-runtime.ts`: what the ACD keeps in memory of each queue (waiting callers, members' calls taken);
 * - `queue-figures.ts`: the live figures, for wallboards and the API (`queue.updated`);
 * - `queue-log.ts`: everything that happens is a queue event in app_queue's words, stored and published, and the
 *   metrics are computed from those and the call sessions;
 * - `queue-service.ts`: `QueueService` wires them; it is what the rest of the server calls.
 */
export type { QueueTelephony } from './acd.ts';
export { callerPriority } from './queue-runtime.ts';
export { QueueService } from './queue-service.ts';
export type { Queue, QueueMember, QueueSettings } from './queue-store.ts';
