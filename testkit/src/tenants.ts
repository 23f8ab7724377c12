import { parseTenants, type Tenant, type TenantRegistry } from '@switchyard/shared';

/**
 * The tenants file the tests run with: `demo` (namespaces with and without history,
 * presence, client publishing; MonoRail resources) and `other` (anonymous clients).
 */
export const TENANTS = Object.freeze({
  adminToken: 'test-admin-token',
  tenants: {
    demo: {
      secret: 'demo-client-secret',
      postSecret: 'demo-post-secret',
      backendSecret: 'demo-backend-secret',
      namespaces: {
        chat: { history: 100, historyTtlSeconds: 3600, presence: true, clientPublish: true },
        small: { history: 3 },
        live: { history: 0 },
        logs: { history: 100 },
      },
      monorail: {
        resources: {
          nodes: { type: 'collection' },
          catalogs: { type: 'collection', idField: 'catalogId' },
          'workflow-logs': { type: 'topic', channel: 'logs:workflows' },
        },
      },
    },
    other: {
      secret: 'other-client-secret',
      postSecret: 'other-post-secret',
      backendSecret: 'other-backend-secret',
      anonymous: true,
    },
  },
});

/** The fixture as a registry; `demo`'s keys may be added or replaced (e.g. `{ otter: { requireAuth: true } }`). */
export function testTenants(demo: Record<string, unknown> = {}): TenantRegistry {
  return parseTenants({ ...TENANTS, tenants: { ...TENANTS.tenants, demo: { ...TENANTS.tenants.demo, ...demo } } });
}

/** One tenant of a registry, or a failed test. */
export function tenantOf(reg: TenantRegistry, id: string): Tenant {
  const t = reg.tenants.get(id);
  if (t === undefined) throw new Error(`tenant ${id} is not in the fixture`);
  return t;
}
