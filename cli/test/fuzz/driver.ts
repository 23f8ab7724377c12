import { FuzzConn, UpgradeRefused } from './conn.js';
import { ANSWER_DEADLINE_MS, type EndpointSpec } from './endpoints.js';
import { fuzzFrame } from './mutate.js';
import type { Node } from './node.js';
import { Ring, formatSent, preview } from './ring.js';
import type { Rng } from './rng.js';
import { HEADERS_TOO_LARGE, type Shared } from './shared.js';

/** What one endpoint's fuzzing did and found. */
export interface EndpointStats {
  readonly name: string;
  frames: number;
  sentinels: number;
  connections: number;
  /** Connections closed by the server, by close code. */
  readonly closes: Map<number, number>;
  /** Odd upgrade requests, by outcome (`open`, an HTTP status, `error`). */
  readonly upgrades: Map<string, number>;
  readonly failures: string[];
}

/** Subprotocol offers for odd upgrades (docs/protocol.md: what each gets). */
const ODD_PROTOCOLS: readonly string[][] = [['x'], ['switchyard.v1.msgpack', 'x'], ['x', 'switchyard.v1.json'], ['switchyard.v1.json', 'switchyard.v1.msgpack'], ['switchyard.v2']];

/** Stop an endpoint after this many failures: the first ones tell the story. */
const MAX_FAILURES = 5;

const count = <K>(m: Map<K, number>, k: K): void => void m.set(k, (m.get(k) ?? 0) + 1);

/** Connections fuzzing one endpoint at a time: frames of one interleave with the other's state changes (subscribes, publishes). */
const LANES = 2;

/**
 * Sends `frames` fuzz frames to one endpoint over LANES connections at a time, in windows of
 * 4–40 frames each followed by a sentinel whose answer the docs promise; reconnects whenever
 * the server closes a connection, and now and then tries an odd upgrade request first.
 * Failures: a sentinel not answered on an open connection, a close code the docs do not give
 * the endpoint, a frame the client library refuses, a 5xx (or a body that is not JSON)
 * refusing an upgrade.
 */
export async function fuzzEndpoint(wsBase: string, spec: EndpointSpec, frames: number, endpointRng: Rng, others: readonly Node[], shared: Shared): Promise<EndpointStats> {
  const stats: EndpointStats = { name: spec.name, frames: 0, sentinels: 0, connections: 0, closes: new Map(), upgrades: new Map(), failures: [] };
  const ring = new Ring();
  shared.rings.set(spec.name, ring);
  const fail = (what: string): void => void stats.failures.push(`${spec.name}: ${what}\n  last frames sent:\n${formatSent(ring.list().slice(-12))}`);
  const lane = async (n: number): Promise<void> => {
    const rng = endpointRng.derive(`lane ${n}`);
    let sent = 0; // this lane's frames: frame k of a lane is the same in every run of a seed, wherever connections end
    while (stats.frames < frames && stats.failures.length < MAX_FAILURES) {
      if (rng.chance(0.08)) await oddUpgrade(wsBase, spec, rng, stats, fail);
      const path = spec.path(stats.connections++);
      let conn: FuzzConn;
      try {
        conn = await FuzzConn.open(wsBase + path, [...spec.protocols]);
      } catch (err) {
        fail(`could not open ${path}: ${(err as Error).message}`);
        continue;
      }
      let id: string | undefined;
      try {
        const session = await spec.start(conn, rng, path);
        id = session.id;
        if (id !== undefined) shared.ids.add(id);
        while (stats.frames < frames && conn.isOpen) {
          const window = rng.range(4, 40);
          for (let i = 0; i < window && stats.frames < frames; i++) {
            const frameRng = rng.derive(`frame ${sent}`);
            const f = fuzzFrame(frameRng, frameRng.pick(session.seeds), others, spec.enc);
            ring.push({ at: Date.now(), endpoint: `${spec.name} lane ${n} frame ${sent++}`, conn: id, how: f.how, preview: preview(f.data, f.binary) });
            conn.send(f.data, f.binary);
            stats.frames++;
          }
          const s = spec.sentinel(++stats.sentinels);
          conn.send(s.data, s.binary);
          const w = await conn.waitFor(s.matches, ANSWER_DEADLINE_MS);
          if (w.kind === 'timeout') {
            fail(`no answer to ${preview(s.data, s.binary)} within ${ANSWER_DEADLINE_MS} ms on an open connection${id !== undefined ? ` (${id})` : ''}`);
            break;
          }
        }
      } catch (err) {
        fail(`${path}: ${(err as Error).message}`);
      }
      if (id !== undefined) shared.ids.delete(id);
      const closed = conn.closed;
      if (closed?.byServer === true) {
        count(stats.closes, closed.code);
        if (!spec.closeCodes.has(closed.code)) fail(`closed with ${closed.code} "${closed.reason}", a code the docs do not give this endpoint`);
      } else await conn.close();
      for (const e of conn.protocolErrors) fail(`the server sent a frame the client refused: ${e}`);
    }
  };
  await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
  return stats;
}

/** An upgrade with an odd path, query or subprotocol: accepted, or refused with a 4xx and a JSON `{code, message}`. */
async function oddUpgrade(wsBase: string, spec: EndpointSpec, rng: Rng, stats: EndpointStats, fail: (what: string) => void): Promise<void> {
  const path = rng.chance(0.7) ? rng.pick(spec.oddPaths) : spec.path(0);
  const protocols = rng.chance(0.4) ? rng.pick(ODD_PROTOCOLS) : [...spec.protocols];
  try {
    const conn = await FuzzConn.open(wsBase + path, protocols);
    count(stats.upgrades, 'open');
    await conn.close();
  } catch (err) {
    if (!(err instanceof UpgradeRefused)) {
      count(stats.upgrades, 'error'); // e.g. no subprotocol echoed for an offer of unknown ones: the client gives up (docs/protocol.md)
      return;
    }
    count(stats.upgrades, String(err.status));
    let body: { code?: unknown } | undefined;
    try {
      body = JSON.parse(err.body) as { code?: unknown };
    } catch {
      body = undefined;
    }
    if (err.status >= 500 || (typeof body?.code !== 'string' && err.status !== HEADERS_TOO_LARGE)) fail(`upgrade of ${path.slice(0, 200)} [${protocols.join(', ')}] refused with ${err.status} ${err.body.slice(0, 300)}`);
  }
}
