/**
 * `@switchyard/shared`: everything both faces share, with no NATS in it. The NATS engine
 * lives at `@switchyard/shared/nats`, so that nothing reachable from here loads @nats-io/*
 * (cli/test/entry-points.test.ts checks it).
 */
export * from './codes.js';
export * from './json.js';
export * from './log.js';
export * from './metrics.js';
export * from './model/channel.js';
export * from './model/message.js';
export * from './model/tenant.js';
export * from './config/tenants.js';
export * from './auth/hmac.js';
export * from './auth/client-token.js';
export * from './auth/site-token.js';
export * from './engine/engine.js';
export * from './engine/embedded.js';
export * from './engine/publisher.js';
export * from './http/server.js';
export * from './http/cors.js';
export * from './http/ops.js';
export * from './auth/bartnet-credential.js';
export * from './auth/webhook-signature.js';
export * from './model/hidden.js';
