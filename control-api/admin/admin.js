// The Switchyard admin page: plain ES module, no framework, no build step. Every figure comes
// from the control API's /admin/api/… routes (docs/admin.md), named relative to the page (it
// lives at …/admin/), so a proxy may serve it under a path prefix. The admin token travels
// only in the Authorization header. Data from the server is written with textContent, never as HTML.

const TOKEN_KEY = 'switchyard-admin-token';
const SVG = 'http://www.w3.org/2000/svg';
/** How often the page asks for new figures (the server samples every 2 s). */
const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);

// ---- the token: memory and this tab's sessionStorage; localStorage only when "remember" is ticked

let token = sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY);

function keepToken(t, remember) {
  token = t;
  sessionStorage.setItem(TOKEN_KEY, t);
  if (remember) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
}

function forgetToken() {
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the admin API; rejects with an ApiError ({code, message} of the server). */
async function api(path, { method = 'GET', body, auth = token } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${auth}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiError(0, 'network', `the server cannot be reached (${err.message})`);
  }
  let json;
  try {
    json = await res.json();
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new ApiError(res.status, json?.code ?? 'error', json?.message ?? `HTTP ${res.status}`);
  return json;
}

// ---- formatting

const nf = new Intl.NumberFormat('en-US');
const fmtInt = (n) => (n === null || n === undefined ? '–' : nf.format(n));
function fmtRate(r) {
  if (r === null || r === undefined) return '–';
  if (r === 0) return '0';
  if (r < 10) return r.toFixed(1);
  return nf.format(Math.round(r));
}
function fmtBytes(b) {
  if (b === undefined || b === null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return `${b < 10 && i > 0 ? b.toFixed(1) : Math.round(b)} ${units[i]}`;
}
function fmtDuration(s) {
  if (s === undefined || s === null) return '–';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return `${m} min ${s % 60} s`;
  return `${s} s`;
}
const fmtTime = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
/** Hidden channels (dialect-internal traffic) start with a control character. */
const channelLabel = (name) => (/^[\u0000-\u001f]/.test(name) ? `(internal) ${name.slice(1)}` : name);

/** An element with text and attributes; children appended. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
const td = (text, cls) => el('td', { class: cls, text: String(text) });

function banner(text) {
  const b = $('banner');
  b.textContent = text ?? '';
  b.hidden = !text;
}

// ---- sign in / out

function showLogin(message = '') {
  stopPolling();
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  $('token').focus();
}

async function start() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  samples = [];
  lastT = 0;
  await poll();
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const t = $('token').value.trim();
  if (t === '') return;
  $('login-error').textContent = '';
  try {
    await api('api/overview', { auth: t });
  } catch (err) {
    $('login-error').textContent = err.status === 401 ? 'That token is not the admin token.' : err.message;
    return;
  }
  keepToken(t, $('remember').checked);
  $('token').value = '';
  await start();
});

$('logout').addEventListener('click', () => {
  forgetToken();
  showLogin();
});

// ---- the live figures

let samples = [];
let lastT = 0;
let overview;
let pollTimer;

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = undefined;
}

async function poll() {
  stopPolling();
  try {
    const o = await api(`api/overview?since=${lastT}`);
    overview = o;
    const span = o.sampling.keep * o.sampling.everyMs;
    for (const s of o.samples) if (s.t > lastT) samples.push(s);
    if (samples.length > 0) lastT = samples[samples.length - 1].t;
    samples = samples.filter((s) => s.t > o.now - span);
    render(o);
    banner(o.sampling.error ? `The last sample failed: ${o.sampling.error}. The figures shown are older.` : '');
    if ($('busiest-tenant').value !== '') await refreshBusiest();
  } catch (err) {
    if (err.status === 401) {
      forgetToken();
      showLogin('The server no longer accepts the token: sign in again.');
      return;
    }
    banner(err.message);
  }
  if (!document.hidden) pollTimer = setTimeout(poll, POLL_MS);
}

// A hidden tab asks nothing; it catches up when shown again.
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && token && !$('app').hidden && pollTimer === undefined) void poll();
});

function render(o) {
  const t = o.totals;
  $('where').textContent = `${o.engine === 'nats' ? 'cluster' : 'single node'} · ${t.nodes} node${t.nodes === 1 ? '' : 's'} · sampled every ${o.sampling.everyMs / 1000} s${o.engine === 'nats' ? ' while this page is used' : ''} · ${fmtTime(o.sampling.at)}`;
  $('stat-in').textContent = fmtRate(t.inRate);
  $('stat-out').textContent = fmtRate(t.outRate);
  $('stat-connections').textContent = fmtInt(t.connections);
  $('stat-subscriptions').textContent = fmtInt(t.subscriptions);
  $('stat-channels').textContent = fmtInt(t.channels);
  $('stat-nodes').textContent = `${t.ready} / ${o.nodes.length}`;
  $('stat-memory').textContent = fmtBytes(t.memory);
  // The span shown: the samples held, in whole 2-minute steps, from 2 minutes up to the whole ring.
  const full = o.sampling.keep * o.sampling.everyMs;
  const held = samples.length > 0 ? o.now - samples[0].t : 0;
  const span = Math.min(full, Math.max(120_000, Math.ceil(held / 120_000) * 120_000));
  drawChart($('chart-in'), samples, 'in', o.now, span, o.sampling.everyMs);
  drawChart($('chart-out'), samples, 'out', o.now, span, o.sampling.everyMs);
  $('chart-in-now').textContent = t.inRate === null ? '' : `now ${fmtRate(t.inRate)}`;
  $('chart-out-now').textContent = t.outRate === null ? '' : `now ${fmtRate(t.outRate)}`;
  renderNodes(o.nodes);
  renderDialects(o);
  fillTenants(o.tenants);
  if ($('busiest-tenant').value === '') renderBusiest(o.busiest);
}

function renderNodes(nodes) {
  const perProcess = new Map();
  for (const n of nodes) if (n.pid !== undefined) perProcess.set(`${n.host}/${n.pid}`, (perProcess.get(`${n.host}/${n.pid}`) ?? 0) + 1);
  const body = $('nodes').tBodies[0];
  body.replaceChildren(
    ...nodes.map((n) => {
      const shared = perProcess.get(`${n.host}/${n.pid}`) ?? 1;
      const memory = el('td', { class: 'num', title: `heap ${fmtBytes(n.heapUsed)}${n.pid !== undefined ? ` · pid ${n.pid} on ${n.host}` : ''}` }, `${fmtBytes(n.rss)}${shared > 1 ? ` (process of ${shared} threads)` : ''}`);
      const status = el('td', {}, el('span', { class: `status ${n.status.replace(' ', '-')}`, text: n.status }));
      if (n.status === 'missing') status.append(el('span', { class: 'muted small', text: ` since ${fmtTime(n.lastSeen)}` }));
      return el(
        'tr',
        { 'data-node': n.node, 'data-status': n.status },
        td(n.node),
        td(n.role),
        status,
        td(fmtDuration(n.uptime)),
        memory,
        td(fmtInt(n.connections), 'num'),
        td(fmtInt(n.subscriptions), 'num'),
        td(fmtInt(n.channels), 'num'),
        td(fmtRate(n.inRate), 'num'),
        td(fmtRate(n.outRate), 'num'),
      );
    }),
  );
}

/**
 * Dialects as rows; connections and subscriptions of the cluster, then "connections / subscriptions"
 * of each node that holds sockets, as columns. Names come from the data.
 */
function renderDialects(o) {
  const nodes = o.nodes.filter((n) => n.status !== 'missing' && Object.keys(n.dialects).length > 0);
  const names = [...new Set([...Object.keys(o.dialects), ...nodes.flatMap((n) => Object.keys(n.dialects))])].sort();
  const subs = o.dialectSubscriptions ?? {};
  const table = $('dialects');
  table.tHead.replaceChildren(
    el('tr', {}, el('th', { text: 'Dialect' }), el('th', { class: 'num', text: 'Connections' }), el('th', { class: 'num', text: 'Subscriptions' }), ...nodes.map((n) => el('th', { class: 'num', text: `${n.node} (conn. / subs.)` }))),
  );
  table.tBodies[0].replaceChildren(
    ...names.map((d) =>
      el(
        'tr',
        { 'data-dialect': d },
        td(d),
        td(fmtInt(o.dialects[d] ?? 0), 'num total'),
        td(fmtInt(subs[d] ?? 0), 'num subs'),
        ...nodes.map((n) => el('td', { class: 'num', 'data-node': n.node, text: `${fmtInt(n.dialects[d] ?? 0)} / ${fmtInt(n.dialectSubscriptions?.[d] ?? 0)}` })),
      ),
    ),
  );
}

let tenantsShown = '';
function fillTenants(tenants) {
  const key = tenants.join('\n');
  if (key === tenantsShown) return;
  tenantsShown = key;
  for (const sel of document.querySelectorAll('select.tenants')) {
    const keep = sel.value;
    sel.replaceChildren(...tenants.map((t) => el('option', { value: t, text: t })));
    if (tenants.includes(keep)) sel.value = keep;
  }
  const filter = $('busiest-tenant');
  const keep = filter.value;
  filter.replaceChildren(el('option', { value: '', text: 'all tenants' }), ...tenants.map((t) => el('option', { value: t, text: t })));
  filter.value = tenants.includes(keep) ? keep : '';
}

function renderBusiest(b) {
  $('busiest-note').textContent = `Channels with subscribers on a node; messages/s over the nodes' last ${Math.max(1, Math.round(b.windowMs / 1000))} s. Click one to inspect it.`;
  const body = $('busiest').tBodies[0];
  if (b.channels.length === 0) {
    body.replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No channel has subscribers.' })));
    return;
  }
  body.replaceChildren(
    ...b.channels.map((c) => {
      const internal = /^[\u0000-\u001f]/.test(c.channel);
      const row = el('tr', { class: internal ? 'internal' : 'clickable', 'data-tenant': c.tenant, 'data-channel': c.channel }, td(c.tenant), td(channelLabel(c.channel)), td(fmtInt(c.subscribers), 'num'), td(fmtRate(c.rate), 'num'), td(fmtRate(c.deliveries), 'num'), td(c.nodes, 'num'));
      if (!internal) {
        row.addEventListener('click', () => {
          $('inspect-tenant').value = c.tenant;
          $('inspect-channel').value = c.channel;
          void inspect();
        });
      }
      return row;
    }),
  );
}

async function refreshBusiest() {
  const tenant = $('busiest-tenant').value;
  if (tenant === '') {
    if (overview) renderBusiest(overview.busiest);
    return;
  }
  try {
    renderBusiest(await api(`api/channels?tenant=${encodeURIComponent(tenant)}`));
  } catch (err) {
    $('busiest-note').textContent = err.message;
  }
}
$('busiest-tenant').addEventListener('change', () => void refreshBusiest());

// ---- charts: hand-drawn SVG

/** 1, 2 or 5 times a power of ten, at least `x`. */
function niceCeil(x) {
  if (x <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

const svgEl = (tag, attrs = {}) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
};

const chartState = new WeakMap();

/** A line chart of `key` over [now - span, now]: grid, axis labels, one line per run without gaps. */
function drawChart(svg, points, key, now, span, everyMs) {
  const W = 600;
  const H = 170;
  const L = 52;
  const R = 10;
  const T = 10;
  const B = 22;
  const t0 = now - span;
  const shown = points.filter((p) => p.t >= t0);
  const max = niceCeil(Math.max(0, ...shown.map((p) => p[key])));
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const parts = [];
  for (const f of [0, 0.5, 1]) {
    parts.push(svgEl('line', { class: 'grid', x1: L, x2: W - R, y1: y(max * f), y2: y(max * f) }));
    const label = svgEl('text', { class: 'axis', x: L - 6, y: y(max * f) + 4, 'text-anchor': 'end' });
    label.textContent = fmtRate(max * f);
    parts.push(label);
  }
  const minutes = span / 60000;
  for (const [f, text] of [[0, `-${minutes} min`], [0.5, `-${minutes / 2} min`], [1, 'now']]) {
    const label = svgEl('text', { class: 'axis', x: L + f * (W - L - R), y: H - 6, 'text-anchor': f === 0 ? 'start' : f === 1 ? 'end' : 'middle' });
    label.textContent = text;
    parts.push(label);
  }
  // Runs of samples without a gap (the server took none while nobody used the page).
  const runs = [];
  for (const p of shown) {
    const run = runs[runs.length - 1];
    if (run === undefined || p.t - run[run.length - 1].t > 3 * everyMs) runs.push([p]);
    else run.push(p);
  }
  for (const run of runs) {
    const line = run.map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
    const base = y(0).toFixed(1);
    parts.push(svgEl('polygon', { class: 'area', points: `${x(run[0].t).toFixed(1)},${base} ${line} ${x(run[run.length - 1].t).toFixed(1)},${base}` }));
    parts.push(svgEl('polyline', { class: 'line', points: line }));
  }
  if (shown.length > 0) {
    const p = shown[shown.length - 1];
    parts.push(svgEl('circle', { class: 'dot', cx: x(p.t).toFixed(1), cy: y(p[key]).toFixed(1), r: 3 }));
  } else {
    const empty = svgEl('text', { class: 'axis', x: (L + W - R) / 2, y: H / 2, 'text-anchor': 'middle' });
    empty.textContent = 'no samples yet';
    parts.push(empty);
  }
  const hover = svgEl('g', { class: 'hover' });
  parts.push(hover);
  svg.replaceChildren(...parts);
  svg.dataset.points = String(shown.length);
  svg.dataset.last = shown.length > 0 ? String(shown[shown.length - 1][key]) : '';
  chartState.set(svg, { shown, key, x, y, hover, L, R, W, T, H, B });
  if (!svg.dataset.hover) {
    svg.dataset.hover = '1';
    svg.addEventListener('mousemove', (e) => showHover(svg, e));
    svg.addEventListener('mouseleave', () => chartState.get(svg)?.hover.replaceChildren());
  }
}

function showHover(svg, e) {
  const s = chartState.get(svg);
  if (s === undefined || s.shown.length === 0) return;
  const box = svg.getBoundingClientRect();
  const px = ((e.clientX - box.left) / box.width) * s.W;
  let best = s.shown[0];
  for (const p of s.shown) if (Math.abs(s.x(p.t) - px) < Math.abs(s.x(best.t) - px)) best = p;
  const bx = s.x(best.t);
  const text = svgEl('text', { class: 'tip', x: bx > s.W / 2 ? bx - 6 : bx + 6, y: s.T + 12, 'text-anchor': bx > s.W / 2 ? 'end' : 'start' });
  text.textContent = `${fmtTime(best.t)}  ${fmtRate(best[s.key])}/s`;
  s.hover.replaceChildren(svgEl('line', { class: 'cursor', x1: bx, x2: bx, y1: s.T, y2: s.H - s.B }), svgEl('circle', { class: 'dot', cx: bx, cy: s.y(best[s.key]), r: 3 }), text);
}

// ---- channel inspector

$('inspect-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void inspect();
});

async function inspect() {
  const tenant = $('inspect-tenant').value;
  const channel = $('inspect-channel').value;
  const out = $('inspect-result');
  out.replaceChildren(el('p', { class: 'muted', text: 'Reading…' }));
  let r;
  try {
    r = await api(`api/channel?tenant=${encodeURIComponent(tenant)}&channel=${encodeURIComponent(channel)}`);
  } catch (err) {
    out.replaceChildren(el('p', { class: 'error', text: err.message }));
    return;
  }
  const opts = r.options;
  const facts = el(
    'dl',
    { class: 'facts' },
    el('dt', { text: 'Namespace' }), el('dd', { text: r.namespace === '' ? '(default)' : r.namespace }),
    el('dt', { text: 'History' }), el('dd', { text: opts.history === 0 ? 'none' : `${opts.history} messages${opts.historyTtlSeconds > 0 ? `, ${fmtDuration(opts.historyTtlSeconds)}` : ''}` }),
    el('dt', { text: 'Last seq' }), el('dd', { id: 'inspect-last', text: String(r.last) }),
    el('dt', { text: 'Held' }), el('dd', { text: `${r.held}${r.complete ? '' : ' (older ones dropped)'}` }),
    el('dt', { text: 'Epoch' }), el('dd', { class: 'mono small', text: r.epoch || '–' }),
  );
  const rows = r.messages
    .slice()
    .reverse()
    .map((m) =>
      el(
        'tr',
        { 'data-seq': m.seq },
        td(m.seq, 'num'),
        td(fmtTime(m.time)),
        el('td', {}, m.from ? connLink(m.from.conn, m.from.user) : el('span', { class: 'muted', text: 'backend' })),
        el('td', { class: 'mono data', text: truncate(JSON.stringify(m.data), 400) }),
      ),
    );
  const history = el(
    'div',
    { class: 'scroll tall' },
    el('table', { id: 'inspect-history' }, el('thead', {}, el('tr', {}, el('th', { class: 'num', text: 'Seq' }), el('th', { text: 'Time' }), el('th', { text: 'From' }), el('th', { text: 'Data' }))), el('tbody', {}, ...(rows.length > 0 ? rows : [el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'No message held.' }))]))),
  );
  let presence;
  if (r.presence === null) presence = el('p', { class: 'muted', text: 'Presence is off for this namespace.' });
  else if (r.presence.length === 0) presence = el('p', { class: 'muted', text: 'Nobody is present.' });
  else {
    presence = el(
      'ul',
      { id: 'inspect-presence', class: 'presence' },
      ...r.presence.map((p) => el('li', {}, connLink(p.conn, p.user), p.info !== undefined ? el('span', { class: 'mono small', text: ` ${truncate(JSON.stringify(p.info), 120)}` }) : null)),
    );
  }
  out.replaceChildren(facts, el('h3', { text: `History (newest first, ${r.messages.length} shown)` }), history, el('h3', { text: 'Presence' }), presence);
}

