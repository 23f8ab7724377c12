import type { TemplatedApp } from 'uWebSockets.js';
import {
  ErrorCode,
  ProtocolError,
  isPlainObject,
  payloadText,
  resolveChannel,
  type ConnectionCommand,
  type ConnectionReply,
  type NodeSnapshot,
  type Req,
  type StatsQuery,
} from '@switchyard/shared';
import { requireAdmin, tenantOf } from '../auth.js';
import type { ControlContext } from '../context.js';
import { SAMPLER_DEFAULTS, StatsSampler, mergeBusiest, type SamplerOptions } from '../sampler.js';
import { mountAdminPage } from './admin-page.js';
import { intParam, messageJson } from './params.js';
import { routeFor } from './route.js';

/** Most busiest channels one `GET /admin/api/channels` returns. */
const MAX_CHANNELS = 100;
/** Most history messages one `GET /admin/api/channel` returns. */
const MAX_HISTORY = 1000;

/**
 * The admin page (`/admin`) and its JSON API (`/admin/api/…`, docs/admin.md). Every API
 * route takes `Authorization: Bearer <adminToken>`, is allowed for every tenant, and answers
 * errors as `{code, message}`.
 */
export function mountAdminRoutes(app: TemplatedApp, ctx: ControlContext, opts: Partial<SamplerOptions> = {}): StatsSampler {
  mountAdminPage(app, ctx.log);
  const gather = async (q: StatsQuery): Promise<NodeSnapshot[]> => {
    // In a cluster every node answers (this one included); alone, this process is the node.
    const nodes = ctx.engine.nodes !== undefined ? await ctx.engine.nodes.gatherStats(q) : [];
    return nodes.length > 0 ? nodes : [ctx.snapshot(q)];
  };
  const sampler = new StatsSampler(gather, ctx.log.child({ component: 'admin' }), {
    ...SAMPLER_DEFAULTS,
    // One node: a sample is a function call, so the charts have history before the page
    // opens. A cluster: a scatter-gather to every node per sample, only while the page is used.
    ...(ctx.engine.nodes === undefined ? { alwaysOn: () => ctx.engine.ready() } : {}),
    ...opts,
  });
  const route = routeFor(app, ctx);
  /** Checks the admin token; only then does the request count as the page being used. */
  const admin = (req: Req): void => {
    requireAdmin(req, ctx);
    void sampler.use();
  };
  const allTenants = [...ctx.tenants.tenants.keys()];

  route('get', '/admin/api/overview', async (req) => {
    requireAdmin(req, ctx);
    await sampler.use();
    const since = intParam(req, 'since', 0, 0, Number.MAX_SAFE_INTEGER);
    const latest = sampler.latest;
    if (latest === undefined) throw new ProtocolError(ErrorCode.Unavailable, sampler.error ?? 'no figures yet');
    const nodes = sampler.nodes();
    const present = latest.nodes;
    const sumBy = (f: (n: NodeSnapshot) => Readonly<Record<string, number>> | undefined): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const n of present) for (const [d, c] of Object.entries(f(n) ?? {})) out[d] = (out[d] ?? 0) + c;
      return out;
    };
    const dialects = sumBy((n) => n.dialects);
    const dialectSubscriptions = sumBy((n) => n.dialectSubscriptions);
    // Threads of one process report the process's memory each: count it once.
    const processes = new Map<string, number>();
    for (const n of present) processes.set(n.pid === undefined ? `node ${n.node}` : `${n.host ?? ''}/${n.pid}`, n.rss ?? 0);
    const samples = sampler.samples(since);
    const lastSample = sampler.samples(latest.at - 1).at(-1);
    const sum = (f: (n: NodeSnapshot) => number): number => present.reduce((acc, n) => acc + f(n), 0);
    return {
      status: 200,
      body: {
        now: Date.now(),
        engine: ctx.engine.kind,
        sampling: { on: sampler.sampling, everyMs: sampler.o.everyMs, keep: sampler.o.keep, idleMs: sampler.o.idleMs, at: latest.at, ...(sampler.error !== undefined ? { error: sampler.error } : {}) },
        totals: {
          nodes: present.length,
          ready: present.filter((n) => n.ready === true && n.draining !== true).length,
          processes: processes.size,
          memory: [...processes.values()].reduce((a, b) => a + b, 0),
          connections: sum((n) => n.connections),
          subscriptions: sum((n) => n.subscriptions),
          channels: sum((n) => n.channels),
          messagesIn: sum((n) => n.messagesIn),
          messagesOut: sum((n) => n.messagesOut),
          inRate: lastSample?.in ?? null,
          outRate: lastSample?.out ?? null,
        },
        dialects,
        dialectSubscriptions,
        nodes,
        samples,
        busiest: latest.busiest,
        tenants: allTenants,
      },
    };
  });

  route('get', '/admin/api/channels', async (req) => {
    admin(req);
    const limit = intParam(req, 'limit', SAMPLER_DEFAULTS.top, 1, MAX_CHANNELS);
    const tenantId = req.query.get('tenant');
    const tenant = tenantId === null || tenantId === '' ? undefined : tenantOf(ctx, tenantId).id;
    // A fresh gather: the sampler's keeps only the cluster-wide top.
    const nodes = await gather({ top: limit, ...(tenant !== undefined ? { tenant } : {}) });
    return { status: 200, body: { ...(tenant !== undefined ? { tenant } : {}), nodes: nodes.length, ...mergeBusiest(nodes, limit) } };
  });

  route('get', '/admin/api/channel', async (req) => {
    admin(req);
    const tenant = tenantOf(ctx, req.query.get('tenant'));
    const ref = resolveChannel(tenant, req.query.get('channel') ?? '');
    const limit = intParam(req, 'limit', 50, 1, MAX_HISTORY);
    const [page, presence] = await Promise.all([
      ctx.engine.history.read(ref, 0),
      ref.opts.presence ? ctx.engine.presence.list(ref) : Promise.resolve(null),
    ]);
    const shown = page.messages.slice(-limit);
    return {
      status: 200,
      body: {
        tenant: tenant.id,
        channel: ref.name,
        namespace: ref.namespace,
        options: ref.opts,
        last: page.last,
        epoch: page.epoch,
        complete: page.complete,
        held: page.messages.length,
        messages: shown.map(messageJson),
        presence,
      },
    };
  });

  route('post', '/admin/api/publish', async (req) => {
    admin(req);
    const body = await req.json();
    if (!isPlainObject(body)) throw new ProtocolError(ErrorCode.BadRequest, 'body must be a JSON object');
    const tenant = tenantOf(ctx, body.tenant);
    const ref = resolveChannel(tenant, body.channel);
    const m = await ctx.publisher.publish(ref, payloadText(body.data));
    return { status: 200, body: { tenant: tenant.id, channel: ref.name, seq: m.seq, time: m.time } };
  });

  const command = async (req: Req, op: ConnectionCommand['op']): Promise<ConnectionReply> => {
    admin(req);
    // The admin token is allowed for every tenant's connections.
    const reply = await ctx.engine.connections.send({ op, conn: req.params[0] ?? '', backendOf: allTenants });
    if (reply.status === 'gone') throw new ProtocolError(ErrorCode.Gone, 'connection is closed or unknown');
    if (reply.status === 'unauthorized') throw new ProtocolError(ErrorCode.PermissionDenied, 'the node that holds the connection refused the command');
    return reply;
  };

  route('get', '/admin/api/connections/:conn', async (req) => {
    const reply = await command(req, 'info');
    return { status: 200, body: reply.status === 'ok' ? (reply.info ?? {}) : {} };
  });

  route('del', '/admin/api/connections/:conn', async (req) => {
    await command(req, 'close');
    return { status: 200, body: { status: 'ok' } };
  });

  return sampler;
}
