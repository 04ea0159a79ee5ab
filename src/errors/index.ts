/**
 * One catalogue of the errors Switchboard answers with. Each has a stable code that clients may match on and the
 * HTTP status it maps to; adapters (REST, Socket.io) translate a {@link PbxError} into their own shape and never
 * show anything else of an unexpected error.
 */
export const ErrorCatalogue = {
  PBX_ERR_VALIDATION: { status: 400, message: 'Request validation failed' },
  PBX_ERR_MALFORMED_BODY: { status: 400, message: 'The request body is not valid JSON' },
  PBX_ERR_UNAUTHENTICATED: { status: 401, message: 'Authentication required' },
  PBX_ERR_INVALID_CREDENTIALS: { status: 401, message: 'Invalid credentials' },
  PBX_ERR_FORBIDDEN: { status: 403, message: 'You are not allowed to do this' },
  PBX_ERR_NOT_FOUND: { status: 404, message: 'Not found' },
  PBX_ERR_USER_NOT_FOUND: { status: 404, message: 'User not found' },
  PBX_ERR_TENANT_NOT_FOUND: { status: 404, message: 'Tenant not found' },
  PBX_ERR_EXTENSION_NOT_FOUND: { status: 404, message: 'Agent extension not found' },
  PBX_ERR_EMAIL_TAKEN: { status: 409, message: 'Email is already in use' },
  PBX_ERR_DOMAIN_TAKEN: { status: 409, message: 'SIP domain is already in use' },
  PBX_ERR_EXTENSION_TAKEN: { status: 409, message: 'Extension number is already in use' },
  PBX_ERR_EXTENSION_RANGE_EXHAUSTED: { status: 409, message: 'No free extension number is left in the range' },
  PBX_ERR_USER_HAS_EXTENSION: { status: 409, message: 'The user already has an extension' },
  PBX_ERR_CANNOT_DELETE_SELF: { status: 409, message: 'You cannot delete your own account' },
  PBX_ERR_AGENT_NOT_REGISTERED: { status: 409, message: 'The agent has no registered device: register a phone or the softphone first' },
  PBX_ERR_AGENT_STATE: { status: 409, message: 'The agent cannot change to that state now' },
  PBX_ERR_QUEUE_NOT_FOUND: { status: 404, message: 'Queue not found' },
  PBX_ERR_NUMBER_TAKEN: { status: 409, message: 'That number is already used by an extension or a queue' },
  PBX_ERR_CALL_NOT_FOUND: { status: 404, message: 'Call session not found' },
  PBX_ERR_AGENT_ON_CALL: { status: 400, message: 'Agent is already on a call' },
  PBX_ERR_CALL_STATE: { status: 409, message: 'The call cannot do that in its present state' },
  PBX_ERR_NOT_REMOTELY_ANSWERABLE: { status: 409, message: 'This call cannot be answered remotely: answer it on the device' },
  PBX_ERR_TRANSFER_TARGET_NOT_FOUND: { status: 404, message: 'Transfer target not found' },
  PBX_ERR_NUMBER_NOT_FOUND: { status: 404, message: 'No extension, queue or outbound route has that number' },
  PBX_ERR_TARGET_UNAVAILABLE: { status: 409, message: 'The target has no registered device' },
  PBX_ERR_NOT_SUPPORTED: { status: 501, message: 'Not supported yet' },
  PBX_ERR_NO_AVAILABLE_AGENTS: { status: 400, message: 'No available agents in queue' },
  PBX_ERR_TRUNK_NOT_FOUND: { status: 404, message: 'Trunk not found' },
  PBX_ERR_PHONE_NUMBER_NOT_FOUND: { status: 404, message: 'Phone number not found' },
  PBX_ERR_ROUTE_NOT_FOUND: { status: 404, message: 'Outbound route not found' },
  PBX_ERR_PHONE_NUMBER_TAKEN: { status: 409, message: 'That phone number is already in use' },
  PBX_ERR_TRUNK_NAME_TAKEN: { status: 409, message: 'A trunk of that name already exists' },
  PBX_ERR_TRUNK_IN_USE: { status: 409, message: 'An outbound route still uses this trunk' },
  PBX_ERR_DIAL_NOT_ALLOWED: { status: 403, message: "The number's class may not be dialled" },
  PBX_ERR_EXTERNAL_CALL_LIMIT: { status: 503, message: "The tenant's external calls are all in use" },
  PBX_ERR_PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  PBX_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type' },
  PBX_ERR_TOO_MANY_ATTEMPTS: { status: 429, message: 'Too many failed attempts; try again later' },
  PBX_ERR_INTERNAL: { status: 500, message: 'Internal server error' },
  PBX_ERR_UNAVAILABLE: { status: 503, message: 'Service unavailable' },
  PBX_ERR_MEDIA_UNAVAILABLE: { status: 503, message: 'This needs the media relay (rtpengine), which is not available' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ErrorCatalogue;

/** A domain error: a code from the catalogue, a message for people, and optional structured details. */
export class PbxError extends Error {
  override readonly name = 'PbxError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  /** Seconds after which a retry may succeed (429 answers carry it as Retry-After). */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message?: string, options: { details?: unknown; retryAfter?: number } = {}) {
    super(message ?? ErrorCatalogue[code].message);
    this.code = code;
    this.status = ErrorCatalogue[code].status;
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }
}

export function isPbxError(err: unknown): err is PbxError {
  return err instanceof PbxError;
}
