import type { Dialect, DialectContext } from '../core/dialect.js';
import { BartnetDialect } from './bartnet.js';
import { MonorailDialect } from './monorail.js';
import { NativeDialect } from './native.js';
import { OtterDialect } from './otter.js';
import { SiteDialect } from './site.js';
import { WsaasDialect } from './wsaas.js';

/** Every dialect the gateway serves, each at its own path: adding one is one line here. */
export function createDialects(ctx: DialectContext, o: { readonly hookIdleTimeoutSeconds: number }): Dialect[] {
  return [
    new NativeDialect(ctx),
    new SiteDialect(ctx),
    new BartnetDialect(ctx),
    new OtterDialect(ctx),
    new WsaasDialect(ctx, o.hookIdleTimeoutSeconds),
    new MonorailDialect(ctx),
  ];
}
