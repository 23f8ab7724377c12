/**
 * NATS URLs may carry credentials (`nats://user:pass@host:4222`, or `nats://token@host:4222`).
 * nats.js ignores them in `servers` (the connection then fails to authenticate) and anything
 * that logs the servers would log the password. So they are taken out here: the servers keep
 * scheme, host and port only, and the credentials join the `--nats-user`/`--nats-pass`/
 * `--nats-token` options.
 */
export interface NatsServers {
  readonly servers: string[];
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
}

export interface NatsCredentialFlags {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
}

/** The servers without credentials, and the credentials; throws an Error whose message names the problem (never the secret). */
export function splitNatsUrls(urls: readonly string[], flags: NatsCredentialFlags = {}): NatsServers {
  const servers: string[] = [];
  let found: NatsCredentialFlags | undefined;
  for (const raw of urls) {
    const at = raw.lastIndexOf('@');
    if (at < 0) {
      servers.push(raw);
      continue;
    }
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `nats://${raw}`;
    let u: URL;
    try {
      u = new URL(withScheme);
    } catch {
      throw new Error(`--nats: a URL with credentials could not be read (${redact(raw)})`);
    }
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    const creds: NatsCredentialFlags = u.password !== '' ? { user, pass } : { token: user };
    if (found !== undefined && (found.user !== creds.user || found.pass !== creds.pass || found.token !== creds.token)) {
      throw new Error('--nats: the URLs carry different credentials; give them once (in every URL, or with --nats-user/--nats-pass/--nats-token)');
    }
    found = creds;
    servers.push(`${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`);
  }
  if (found === undefined) return { servers, ...flags };
  const given = flags.user !== undefined || flags.pass !== undefined || flags.token !== undefined;
  if (given && (flags.user !== found.user || flags.pass !== found.pass || flags.token !== found.token)) {
    throw new Error('--nats: credentials in the URL and different ones in --nats-user/--nats-pass/--nats-token; give them once');
  }
  return { servers, ...found };
}

/** A URL with whatever precedes its `@` replaced, for messages. */
export const redact = (url: string): string => url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/]*@/i, (_m, scheme: string | undefined) => `${scheme ?? ''}***@`);
