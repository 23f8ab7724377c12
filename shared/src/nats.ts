/**
 * `@switchyard/shared/nats`: the NATS/JetStream engine and its subject and stream model.
 * Kept out of the root entry on purpose: `@switchyard/shared` never loads the NATS client,
 * so a single-node process (the embedded engine) does not either. Load this entry only when
 * a NATS URL is configured (cli/src/engine.ts imports it dynamically).
 */
export { NatsEngine } from './engine/nats/nats-engine.js';
export { NATS_ENGINE_DEFAULTS, type NatsConnectOptions, type NatsEngineOptions, type NatsTimings } from './engine/nats/options.js';
export { BROKER_UNAVAILABLE } from './engine/nats/errors.js';
export { GapSequencer, type Sequenced, type SequencerSink } from './engine/nats/gap-sequencer.js';
export * from './engine/nats/subjects.js';
export * from './engine/nats/streams.js';
