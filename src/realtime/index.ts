/** The live API (Socket.io namespace `/pbx`): the domain's events to browsers, and their call control back. */
export { type GatewayDeps, RealtimeGateway } from './gateway.ts';
