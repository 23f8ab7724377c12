import type { Ring } from './ring.js';

/** What the fuzzers of a run share: open connection ids (targets of the REST fuzzer), and every endpoint's ring for reports. */
export interface Shared {
  readonly ids: Set<string>;
  readonly rings: Map<string, Ring>;
}

/**
 * uWS answers a request line and headers over its 4 KB limit itself, with an HTML 431, before
 * Switchyard sees the request (a long path, query or bearer): the one answer, to a REST call or
 * an upgrade, that is not Switchyard's JSON.
 */
export const HEADERS_TOO_LARGE = 431;
