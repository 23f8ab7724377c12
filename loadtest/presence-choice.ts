/**
 * Measures the two ways to keep presence across gateways (docs/architecture.md, "Presence"):
 *   scatter-gather: nothing written on join/leave; a list asks every gateway (requestMany, stall)
 *   KV bucket:      one put per join and delete per leave (plus refreshes), a list reads the keys
 * Run: node --import tsx --conditions=source loadtest/presence-choice.ts   (needs nats-server)
 */
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { startNatsServer } from '@switchyard/testkit';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const ms = (x: number): string => `${x.toFixed(2)} ms`;

const nats = await startNatsServer();
const gateways = await Promise.all([1, 2].map(() => connect({ servers: nats.url })));
const requester = await connect({ servers: nats.url });
const ENTRIES = 100; // per gateway, on one channel

try {
  // Scatter-gather: each gateway answers from memory.
  const local = JSON.stringify(Array.from({ length: ENTRIES }, (_, i) => ({ conn: `n:${i}`, user: `u${i}`, info: { i } })));
  for (const g of gateways) g.subscribe('bench.presence.>', { callback: (_e, m) => { m.respond(local); } });
  for (const g of gateways) await g.flush();
  const sg: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    let n = 0;
    for await (const r of await requester.requestMany('bench.presence.t.c', '', { strategy: 'stall', stall: 30, maxWait: 2000 })) {
      n += (JSON.parse(r.string()) as unknown[]).length;
    }
    sg.push(performance.now() - t0);
    if (n !== ENTRIES * 2) throw new Error(`scatter-gather got ${n} entries`);
  }

  // KV bucket with a TTL (entries of a dead gateway expire; live ones must be refreshed).
  const kvm = new Kvm(gateways[0]!);
  const kv = await kvm.create('bench-presence', { ttl: 30_000 });
  const puts: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t0 = performance.now();
    await kv.put(`t.c.n${i % (ENTRIES * 2)}`, JSON.stringify({ conn: `n:${i}`, user: `u${i}`, info: { i } }));
    puts.push(performance.now() - t0);
  }
  const lists: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const keys: string[] = [];
    for await (const k of await kv.keys('t.c.>')) keys.push(k);
    const entries = await Promise.all(keys.map((k) => kv.get(k)));
    lists.push(performance.now() - t0);
    if (entries.length !== ENTRIES * 2) throw new Error(`kv list got ${entries.length}`);
  }
  console.log(`machine: ${(await import('node:os')).cpus().length} cores; nats-server ${nats.url}; ${ENTRIES * 2} entries on one channel over 2 gateways`);
  console.log(`scatter-gather list (stall 30 ms): p50 ${ms(pct(sg, 50))}  p99 ${ms(pct(sg, 99))}; cost per join/leave: 0 NATS operations`);
  console.log(`KV join (one put):                 p50 ${ms(pct(puts, 50))}  p99 ${ms(pct(puts, 99))}; plus a delete per leave and a refresh per entry per TTL`);
  console.log(`KV list (keys + gets):             p50 ${ms(pct(lists, 50))}  p99 ${ms(pct(lists, 99))}`);
} finally {
  for (const c of [...gateways, requester]) await c.close();
  await nats.stop();
}