const truncate = (s, n) => (s.length > n ? `${s.slice(0, n)}…` : s);

/** A connection id that fills the connection lookup when clicked. */
function connLink(conn, user) {
  const b = el('button', { type: 'button', class: 'link mono', text: user ? `${user} (${conn})` : conn });
  b.addEventListener('click', () => {
    $('conn-id').value = conn;
    void lookup();
  });
  return b;
}

// ---- publish

$('publish-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('publish-result');
  let data;
  try {
    data = JSON.parse($('publish-data').value);
  } catch (err) {
    out.className = 'error';
    out.textContent = `Data is not JSON: ${err.message}`;
    return;
  }
  try {
    const r = await api('api/publish', { method: 'POST', body: { tenant: $('publish-tenant').value, channel: $('publish-channel').value, data } });
    out.className = 'ok';
    out.textContent = `Published to ${r.tenant} / ${r.channel}: seq ${r.seq} at ${fmtTime(r.time)}`;
    out.dataset.seq = String(r.seq);
  } catch (err) {
    out.className = 'error';
    out.textContent = err.message;
  }
});

// ---- connection lookup and disconnect

$('conn-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void lookup();
});

async function lookup() {
  const id = $('conn-id').value.trim();
  const out = $('conn-result');
  $('conn-status').textContent = '';
  $('disconnect').hidden = true;
  try {
    const info = await api(`api/connections/${encodeURIComponent(id)}`);
    out.replaceChildren(el('dl', { class: 'facts', id: 'conn-info' }, ...Object.entries(info).flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { 'data-field': k, text: typeof v === 'string' ? v : JSON.stringify(v) })])));
    $('disconnect').hidden = false;
    $('disconnect').dataset.conn = id;
  } catch (err) {
    out.replaceChildren(el('p', { class: 'error', text: err.status === 410 ? 'No such open connection (it is closed, or the id is wrong).' : err.message }));
  }
}

$('disconnect').addEventListener('click', async () => {
  const id = $('disconnect').dataset.conn;
  try {
    await api(`api/connections/${encodeURIComponent(id)}`, { method: 'DELETE' });
    $('conn-status').className = 'ok';
    $('conn-status').textContent = `Disconnected ${id}.`;
    $('disconnect').hidden = true;
    $('conn-result').replaceChildren();
  } catch (err) {
    $('conn-status').className = 'error';
    $('conn-status').textContent = err.status === 410 ? 'It was already closed.' : err.message;
  }
});

// ---- go

if (token) void start();
else showLogin();
