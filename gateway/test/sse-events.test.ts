import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochTag } from '../src/core/epoch-tag.js';
import { dataLines, formatEventId, namedEvent, parseEventId } from '../src/dialects/sse-events.js';

test('sse event ids: every channel\'s position, read back exactly; anything else is not an id', () => {
  const tag = epochTag('1805723e-534b-47a3-b27f-a9906f900112.1');
  assert.match(tag, /^[0-9a-f]{12}$/);
  assert.equal(epochTag(''), '', 'history-less channels have no epoch');
  assert.notEqual(epochTag('SY_4_demo_chat@2026-12-01T20:27:39.569341953Z'), epochTag('SY_4_demo_chat@2026-12-01T20:27:39.569341954Z'));
  const positions = [{ seq: 17, tag }, { seq: 0, tag: '' }, { seq: Number.MAX_SAFE_INTEGER, tag }];
  const id = formatEventId(positions);
  assert.equal(id, `17.${tag}_0_${Number.MAX_SAFE_INTEGER}.${tag}`);
  assert.deepEqual(parseEventId(id, 3), positions);
  for (const bad of [id.replace('_0_', '__'), `${id}_1`, '01.abcdefabcdef', '1.ABCDEFABCDEF', '1.abc', '-1', '1e3', ' 1', '99999999999999999', 'x'.repeat(200)]) {
    assert.equal(parseEventId(bad, 3), undefined, bad);
  }
  assert.equal(parseEventId(id, 2), undefined, 'for another list of channels');
});

test('sse event text: line breaks inside data become data lines the client joins back', () => {
  assert.equal(dataLines('{"a":1}'), 'data: {"a":1}\n');
  const text = '{"a":\n1,\r\n"b":\r2}';
  const lines = dataLines(text);
  assert.equal(lines, 'data: {"a":\ndata: 1,\ndata: "b":\ndata: 2}\n');
  // What an EventSource does: the data lines' values, joined with \n.
  const joined = lines.trimEnd().split('\n').map((l) => l.slice('data: '.length)).join('\n');
  assert.deepEqual(JSON.parse(joined), JSON.parse(text));
  assert.equal(namedEvent('close', { code: 4100 }), 'event: close\ndata: {"code":4100}\n\n');
  assert.equal(namedEvent('subscribed', {}, '1_2'), 'event: subscribed\nid: 1_2\ndata: {}\n\n');
});
