export { EventBus, type PbxEventBus } from './bus.ts';
export type { DomainEvents, RegistrationEvent, TenantEvent } from './types.ts';
