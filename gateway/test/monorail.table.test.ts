import { monorailBroadcastChannel } from '@switchyard/shared';
import type { Core } from './harness.js';
import { frameTable } from './table.js';

const nodes = { tenant: 'demo', resource: 'nodes' };
const put = (id: string, item: unknown) => (core: Core) =>
  core.engine.collections.put(nodes, id, JSON.stringify(item));

frameTable('monorail (seed 001)', [
  {
    name: 'init → session; all and query → list; get → item or remove',
    conns: { c: 'monorail /monorail/nodes?tenant=demo' },
    steps: [
      { act: put('n1', { id: 'n1', type: 'compute' }) },
      { act: put('n2', { id: 'n2', type: 'switch' }) },
      { send: { handler: 'init' }, want: { c: ['{"handler":"session","id":"$c"}'] } },
      { send: { handler: 'all' }, want: { c: ['{"handler":"list","items":[{"id":"n1","type":"compute"},{"id":"n2","type":"switch"}]}'] } },
      { send: { handler: 'query', params: { type: 'switch' } }, want: { c: ['{"handler":"list","items":[{"id":"n2","type":"switch"}]}'] } },
      { send: { handler: 'get', params: { id: 'n1' } }, want: { c: ['{"handler":"item","data":{"id":"n1","type":"compute"}}'] } },
      { send: { handler: 'get', params: { id: 'n9' } }, want: { c: ['{"handler":"remove","params":{"id":"n9"}}'] } },
    ],
  },
  {
    name: 'watch → list, then item and remove until stop',
    conns: { c: 'monorail /monorail/nodes?tenant=demo' },
    steps: [
      { act: put('n1', { id: 'n1', type: 'compute' }) },
      { send: { handler: 'watch', params: { type: 'compute' } }, want: { c: ['{"handler":"list","items":[{"id":"n1","type":"compute"}]}'] } },
      { act: put('n2', { id: 'n2', type: 'compute' }), want: { c: ['{"handler":"item","data":{"id":"n2","type":"compute"}}'] } },
      { act: put('n3', { id: 'n3', type: 'switch' }) },
      { act: put('n1', { id: 'n1', type: 'switch' }), want: { c: ['{"handler":"remove","params":{"id":"n1"}}'] } },
      { send: { handler: 'stop', params: { type: 'compute' } } },
      { act: put('n4', { id: 'n4', type: 'compute' }) },
    ],
  },
  {
    name: 'a server broadcast reaches every connection of the resource, or the ones it names',
    conns: { a: 'monorail /monorail/nodes?tenant=demo', b: 'monorail /monorail/nodes?tenant=demo' },
    steps: [
      {
        act: (core) => core.engine.broker.publish(monorailBroadcastChannel('demo', 'nodes'), JSON.stringify({ message: { handler: 'notice', text: 'hi' } })),
        want: { a: ['{"handler":"notice","text":"hi"}'], b: ['{"handler":"notice","text":"hi"}'] },
      },
    ],
  },
  {
    name: 'errors name the handler and echo the request',
    conns: { c: 'monorail /monorail/nodes?tenant=demo' },
    steps: [
      { send: { handler: 'launch' }, want: { c: ['{"handler":"error","error":"unknown handler: launch","code":"unknown_command","request":{"handler":"launch"}}'] } },
      { send: { handler: 'query', params: 3 }, want: { c: ['{"handler":"error","error":"params must be an object","code":"bad_request","request":{"handler":"query","params":3}}'] } },
      { send: { handler: 'get', params: {} }, want: { c: ['{"handler":"error","error":"params.id is required","code":"bad_request","request":{"handler":"get","params":{}}}'] } },
      { send: '{nope', want: { c: ['{"handler":"error","error":"malformed JSON","code":"bad_frame"}'] } },
    ],
  },
]);
