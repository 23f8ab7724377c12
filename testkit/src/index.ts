export * from './eventually.js';
export * from './tenants.js';
