/** The PBX engine: registrar and location service now; calls as a B2BUA next. Knows the SIP stack, not the directory. */
export { AbuseGuard, type AbuseGuardOptions } from './abuse-guard.ts';
export { type TelephonyDirectory } from './directory.ts';
export { TelephonyEngine, type TelephonyOptions } from './engine.ts';
export { LocationService, type Binding, type RemovalReason } from './location-service.ts';
export { Registrar, type CredentialStore, type ExtensionCredentials, type RegistrarOptions, DEFAULT_REGISTRAR_OPTIONS } from './registrar.ts';
export { Call, type CallParty, type CallSide, CallState, CallStateError, type EndCause, type RingOutcome, type RingTarget } from './calls/call.ts';
export { type CallRouter } from './calls/call-manager.ts';
export { CallManager } from './calls/call-manager.ts';
