/** The queues' public surface lives in `./queues/index.ts`; this file keeps the older import path working. */
export { callerPriority, type Queue, type QueueMember, QueueService, type QueueSettings, type QueueTelephony } from './queues/index.ts';
