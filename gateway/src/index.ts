export * from './gateway.js';
export { NATIVE_JSON_PROTOCOL, NATIVE_MSGPACK_PROTOCOL } from './dialects/native.js';
export type { SocketLimits } from './transport/ws.js';
export type { Dialect, DialectContext, Admission, UpgradeInfo } from './core/dialect.js';
export type * from './core/commands.js';
