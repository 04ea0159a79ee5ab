export { EventBus, type PbxEventBus } from './bus.ts';
export type { DomainEvents, TenantEvent } from './types.ts';
