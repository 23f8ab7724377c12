// k6 fan-out test against a Switchyard cluster (native protocol).
//
//   k6 run -e WS_URL=wss://switchyard.example.com/v1/ws?tenant=demo \
//          -e API_URL=https://switchyard-api.example.com -e BACKEND_SECRET=… -e TOKEN=… \
//          -e SUBSCRIBERS=2000 -e RATE=50 -e DURATION=60s loadtest/k6/fanout.js
//
// SUBSCRIBERS virtual users each hold one WebSocket subscribed to CHANNEL; one publisher
// posts RATE messages/s through the control API. Reported: delivered messages, delivery
// latency (publish time → receive time, so run k6 on one machine), gaps in seq.
import ws from 'k6/ws';
import http from 'k6/http';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const WS_URL = __ENV.WS_URL || 'ws://127.0.0.1:8080/v1/ws?tenant=demo';
const API_URL = __ENV.API_URL || 'http://127.0.0.1:8080';
const TENANT = __ENV.TENANT || 'demo';
const CHANNEL = __ENV.CHANNEL || 'news:k6';
const TOKEN = __ENV.TOKEN || ''; // a native token (POST /v1/tokens); empty for anonymous tenants
const BACKEND_SECRET = __ENV.BACKEND_SECRET || 'demo-backend-secret';
const SUBSCRIBERS = Number(__ENV.SUBSCRIBERS || 2000);
const RATE = Number(__ENV.RATE || 50);
const DURATION = __ENV.DURATION || '60s';
const HOLD_MS = Number(__ENV.HOLD_MS || 75000);

const delivered = new Counter('switchyard_delivered');
const gaps = new Counter('switchyard_seq_gaps');
const latency = new Trend('switchyard_delivery_latency', true);

export const options = {
  scenarios: {
    subscribers: { executor: 'per-vu-iterations', vus: SUBSCRIBERS, iterations: 1, maxDuration: '10m', exec: 'subscriber' },
    publisher: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      startTime: '10s', // let the subscribers connect first
      preAllocatedVUs: 10,
      maxVUs: 100,
      exec: 'publisher',
    },
  },
  thresholds: { switchyard_seq_gaps: ['count==0'] },
};

export function subscriber() {
  const res = ws.connect(WS_URL, { headers: {} }, function (socket) {
    let last = 0;
    socket.on('open', function () {
      if (TOKEN) socket.send(JSON.stringify({ type: 'auth', id: 'a', token: TOKEN }));
      socket.send(JSON.stringify({ type: 'subscribe', id: 's', channel: CHANNEL }));
    });
    socket.on('message', function (raw) {
      const f = JSON.parse(raw);
      if (f.type !== 'message') return;
      delivered.add(1);
      if (last !== 0 && f.seq !== last + 1) gaps.add(1);
      last = f.seq;
      if (f.data && f.data.t) latency.add(Date.now() - f.data.t);
    });
    socket.setTimeout(function () {
      socket.close();
    }, HOLD_MS);
  });
  check(res, { 'upgraded (101)': (r) => r && r.status === 101 });
}

export function publisher() {
  const res = http.post(
    `${API_URL}/v1/publish`,
    JSON.stringify({ tenant: TENANT, channel: CHANNEL, data: { t: Date.now(), pad: 'x'.repeat(60) } }),
    { headers: { 'content-type': 'application/json', authorization: `Bearer ${BACKEND_SECRET}` } },
  );
  check(res, { 'published (200)': (r) => r.status === 200 });
}
