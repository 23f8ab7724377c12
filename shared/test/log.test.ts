import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';

const SCRIPT = `
import { createLogger, logUnhandledRejections } from './shared/src/index.js';
logUnhandledRejections(createLogger('error'));
Promise.reject(new Error('a stray rejection'));
setTimeout(() => process.stdout.write('still running\\n'), 50);
`;

test('logUnhandledRejections: a stray rejection is logged and the process goes on (Node would exit)', async () => {
  const run = (script: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--conditions=source', '--input-type=module', '-e', script], { timeout: 20_000 }, (err, stdout) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout }),
      );
    });
  const guarded = await run(SCRIPT);
  assert.equal(guarded.code, 0);
  assert.match(guarded.out, /unhandled promise rejection.*a stray rejection|a stray rejection.*unhandled promise rejection/s);
  assert.match(guarded.out, /still running/);
  const bare = await run(SCRIPT.replace(/^logUnhandledRejections.*$/m, ''));
  assert.notEqual(bare.code, 0, 'without it, Node exits');
});
