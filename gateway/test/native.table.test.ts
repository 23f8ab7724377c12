import { signClientToken } from '@switchyard/shared';
import { TENANTS } from '@switchyard/testkit';
import { frameTable } from './table.js';

const token = signClientToken(TENANTS.tenants.demo.secret, { user: 'alice', info: { name: 'Alice' }, channels: ['chat:*', 'news'], exp: 4102444800 });

frameTable('native (docs/protocol.md)', [
  {
    name: 'hello, auth, subscribe with resume, publish, presence, ping, unsubscribe',
    conns: { a: 'native /v1/ws?tenant=demo' },
    greet: { a: ['{"type":"hello","version":1,"conn":"$a","node":"n1","auth":"required"}'] },
    steps: [
      { publish: { channel: 'chat:lobby', data: { text: 'one' } } },
      { send: { type: 'auth', id: 2, token }, want: { a: ['{"type":"reply","id":2,"result":{"conn":"$a","user":"alice","exp":4102444800}}'] } },
      {
        send: { type: 'subscribe', id: 3, channel: 'chat:lobby', after: 0 },
        want: {
          a: [
            '{"type":"reply","id":3,"result":{"channel":"chat:lobby","last":1,"recovered":true,"epoch":E}}',
            '{"type":"message","channel":"chat:lobby","seq":1,"time":T,"data":{"text":"one"}}',
          ],
        },
      },
      {
        send: { type: 'publish', id: 5, channel: 'chat:lobby', data: { text: 'hi from alice' } },
        want: {
          a: [
            '{"type":"message","channel":"chat:lobby","seq":2,"time":T,"data":{"text":"hi from alice"},"from":{"conn":"$a","user":"alice","info":{"name":"Alice"}}}',
            '{"type":"reply","id":5,"result":{"seq":2,"time":T}}',
          ],
        },
      },
      { send: { type: 'publish', ack: false, channel: 'chat:lobby', data: 3 }, want: { a: ['{"type":"message","channel":"chat:lobby","seq":3,"time":T,"data":3,"from":{"conn":"$a","user":"alice","info":{"name":"Alice"}}}'] } },
      { send: { type: 'presence', id: 6, channel: 'chat:lobby' }, want: { a: ['{"type":"reply","id":6,"result":{"channel":"chat:lobby","clients":[{"conn":"$a","user":"alice","info":{"name":"Alice"}}]}}'] } },
      { send: { type: 'ping', id: 7 }, want: { a: ['{"type":"reply","id":7,"result":{}}'] } },
      { send: { type: 'unsubscribe', id: 8, channel: 'chat:lobby' }, want: { a: ['{"type":"reply","id":8,"result":{}}'] } },
      { publish: { channel: 'chat:lobby', data: 4 } },
    ],
  },
  {
    name: 'errors: typed codes, correlated by id when the frame had one',
    conns: { a: 'native /v1/ws?tenant=demo' },
    greet: { a: ['{"type":"hello","version":1,"conn":"$a","node":"n1","auth":"required"}'] },
    steps: [
      { send: '{nope', want: { a: ['{"type":"error","error":{"code":101,"name":"bad_frame","message":"frame is not valid JSON"}}'] } },
      { send: { type: 'nope', id: 9 }, want: { a: ['{"type":"reply","id":9,"error":{"code":102,"name":"unknown_command","message":"unknown command type \'nope\'"}}'] } },
      { send: { type: 'ping', id: {} }, want: { a: ['{"type":"error","error":{"code":103,"name":"bad_request","message":"id must be a string or a finite number"}}'] } },
      { send: '{"type":"ping","id":1e400}', want: { a: ['{"type":"error","error":{"code":103,"name":"bad_request","message":"id must be a string or a finite number"}}'] } },
      { send: { type: 'subscribe', id: 1, channel: 'chat:x' }, want: { a: ['{"type":"reply","id":1,"error":{"code":110,"name":"unauthorized","message":"authenticate first: send {\\"type\\":\\"auth\\",\\"token\\":…}"}}'] } },
      { send: { type: 'auth', id: 2, token: 'x' }, want: { a: ['{"type":"reply","id":2,"error":{"code":111,"name":"token_invalid","message":"invalid token: not a JWT"}}'] } },
      { send: { type: 'auth', id: 3, token }, want: { a: ['{"type":"reply","id":3,"result":{"conn":"$a","user":"alice","exp":4102444800}}'] } },
      { send: { type: 'subscribe', id: 4, channel: 'logs:x' }, want: { a: ['{"type":"reply","id":4,"error":{"code":113,"name":"permission_denied","message":"token does not allow channel logs:x"}}'] } },
      { send: { type: 'subscribe', id: 5, channel: 'chat:x', after: -2 }, want: { a: ['{"type":"reply","id":5,"error":{"code":103,"name":"bad_request","message":"after must be an integer >= -1"}}'] } },
      { send: { type: 'unsubscribe', id: 6, channel: 'chat:x' }, want: { a: ['{"type":"reply","id":6,"error":{"code":122,"name":"not_subscribed","message":"not subscribed to chat:x"}}'] } },
      { send: { type: 'auth', id: 7, token: signClientToken(TENANTS.tenants.demo.secret, { user: 'bob' }) }, want: { a: ['{"type":"reply","id":7,"error":{"code":113,"name":"permission_denied","message":"a connection cannot change its user"}}'] } },
    ],
  },
]);
