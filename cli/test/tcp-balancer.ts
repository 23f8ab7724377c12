import type { TestContext } from 'node:test';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';

/**
 * A TCP load balancer: each accepted connection goes to the next target, round robin; a
 * target that refuses the TCP connection is skipped for the next one. `targets` may change
 * at any time. Knows which target each live connection went to.
 */
export class Balancer {
  targets: number[];
  readonly port: number;
  private next = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, port: number, targets: number[]) {
    this.port = port;
    this.targets = targets;
  }

  static async start(t: TestContext, targets: number[]): Promise<Balancer> {
    let b: Balancer | undefined;
    const server = createServer((client) => b!.accept(client));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    b = new Balancer(server, (server.address() as { port: number }).port, targets);
    t.after(() => b!.close());
    return b;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/v1/ws?tenant=demo`;
  }

  private accept(client: Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    // Each connection tries every target once, from its turn on (a shared counter would let
    // concurrent connections send one another to the same dead target twice).
    const targets = [...this.targets];
    const first = this.next++;
    const attempt = (i: number): void => {
      if (i === targets.length || client.destroyed) {
        client.destroy();
        return;
      }
      const port = targets[(first + i) % targets.length]!;
      const up = tcpConnect(port, '127.0.0.1');
      up.once('connect', () => {
        up.removeAllListeners('error');
        this.sockets.add(up);
        up.on('close', () => {
          this.sockets.delete(up);
          client.destroy();
        });
        up.on('error', () => up.destroy());
        client.on('close', () => up.destroy());
        client.pipe(up);
        up.pipe(client);
        client.resume();
      });
      up.once('error', () => attempt(i + 1)); // refused: a dead target
    };
    attempt(0);
  }

  /** Cuts every connection through it and refuses new ones until `targets` is set again. */
  cut(): void {
    this.targets = [];
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
