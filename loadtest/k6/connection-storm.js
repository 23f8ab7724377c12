// k6 connection-storm test against a Switchyard cluster (native protocol): virtual users
// connect, authenticate (when TOKEN is set), subscribe with a resume point, wait for the
// reply, and disconnect — as clients do after a gateway restart.
//
//   k6 run -e WS_URL=wss://switchyard.example.com/v1/ws?tenant=demo -e TOKEN=… \
//          -e PEAK_VUS=5000 loadtest/k6/connection-storm.js
import ws from 'k6/ws';
import { check } from 'k6';
import { Trend, Counter } from 'k6/metrics';

const WS_URL = __ENV.WS_URL || 'ws://127.0.0.1:8080/v1/ws?tenant=demo';
const TOKEN = __ENV.TOKEN || '';
const CHANNEL = __ENV.CHANNEL || 'news:k6';
const PEAK_VUS = Number(__ENV.PEAK_VUS || 2000);

const subscribeTime = new Trend('switchyard_subscribe_time', true);
const refused = new Counter('switchyard_subscribe_errors');

export const options = {
  scenarios: {
    storm: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '20s', target: PEAK_VUS },
        { duration: '40s', target: PEAK_VUS },
        { duration: '10s', target: 0 },
      ],
    },
  },
  thresholds: { switchyard_subscribe_errors: ['count==0'], switchyard_subscribe_time: ['p(99)<1000'] },
};

export default function () {
  const started = Date.now();
  const res = ws.connect(WS_URL, {}, function (socket) {
    socket.on('open', function () {
      if (TOKEN) socket.send(JSON.stringify({ type: 'auth', id: 'a', token: TOKEN }));
      socket.send(JSON.stringify({ type: 'subscribe', id: 's', channel: CHANNEL, after: 0 }));
    });
    socket.on('message', function (raw) {
      const f = JSON.parse(raw);
      if (f.type === 'reply' && f.id === 's') {
        if (f.error) refused.add(1);
        else subscribeTime.add(Date.now() - started);
        socket.close();
      }
    });
    socket.setTimeout(function () {
      refused.add(1);
      socket.close();
    }, 10000);
  });
  check(res, { 'upgraded (101)': (r) => r && r.status === 101 });
}
