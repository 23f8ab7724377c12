import { readFileSync } from 'node:fs';

/** The parts of a Grafana dashboard JSON this test reads. */
export interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  /** Rows that are collapsed hold their panels here. */
  panels?: Panel[];
}

export interface Target {
  refId: string;
  expr: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}

export interface Variable {
  name: string;
  type: string;
  query?: string | { query: string };
  definition?: string;
  allValue?: string;
  includeAll?: boolean;
}

/** A panel query to check: which panel, which target, the expression as Grafana would send it. */
export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
}

export function loadDashboard(path: string): Dashboard {
  return JSON.parse(readFileSync(path, 'utf8')) as Dashboard;
}

/** Every panel that is not a row, collapsed rows' panels included, in order. */
export function panelsOf(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

/**
 * What a `query` variable asks Prometheus: `label_values(<selector>, <label>)`, split, or
 * undefined for another kind of query.
 */
export function labelValuesQuery(v: Variable): { selector: string; label: string } | undefined {
  const q = typeof v.query === 'string' ? v.query : v.query?.query;
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q ?? '');
  return m ? { selector: m[1]!, label: m[2]! } : undefined;
}

/**
 * Grafana's interpolation of a panel expression, for a Prometheus scraped every second:
 * `$__rate_interval` is the larger of interval + scrape interval and 4 × the scrape interval
 * (4s here), `$__interval` the scrape interval, and each query variable left at "All"
 * becomes its `allValue` (the dashboard's variables have one: `.*`).
 */
export function interpolate(expr: string, variables: readonly Variable[], values: Record<string, string> = {}): string {
  const builtIn: Record<string, string> = { __rate_interval: '4s', __interval: '1s', __range: '1m' };
  const lookup = (name: string): string => {
    if (name in values) return values[name]!;
    if (name in builtIn) return builtIn[name]!;
    const v = variables.find((x) => x.name === name);
    if (v?.includeAll === true && v.allValue !== undefined) return v.allValue;
    throw new Error(`no value for the variable $${name} in ${expr}`);
  };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => lookup((braced ?? bare)!));
}

/** Every target of every panel, interpolated. */
export function panelQueries(d: Dashboard, values: Record<string, string> = {}): PanelQuery[] {
  const variables = d.templating.list;
  return panelsOf(d).flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: interpolate(t.expr, variables, values) })));
}
