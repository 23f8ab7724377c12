import type { EndpointStats } from './driver.js';

/** Figures of a fuzz run as the test prints them. */

export const mb = (kb: number): string => (kb / 1024).toFixed(1);

/** `key: count, …` sorted by key; `none` when empty. */
export function counts<K>(m: Map<K, number>): string {
  return (
    [...m.entries()]
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])))
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ') || 'none'
  );
}

export function describeEndpoint(e: EndpointStats): string {
  return `${e.name}: ${e.frames} frames, ${e.sentinels} sentinels, ${e.connections} connections, server closes {${counts(e.closes)}}, odd upgrades {${counts(e.upgrades)}}`;
}

/** The server's log lines by level and message, most frequent first (what the fuzz provoked, e.g. refused WSaaS upgrades). */
export function logSummary(stdout: string): string {
  const by = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    let key = 'not JSON';
    try {
      const l = JSON.parse(line) as { level?: number; msg?: string };
      key = `level ${l.level} "${l.msg}"`;
    } catch {
      // counted as not JSON (the log check reports such lines)
    }
    by.set(key, (by.get(key) ?? 0) + 1);
  }
  return [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${v}× ${k}`).join(', ');
}
