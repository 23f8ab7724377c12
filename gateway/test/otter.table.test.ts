import { hmacHex, purposeKey } from '@switchyard/shared';
import { TENANTS } from '@switchyard/testkit';
import { frameTable, type Ids } from './table.js';

const { secret, backendSecret } = TENANTS.tenants.demo;
/** A backend's command: signed with its own connection id. */
const signed = (cmd: Record<string, unknown>) => (ids: Ids) => ({ ...cmd, signature: hmacHex(purposeKey(backendSecret, 'otter-backend'), ids.be!) });
const auth = { command: 'auth', presence: 'arbitrary text', signature: hmacHex(purposeKey(secret, 'otter-presence'), 'arbitrary text') };

frameTable('otter (seed 004)', [
  {
    name: 'the id on connect; silent success; a backend hears sub, pub and unsub; clients hear backend pubs',
    conns: { cl: 'otter /otter?tenant=demo', be: 'otter /otter?tenant=demo' },
    greet: { cl: ['{"id":"$cl"}'], be: ['{"id":"$be"}'] },
    steps: [
      { on: 'be', send: signed({ command: 'sub', channel: 'channel name' }) },
      { on: 'cl', send: auth },
      {
        on: 'cl',
        send: { command: 'sub', channel: 'channel name' },
        want: { be: ['{"type":"sub","channel":"channel name","connection":{"id":"$cl","presence":"arbitrary text"}}'] },
      },
      { on: 'cl', send: { command: 'sub', channel: 'channel name' } }, // already subscribed: nothing happens
      {
        on: 'cl',
        send: { command: 'pub', channel: 'channel name', message: 'message' },
        want: { be: ['{"type":"pub","channel":"channel name","message":"message","connection":{"id":"$cl","presence":"arbitrary text"}}'] },
      },
      {
        on: 'be',
        send: signed({ command: 'pub', channel: 'channel name', message: 'message' }),
        want: { cl: ['{"type":"pub","channel":"channel name","message":"message","connection":{"id":"$be"}}'] },
      },
      { on: 'cl', send: { command: 'unsub', channel: 'channel name' }, want: { be: ['{"type":"unsub","channel":"channel name","connection":{"id":"$cl","presence":"arbitrary text"}}'] } },
      { on: 'cl', send: { command: 'unsub', channel: 'channel name' } }, // not subscribed: nothing happens
      { on: 'cl', send: { command: 'sub', channel: 'channel name' }, want: { be: ['{"type":"sub","channel":"channel name","connection":{"id":"$cl","presence":"arbitrary text"}}'] } },
      { on: 'cl', close: true, want: { be: ['{"type":"unsub","channel":"channel name","connection":{"id":"$cl","presence":"arbitrary text"}}'] } },
    ],
  },
  {
    name: 'errors echo the command in from',
    conns: { cl: 'otter /otter?tenant=demo' },
    greet: { cl: ['{"id":"$cl"}'] },
    steps: [
      { send: { command: 'auth', presence: 'p', signature: 'bad' }, want: { cl: ['{"error":"invalid signature","from":{"command":"auth","presence":"p","signature":"bad"}}'] } },
      { send: '{nope', want: { cl: ['{"error":"malformed JSON","from":"{nope"}'] } },
      { send: [1], want: { cl: ['{"error":"command must be a JSON object","from":[1]}'] } },
      { send: { command: 'launch', x: 1 }, want: { cl: ['{"error":"unknown command: launch","from":{"command":"launch","x":1}}'] } },
      { send: { command: 'sub', channel: '' }, want: { cl: ['{"error":"channel must be 1-200 characters without control characters","from":{"command":"sub","channel":""}}'] } },
      { send: { command: 'pub', channel: 'c' }, want: { cl: ['{"error":"message is required","from":{"command":"pub","channel":"c"}}'] } },
      { send: { command: 'sub', channel: 'c', signature: 'nope' }, want: { cl: ['{"error":"invalid signature","from":{"command":"sub","channel":"c","signature":"nope"}}'] } },
    ],
  },
]);
