export * from './eventually.js';
export * from './nats-server.js';
export * from './tenants.js';
export * from './random.js';
export * from './browser.js';
