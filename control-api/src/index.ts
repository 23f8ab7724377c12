import type { TemplatedApp } from 'uWebSockets.js';
import type { ControlContext } from './context.js';
import { mountNativeRoutes } from './routes/native.js';
import { mountSiteRoutes } from './routes/site.js';
import { mountBartnetRoutes } from './routes/bartnet.js';
import { mountOtterRoutes } from './routes/otter.js';
import { mountConnectionRoutes } from './routes/connections.js';
import { mountMonorailRoutes } from './routes/monorail.js';
import { mountAdminRoutes } from './routes/admin.js';

export type { ControlContext } from './context.js';
export { ADMIN_CSP } from './routes/admin-page.js';

/** Mounts the control API's REST routes and the admin page on an app (its own, or the dev process's shared one). */
export function mountControlApi(app: TemplatedApp, ctx: ControlContext): void {
  mountNativeRoutes(app, ctx);
  mountSiteRoutes(app, ctx);
  mountBartnetRoutes(app, ctx);
  mountOtterRoutes(app, ctx);
  mountConnectionRoutes(app, ctx);
  mountMonorailRoutes(app, ctx);
  mountAdminRoutes(app, ctx);
}
