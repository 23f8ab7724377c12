import { pino, type Logger } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The process's root logger: JSON lines on stdout. Components take `.child({ component })`. */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, redact: ['token', 'auth', 'secret', '*.token', '*.auth'] });
}

/**
 * A promise rejection nobody handled is a bug, but one client's frame must never be able to
 * end a process holding thousands of others (Node's default is to exit): it is logged and the
 * process goes on. Installed once per process (or worker thread) by the CLI.
 */
export function logUnhandledRejections(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled promise rejection (a bug): logged, the process goes on');
  });
}
