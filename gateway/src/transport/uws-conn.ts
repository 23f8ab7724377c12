import type { WebSocket } from 'uWebSockets.js';
import type { Conn } from '../core/session.js';

/**
 * Adapts a uWS socket to the core's `Conn`. uWS throws on any use of a closed socket, so
 * every call checks `open`, which the close handler clears.
 */
export class UwsConn<T> implements Conn {
  open = true;

  constructor(private readonly ws: WebSocket<T>) {}

  send(frame: Uint8Array | string, binary: boolean): number {
    return this.open ? this.ws.send(frame, binary, false) : 2;
  }

  bufferedAmount(): number {
    return this.open ? this.ws.getBufferedAmount() : 0;
  }

  cork(fn: () => void): void {
    if (this.open) this.ws.cork(fn);
  }

  subscribe(topic: string): void {
    if (this.open) this.ws.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    if (this.open) this.ws.unsubscribe(topic);
  }

  end(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.ws.end(code, reason);
  }
}
