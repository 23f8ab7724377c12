/**
 * Every error and close code Switchyard puts on the wire, defined once.
 *
 * Error codes are numeric and never renumbered: a client may switch on them. Each has a
 * stable snake_case name, used as the `code` string of control-API errors and shown next to
 * the number in native protocol errors. `temporary` errors may succeed when retried as-is.
 */
export const ErrorCode = {
  Internal: 100,
  BadFrame: 101,
  UnknownCommand: 102,
  BadRequest: 103,
  PayloadTooLarge: 104,
  Unauthorized: 110,
  TokenInvalid: 111,
  TokenExpired: 112,
  PermissionDenied: 113,
  UnknownTenant: 114,
  InvalidChannel: 120,
  AlreadySubscribed: 121,
  NotSubscribed: 122,
  LimitExceeded: 123,
  NotFound: 124,
  Unavailable: 130,
  BackendError: 131,
  BackendTimeout: 132,
  Gone: 133,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Stable names of the codes; also the `code` string of control-API error bodies. */
export const errorName: Readonly<Record<ErrorCode, string>> = {
  [ErrorCode.Internal]: 'internal',
  [ErrorCode.BadFrame]: 'bad_frame',
  [ErrorCode.UnknownCommand]: 'unknown_command',
  [ErrorCode.BadRequest]: 'bad_request',
  [ErrorCode.PayloadTooLarge]: 'payload_too_large',
  [ErrorCode.Unauthorized]: 'unauthorized',
  [ErrorCode.TokenInvalid]: 'token_invalid',
  [ErrorCode.TokenExpired]: 'token_expired',
  [ErrorCode.PermissionDenied]: 'permission_denied',
  [ErrorCode.UnknownTenant]: 'unknown_tenant',
  [ErrorCode.InvalidChannel]: 'invalid_channel',
  [ErrorCode.AlreadySubscribed]: 'already_subscribed',
  [ErrorCode.NotSubscribed]: 'not_subscribed',
  [ErrorCode.LimitExceeded]: 'limit_exceeded',
  [ErrorCode.NotFound]: 'not_found',
  [ErrorCode.Unavailable]: 'unavailable',
  [ErrorCode.BackendError]: 'backend_error',
  [ErrorCode.BackendTimeout]: 'backend_timeout',
  [ErrorCode.Gone]: 'gone',
};

/** The HTTP status each code maps to on REST faces. */
export const httpStatus: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.Internal]: 500,
  [ErrorCode.BadFrame]: 400,
  [ErrorCode.UnknownCommand]: 400,
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.TokenInvalid]: 401,
  [ErrorCode.TokenExpired]: 401,
  [ErrorCode.PermissionDenied]: 403,
  [ErrorCode.UnknownTenant]: 404,
  [ErrorCode.InvalidChannel]: 400,
  [ErrorCode.AlreadySubscribed]: 409,
  [ErrorCode.NotSubscribed]: 409,
  [ErrorCode.LimitExceeded]: 429,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.BackendError]: 502,
  [ErrorCode.BackendTimeout]: 504,
  [ErrorCode.Gone]: 410,
};

export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly temporary = false,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Never leak raw exception text to a client: unknown errors become a temporary `internal`. */
export const toClientError = (e: unknown): ProtocolError =>
  e instanceof ProtocolError ? e : new ProtocolError(ErrorCode.Internal, 'internal error', true);

/**
 * Why the server closes a connection. Internal names; dialects map them to wire codes.
 * Reconnect policy by range: 1001/1009 standard; 4000–4099 terminal (do not reconnect
 * without changing something); 4100–4199 reconnect with backoff and resume from the last seq.
 */
export const CloseReason = {
  Shutdown: 'shutdown',
  Restart: 'restart',
  MessageTooBig: 'message_too_big',
  SlowConsumer: 'slow_consumer',
  TokenExpired: 'token_expired',
  BackendSlow: 'backend_slow',
  BackendError: 'backend_error',
  ClosedByBackend: 'closed_by_backend',
  AuthTimeout: 'auth_timeout',
  TryAgain: 'try_again',
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

export const closeCode: Readonly<Record<CloseReason, number>> = {
  [CloseReason.Shutdown]: 1001,
  [CloseReason.Restart]: 1012,
  [CloseReason.MessageTooBig]: 1009,
  [CloseReason.SlowConsumer]: 4100,
  [CloseReason.TokenExpired]: 4101,
  [CloseReason.BackendSlow]: 4102,
  [CloseReason.BackendError]: 1011,
  [CloseReason.ClosedByBackend]: 1000,
  [CloseReason.AuthTimeout]: 4103,
  [CloseReason.TryAgain]: 1013,
};

/** Close reason text sent with the code (≤ 123 bytes, as the WebSocket protocol requires). */
export const closeText: Readonly<Record<CloseReason, string>> = {
  [CloseReason.Shutdown]: 'server shutting down',
  [CloseReason.Restart]: 'server restarting: reconnect and resume',
  [CloseReason.MessageTooBig]: 'message too big',
  [CloseReason.SlowConsumer]: 'slow consumer: send buffer limit exceeded',
  [CloseReason.TokenExpired]: 'token expired',
  [CloseReason.BackendSlow]: 'backend too slow: webhook queue full',
  [CloseReason.BackendError]: 'backend error: a webhook call failed',
  [CloseReason.ClosedByBackend]: 'closed by backend',
  [CloseReason.AuthTimeout]: 'authentication timeout: no auth in time',
  [CloseReason.TryAgain]: 'try again later: the subscription could not be made',
};
