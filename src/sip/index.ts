/**
 * A SIP stack after RFC 3261's layers: messages (syntax), transports, transactions, and digest authentication.
 * It knows nothing of what it carries; applications sit on top as its delegate.
 */
export * from './message/index.ts';
export * from './auth/digest.ts';
export * from './auth/digest-client.ts';
export * from './transport/flow.ts';
export * from './transport/transports.ts';
export * from './transport/websocket.ts';
export * from './transaction/state-machine.ts';
export * from './transaction/server-transaction.ts';
export * from './transaction/client-transaction.ts';
export * from './dialog/dialog.ts';
export * from './dialog/replaces.ts';
export * from './dialog/session-timer.ts';
export * from './subscription/index.ts';
export * from './stack.ts';
