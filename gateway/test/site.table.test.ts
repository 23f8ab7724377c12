import { issueSiteToken, siteChannelAuth } from '@switchyard/shared';
import { TENANTS } from '@switchyard/testkit';
import { frameTable } from './table.js';

const SECRET = TENANTS.tenants.demo.secret;
const { token } = issueSiteToken('demo', SECRET);
/** A subscribe as seed 002 writes it, with a valid token and channel auth. */
const subscribe = (channel: string, after: number, reqId?: string, auth = siteChannelAuth(SECRET, channel, token)) => ({
  request: 'subscribe',
  ...(reqId !== undefined ? { req_id: reqId } : {}),
  body: { channel, after, token, auth },
});

frameTable('site (seed 002)', [
  {
    name: 'subscribe answers ok with body null, echoing req_id; messages carry ord',
    conns: { c: 'site /ws?site=demo' },
    steps: [
      { send: subscribe('foo', 0, '32r2'), want: { c: ['{"response":"ok","req_id":"32r2","body":null}'] } },
      { publish: { channel: 'foo', data: { text: 'hi' } }, want: { c: ['{"message":"foo","ord":1,"body":{"text":"hi"}}'] } },
      { send: { request: 'unsubscribe', body: { channel: 'foo' } }, want: { c: ['{"response":"ok","body":null}'] } },
      { publish: { channel: 'foo', data: 2 } },
    ],
  },
  {
    name: 'after N replays what follows N; -1 the last message; 0 nothing',
    conns: { n: 'site /ws?site=demo', last: 'site /ws?site=demo', zero: 'site /ws?site=demo' },
    steps: [
      { on: 'n', publish: { channel: 'chat:r', data: 'a' } },
      { on: 'n', publish: { channel: 'chat:r', data: 'b' } },
      { on: 'n', publish: { channel: 'chat:r', data: 'c' } },
      { on: 'n', send: subscribe('chat:r', 1), want: { n: ['{"response":"ok","body":null}', '{"message":"chat:r","ord":2,"body":"b"}', '{"message":"chat:r","ord":3,"body":"c"}'] } },
      { on: 'last', send: subscribe('chat:r', -1), want: { last: ['{"response":"ok","body":null}', '{"message":"chat:r","ord":3,"body":"c"}'] } },
      { on: 'zero', send: subscribe('chat:r', 0), want: { zero: ['{"response":"ok","body":null}'] } },
    ],
  },
  {
    name: 'errors answer with the message as body',
    conns: { c: 'site /ws?site=demo' },
    steps: [
      { send: subscribe('foo', 0, '1', 'bad'), want: { c: ['{"response":"error","req_id":"1","body":"auth does not match channel and token"}'] } },
      { send: { request: 'launch', req_id: 7 }, want: { c: ['{"response":"error","req_id":7,"body":"unknown request: launch"}'] } },
      { send: '{nope', want: { c: ['{"response":"error","body":"malformed JSON"}'] } },
      { send: [1], want: { c: ['{"response":"error","body":"request must be a JSON object"}'] } },
      { send: { request: 'subscribe', body: { channel: 'foo', after: 1.5 } }, want: { c: ['{"response":"error","body":"after must be an integer >= -1"}'] } },
      { send: { request: 'unsubscribe', req_id: 'u', body: { channel: 'foo' } }, want: { c: ['{"response":"error","req_id":"u","body":"not subscribed to foo"}'] } },
      { send: subscribe('foo', 0, 'a'), want: { c: ['{"response":"ok","req_id":"a","body":null}'] } },
      { send: subscribe('foo', 0, 'b'), want: { c: ['{"response":"error","req_id":"b","body":"already subscribed to foo"}'] } },
    ],
  },
]);
