/** SIP-specific event notification (RFC 6665), the notifier's side. */
export * from './notifier.ts';
