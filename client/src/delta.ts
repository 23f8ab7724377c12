import { applyDelta } from 'fossil-delta';
import type { DeltaCodec } from './subscription.js';

/**
 * Fossil deltas (the `fossil-delta` package), the delta compression the server speaks:
 * `client.subscribe(channel, { delta: fossil })` (docs/client.md#delta-compression). Its
 * own entry point, so that only apps that use deltas load the package.
 */
export const fossil: DeltaCodec = {
  name: 'fossil',
  // fossil-delta checks the checksum the delta carries against what it rebuilt, and throws when they differ.
  apply: (base, delta) => applyDelta(base, delta),
};
