import type { CliConfig } from './options.js';
import type { Role } from './server.js';

/** What the main thread hands each thread at start. */
export interface ThreadData {
  readonly role: Role;
  readonly config: CliConfig;
  /** 1-based; part of the thread's node id (`<node id>-<index>`). */
  readonly index: number;
}

/** What a process-wide answer is made of: each thread's readiness, or its metrics as JSON. */
export type Gathered = 'ready' | 'metrics';

/** Thread → main thread. */
export type FromThread =
  | { readonly t: 'started'; readonly descriptor: unknown }
  | { readonly t: 'failed'; readonly message: string }
  /** A thread answering `/readyz` or `/metrics` asks for the whole process's answer. */
  | { readonly t: 'gather'; readonly id: number; readonly what: Gathered }
  /** A thread's own part of a gather. */
  | { readonly t: 'part'; readonly id: number; readonly value: unknown }
  | { readonly t: 'stopped' };

/** Main thread → thread. */
export type ToThread =
  | { readonly t: 'url'; readonly url: string }
  | { readonly t: 'part'; readonly id: number; readonly what: Gathered }
  | { readonly t: 'gathered'; readonly id: number; readonly value: unknown }
  /** Close sessions (spread over `spreadMs` when draining) and the engine, then exit. */
  | { readonly t: 'stop'; readonly spreadMs?: number }
  /** Close what is left of a drain at once. */
  | { readonly t: 'hurry' };
