import { readFileSync } from 'node:fs';

/** One instruction of a Dockerfile: `COPY --from=build a b` → { op: 'COPY', flags: {from: 'build'}, args: ['a', 'b'] }. */
export interface Instruction {
  readonly op: string;
  readonly flags: Readonly<Record<string, string>>;
  readonly args: readonly string[];
  /** The text after the op, continuations joined. */
  readonly text: string;
}

/** The instructions of the last stage (after the last FROM): what the image runs. */
export function finalStage(file: string): Instruction[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const joined: string[] = [];
  let cur = '';
  for (const raw of lines) {
    const line = raw.trim();
    if (cur === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      cur += `${line.slice(0, -1)} `;
      continue;
    }
    joined.push(cur + line);
    cur = '';
  }
  const all = joined.map(parse);
  const from = all.map((i) => i.op).lastIndexOf('FROM');
  return all.slice(from + 1);
}

function parse(line: string): Instruction {
  const space = line.indexOf(' ');
  const op = line.slice(0, space).toUpperCase();
  const text = line.slice(space + 1).trim();
  const words = text.split(/\s+/);
  const flags: Record<string, string> = {};
  while (words[0]?.startsWith('--')) {
    const [k, v] = (words.shift() as string).slice(2).split('=');
    flags[k as string] = v ?? '';
  }
  return { op, flags, args: words, text };
}

/** `ENV A=1 B=2` instructions of a stage, as one map. */
export function envOf(stage: readonly Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.filter((x) => x.op === 'ENV')) {
    for (const pair of i.args) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** The JSON-array form of ENTRYPOINT / CMD. */
export function execForm(stage: readonly Instruction[], op: 'ENTRYPOINT' | 'CMD'): string[] {
  const i = stage.filter((x) => x.op === op).at(-1);
  if (i === undefined) return [];
  return JSON.parse(i.text) as string[];
}
