/** How the load generator speaks to each server under test. */
export type Kind = 'baseline' | 'switchyard';

export interface ProtocolFace {
  /** WebSocket URL for a server on `port`. */
  url(port: number): string;
  /** Frames that subscribe to `channel` (resuming after `after`), then a frame whose answer proves they were handled. */
  subscribe(channel: string, id: number, after?: number): string[];
  /** Whether `text` is the answer to the proof frame of subscription `id`. */
  isSubscribed(text: string, id: number): boolean;
  /** A publish frame carrying `payload` (JSON text) to `channel`. */
  publish(channel: string, payload: string): string;
  /** Whether `text` is a channel message (and not a greeting or a reply). */
  isMessage(text: string): boolean;
  /** What every channel message frame starts with (the same test on bytes). */
  readonly messagePrefix: string;
  /** The path of the WebSocket URL. */
  readonly path: string;
}

export const faces: Record<Kind, ProtocolFace> = {
  baseline: {
    url: (port) => `ws://127.0.0.1:${port}/`,
    path: '/',
    subscribe: (channel, id) => [`{"s":${JSON.stringify(channel)}}`, `{"e":${id}}`],
    isSubscribed: (text, id) => text === `{"e":${id}}`,
    publish: (channel, payload) => `{"p":${JSON.stringify(channel)},"d":${payload}}`,
    isMessage: (text) => text.startsWith('{"c":'),
    messagePrefix: '{"c":',
  },
  switchyard: {
    url: (port) => `ws://127.0.0.1:${port}/v1/ws?tenant=bench`,
    path: '/v1/ws?tenant=bench',
    subscribe: (channel, id, after) => [
      `{"type":"subscribe","id":${id},"channel":${JSON.stringify(channel)}${after === undefined ? '' : `,"after":${after}`}}`,
    ],
    isSubscribed: (text, id) => text.startsWith('{"type":"reply"') && text.includes(`"id":${id},`),
    // ack:false: like the baseline, no answer per publish (errors would still come back).
    publish: (channel, payload) => `{"type":"publish","ack":false,"channel":${JSON.stringify(channel)},"data":${payload}}`,
    isMessage: (text) => text.startsWith('{"type":"message"'),
    messagePrefix: '{"type":"message"',
  },
};

/** Reads an integer or number field `"name":` out of a frame without parsing all of it. */
export function numberField(text: string, name: string): number {
  const key = `"${name}":`;
  const i = text.indexOf(key);
  if (i < 0) return NaN;
  let j = i + key.length;
  while (j < text.length && '-+.0123456789e'.includes(text[j] as string)) j++;
  return Number(text.slice(i + key.length, j));
}

/** A clock shared by the processes of one machine, ms with sub-ms precision. */
export const now = (): number => performance.timeOrigin + performance.now();
