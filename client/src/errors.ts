/** The `error` object of a server reply or error frame (docs/protocol.md#error-codes). */
export interface ServerErrorBody {
  readonly code: number;
  readonly name: string;
  readonly message: string;
  readonly temporary?: boolean;
}

/**
 * Names of the errors the client raises itself (their `code` is 0):
 * - `disconnected`: the connection dropped before the command's reply. The command may or
 *   may not have been executed (a publish may have been stored); it is never resent.
 * - `timeout`: no reply (or no connection to send on) within the command's timeout.
 * - `closed`: the client is closed (`close()`, or a terminal close) and runs no commands.
 * - `get_token_failed`: the `getToken` callback threw or rejected (`cause` holds what).
 * - `bad_frame`: the server sent a frame the client cannot decode.
 * - `listener_threw`: one of your event listeners threw (`cause` holds what).
 */
export const ClientErrorName = {
  Disconnected: 'disconnected',
  Timeout: 'timeout',
  Closed: 'closed',
  GetTokenFailed: 'get_token_failed',
  BadFrame: 'bad_frame',
  ListenerThrew: 'listener_threw',
} as const;
export type ClientErrorName = (typeof ClientErrorName)[keyof typeof ClientErrorName];

/**
 * Every error the client rejects with or emits. Server refusals carry the server's `code`
 * (e.g. 113), its stable snake_case name as `codeName` (`permission_denied`), its
 * `message` and `temporary`; errors the client raises itself have `code` 0 and one of the
 * `ClientErrorName`s. Switch on `code` or `codeName`, never on `message`.
 */
export class SwitchyardError extends Error {
  override readonly name = 'SwitchyardError';

  constructor(
    /** The server's error code (docs/protocol.md#error-codes); 0 for errors of the client itself. */
    readonly code: number,
    /** The code's stable name: the server's (`permission_denied`) or a `ClientErrorName`. */
    readonly codeName: string,
    message: string,
    /** True when the same command may succeed if retried later. */
    readonly temporary = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The error of a server `reply` or `error` frame. */
  static fromServer(body: ServerErrorBody): SwitchyardError {
    return new SwitchyardError(body.code, body.name, body.message, body.temporary === true);
  }

  /** An error raised by the client itself (`code` 0). */
  static client(name: ClientErrorName, message: string, cause?: unknown): SwitchyardError {
    const temporary = name === ClientErrorName.Disconnected || name === ClientErrorName.Timeout;
    return new SwitchyardError(0, name, message, temporary, cause === undefined ? undefined : { cause });
  }
}

/** Server error codes the client itself acts on (the full table is in docs/protocol.md). */
export const ErrorCode = {
  Unauthorized: 110,
  TokenExpired: 112,
} as const;
