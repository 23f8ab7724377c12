import { issueBartnetCredential } from '@switchyard/shared';
import { testTenants, tenantOf } from '@switchyard/testkit';
import { frameTable } from './table.js';

const demo = tenantOf(testTenants(), 'demo');
const hmac = (customer: string) => issueBartnetCredential(demo, customer).credential;
const env = (id: number, command: string, attributes: Record<string, string>) => ({ id, version: 1, command, sent: 12345678, attributes });
const authenticated = (id: number, inReplyTo: number, customer: string) =>
  `{"id":${id},"version":1,"command":"authenticate","sent":T,"in_reply_to":${inReplyTo},"attributes":{"authenticated":"${customer}"}}`;

frameTable('bartnet (seed 000)', [
  {
    name: 'authenticate, then the seed\'s subscribe: unsubscribe_from first, topics in subscription order',
    conns: { c: 'bartnet /bartnet' },
    steps: [
      { send: env(1, 'authenticate', { HMAC: hmac('abc1234') }), want: { c: [authenticated(1, 1, 'abc1234')] } },
      { send: env(2, 'subscribe', { subscribe_to: 'check_results,connected' }), want: { c: ['{"id":2,"version":1,"command":"subscribe","sent":T,"in_reply_to":2,"attributes":{"subscribed_to":"check_results,connected"}}'] } },
      { send: env(3, 'subscribe', { subscribe_to: 'discovery', unsubscribe_from: 'connected' }), want: { c: ['{"id":3,"version":1,"command":"subscribe","sent":T,"in_reply_to":3,"attributes":{"subscribed_to":"check_results,discovery"}}'] } },
      {
        publish: { channel: 'abc1234/discovery', data: { instance_id: 'i-334345', host: 'ec2-255-255-255-255.compute-1.amazonaws.com', service: 'sg-12345', state: 'up', time: 12345678, description: '', tags: ['dev'], metric: 0.0, ttl: 3.5, customer_id: 'forged' } },
        want: { c: ['{"id":4,"version":1,"command":"event","sent":T,"attributes":{"topic":"discovery","seq":"1"},"customer_id":"abc1234","instance_id":"i-334345","host":"ec2-255-255-255-255.compute-1.amazonaws.com","service":"sg-12345","state":"up","time":12345678,"description":"","tags":["dev"],"metric":0,"ttl":3.5}'] },
      },
      { publish: { channel: 'abc1234/connected', data: { state: 'down' } } },
      { send: env(9, 'subscribe', { subscribe_to: 'discovery' }), want: { c: ['{"id":5,"version":1,"command":"subscribe","sent":T,"in_reply_to":9,"attributes":{"subscribed_to":"check_results,discovery"}}'] } },
    ],
  },
  {
    name: 'a second customer is named customer/topic; a topic in both lists is subscribed afresh with its replay',
    conns: { c: 'bartnet /bartnet' },
    steps: [
      { send: env(1, 'authenticate', { HMAC: hmac('acme') }), want: { c: [authenticated(1, 1, 'acme')] } },
      { send: env(2, 'authenticate', { HMAC: hmac('globex') }), want: { c: [authenticated(2, 2, 'globex')] } },
      { publish: { channel: 'globex/discovery', data: 'old news' } },
      {
        send: env(3, 'subscribe', { subscribe_to: 'discovery, globex/discovery' }),
        want: {
          c: [
            '{"id":3,"version":1,"command":"subscribe","sent":T,"in_reply_to":3,"attributes":{"subscribed_to":"discovery,globex/discovery"}}',
            '{"id":4,"version":1,"command":"event","sent":T,"attributes":{"topic":"discovery","seq":"1"},"customer_id":"globex","description":"old news"}',
          ],
        },
      },
      {
        send: env(4, 'subscribe', { subscribe_to: 'globex/discovery', unsubscribe_from: 'globex/discovery' }),
        want: {
          c: [
            '{"id":5,"version":1,"command":"subscribe","sent":T,"in_reply_to":4,"attributes":{"subscribed_to":"discovery,globex/discovery"}}',
            '{"id":6,"version":1,"command":"event","sent":T,"attributes":{"topic":"discovery","seq":"1"},"customer_id":"globex","description":"old news"}',
          ],
        },
      },
    ],
  },
  {
    name: 'errors are error envelopes in the documented order of checks',
    conns: { c: 'bartnet /bartnet' },
    core: { maxSubscriptions: 1 },
    steps: [
      { send: '{nope', want: { c: ['{"id":1,"version":1,"command":"error","sent":T,"attributes":{"error":"malformed JSON","code":"bad_frame"}}'] } },
      { send: { id: 5, version: 2, command: 'subscribe' }, want: { c: ['{"id":2,"version":1,"command":"error","sent":T,"in_reply_to":5,"attributes":{"error":"unsupported version 2: this server speaks version 1","code":"bad_request"}}'] } },
      { send: env(6, 'launch', {}), want: { c: ['{"id":3,"version":1,"command":"error","sent":T,"in_reply_to":6,"attributes":{"error":"unknown command: launch","code":"unknown_command"}}'] } },
      { send: env(7, 'subscribe', { subscribe_to: 'discovery' }), want: { c: ['{"id":4,"version":1,"command":"error","sent":T,"in_reply_to":7,"attributes":{"error":"authenticate first","code":"unauthorized"}}'] } },
      { send: env(8, 'authenticate', { HMAC: 'x' }), want: { c: ['{"id":5,"version":1,"command":"error","sent":T,"in_reply_to":8,"attributes":{"error":"invalid HMAC","code":"token_invalid"}}'] } },
      { send: env(9, 'authenticate', { HMAC: hmac('acme') }), want: { c: [authenticated(6, 9, 'acme')] } },
      { send: env(10, 'subscribe', { subscribe_to: 'nosuch' }), want: { c: ['{"id":7,"version":1,"command":"error","sent":T,"in_reply_to":10,"attributes":{"error":"unknown topic: nosuch","code":"not_found"}}'] } },
      { send: env(11, 'subscribe', { subscribe_to: 'other/discovery' }), want: { c: ['{"id":8,"version":1,"command":"error","sent":T,"in_reply_to":11,"attributes":{"error":"not authenticated for customer other","code":"permission_denied"}}'] } },
      { send: env(12, 'subscribe', { subscribe_to: 'discovery,connected' }), want: { c: ['{"id":9,"version":1,"command":"error","sent":T,"in_reply_to":12,"attributes":{"error":"at most 1 subscriptions per connection","code":"limit_exceeded"}}'] } },
      { send: env(13, 'subscribe', {}), want: { c: ['{"id":10,"version":1,"command":"subscribe","sent":T,"in_reply_to":13,"attributes":{"subscribed_to":""}}'] } },
    ],
  },
]);
