import { createHash } from 'node:crypto';

/**
 * A short stand-in for an epoch, where a whole one is too long to repeat (SSE event ids carry
 * one per channel on every event): the first 12 hex digits of its SHA-256, '' for the empty
 * epoch of channels without history. Two epochs of one channel share a tag with odds of one
 * in 2^48.
 */
export function epochTag(epoch: string): string {
  if (epoch === '') return '';
  let tag = tags.get(epoch);
  if (tag === undefined) {
    tag = createHash('sha256').update(epoch).digest('hex').slice(0, 12);
    if (tags.size >= MAX_CACHED) tags.clear();
    tags.set(epoch, tag);
  }
  return tag;
}

/** Epochs change rarely; a node sees about one per channel it serves. */
const MAX_CACHED = 10_000;
const tags = new Map<string, string>();
