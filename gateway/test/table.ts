import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCore, settle, type Client, type Core, type CoreOptions } from './harness.js';

/** Connection ids by name, for frames that must name them (`$name` in expected frames). */
export type Ids = Readonly<Record<string, string>>;

export interface Step {
  /** Which connection acts; the first one opened when absent. */
  readonly on?: string;
  /** A client frame: an object (sent as JSON), a string (sent as is), or one built from the ids. */
  readonly send?: unknown;
  readonly binary?: boolean;
  /** A backend publish through the engine instead of a frame. */
  readonly publish?: { readonly channel: string; readonly data: unknown };
  /** Something a backend does (a collection write, a broadcast), through the engine. */
  readonly act?: (core: Core) => Promise<unknown>;
  /** The connection closes. */
  readonly close?: true;
  /**
   * Exactly the frames each connection receives after the step, in order; a connection not
   * named receives nothing. Strings with `$name` placeholders for connection ids; volatile
   * numbers (`"sent"`, 13-digit times, epochs) are compared as `T` / `E`.
   */
  readonly want?: Readonly<Record<string, readonly string[]>>;
}

export interface Case {
  readonly name: string;
  /** Connections to open, by name: `dialect path` (e.g. `site /ws?site=demo`). */
  readonly conns: Readonly<Record<string, string>>;
  /** Frames each connection receives on open (default: none). */
  readonly greet?: Readonly<Record<string, readonly string[]>>;
  readonly steps: readonly Step[];
  readonly core?: CoreOptions;
}

/** Replaces what differs from run to run: send times, message times, epochs. */
export function normalize(frame: string | Uint8Array): string {
  const text = typeof frame === 'string' ? frame : `<binary ${Buffer.from(frame).toString('hex')}>`;
  return text
    .replace(/"sent":\d+/g, '"sent":T')
    .replace(/"time":\d{13}/g, '"time":T')
    .replace(/"epoch":"[0-9a-f-]{36}(\.\d+)?"/g, '"epoch":E');
}

const fill = (s: string, ids: Ids): string => s.replace(/\$([a-z][a-z0-9]*)/g, (m, name: string) => ids[name] ?? m);

/** Runs each case as a test: frames in, exact frames out. */
export function frameTable(title: string, cases: readonly Case[], frameOf?: (step: Step, ids: Ids) => unknown): void {
  for (const c of cases) {
    test(`${title}: ${c.name}`, async () => {
      const core: Core = startCore(c.core);
      const clients = new Map<string, Client>();
      const ids: Record<string, string> = {};
      for (const [name, spec] of Object.entries(c.conns)) {
        const space = spec.indexOf(' ');
        const cl = await core.connect(spec.slice(0, space), spec.slice(space + 1));
        clients.set(name, cl);
        ids[name] = cl.s.id;
      }
      const check = (where: string, want: Readonly<Record<string, readonly string[]>> | undefined): void => {
        for (const [name, cl] of clients) {
          const got = cl.take().map(normalize);
          assert.deepEqual(got, (want?.[name] ?? []).map((w) => normalize(fill(w, ids))), `${where}: frames of ${name}`);
        }
      };
      check('on open', c.greet);
      for (const [i, step] of c.steps.entries()) {
        const cl = clients.get(step.on ?? Object.keys(c.conns)[0]!)!;
        if (step.act !== undefined) {
          await step.act(core);
          await settle();
        } else if (step.publish !== undefined) {
          const tenant = core.tenants.tenants.get('demo')!;
          const { resolveChannel } = await import('@switchyard/shared');
          await core.engine.broker.publish(resolveChannel(tenant, step.publish.channel), JSON.stringify(step.publish.data));
          await settle();
        } else if (step.close === true) {
          cl.close();
          await settle();
        } else {
          const frame = frameOf?.(step, ids) ?? step.send;
          await cl.send(typeof frame === 'function' ? (frame as (ids: Ids) => unknown)(ids) : frame, step.binary);
        }
        check(`step ${i + 1}`, step.want);
      }
    });
  }
}
