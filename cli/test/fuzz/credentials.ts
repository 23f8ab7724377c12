import { signClientToken } from '@switchyard/shared';
import { DEMO_BACKEND, DEMO_SECRET, type Credentials } from './seeds.js';

/** Valid credentials of every dialect for the demo tenant: native tokens signed here, the others asked of the server. */
export async function fetchCredentials(base: string): Promise<Credentials> {
  const json = (path: string, init?: RequestInit) => fetchJson(base, path, init);
  const bartnet = (customer: string) =>
    json('/bartnet/authorize', { method: 'POST', headers: { authorization: DEMO_BACKEND }, body: JSON.stringify({ customer_id: customer }) }).then((b) => String(b.HMAC));
  return {
    nativeToken: signClientToken(DEMO_SECRET, { user: 'fuzz' }),
    chatToken: signClientToken(DEMO_SECRET, { user: 'fuzz', channels: ['chat:*'] }),
    siteToken: String((await json('/token?site=demo')).token),
    bartnet: [await bartnet('abc1234'), await bartnet('cust-2')],
  };
}

/** Replaces the site token every minute (a token lives 300 s) until the returned function is called. */
export function refreshSiteToken(base: string, creds: Credentials): () => void {
  const timer = setInterval(() => {
    fetchJson(base, '/token?site=demo').then(
      (b) => (creds.siteToken = String(b.token)),
      () => {}, // the server not answering is what the health check reports
    );
  }, 60_000);
  return () => clearInterval(timer);
}

async function fetchJson(base: string, path: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(base + path, { ...init, signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`${path} answered ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}
