/** A frame or request the fuzzer sent, as the failure report shows it. */
export interface Sent {
  readonly at: number;
  readonly endpoint: string;
  readonly conn: string | undefined;
  readonly how: string;
  readonly preview: string;
}

/** The last `size` things sent on one endpoint, oldest first: what a failure report quotes. */
export class Ring {
  private readonly items: Sent[] = [];

  constructor(private readonly size = 24) {}

  push(s: Sent): void {
    this.items.push(s);
    if (this.items.length > this.size) this.items.shift();
  }

  /** The entries sent at or before `at` (all of them without it), oldest first. */
  list(at = Infinity): Sent[] {
    return this.items.filter((s) => s.at <= at);
  }
}

/** A frame's first bytes, readable: text as a JSON string, bytes as hex; with the full length. */
export function preview(data: string | Uint8Array, binary: boolean, max = 300): string {
  if (typeof data === 'string') return `${binary ? 'binary' : 'text'} ${JSON.stringify(data.slice(0, max))}${data.length > max ? `… (${data.length} chars)` : ''}`;
  const hex = Buffer.from(data.subarray(0, max / 2)).toString('hex');
  return `${binary ? 'binary' : 'text'} 0x${hex}${data.length > max / 2 ? `… (${data.length} bytes)` : ''}`;
}

export function formatSent(list: readonly Sent[]): string {
  return list.map((s) => `    ${new Date(s.at).toISOString().slice(11, 23)} ${s.endpoint}${s.conn !== undefined ? ` [${s.conn}]` : ''} (${s.how}): ${s.preview}`).join('\n');
}
