// The benchmark's WebSocket receiver and paced HTTP sender, driven by bench/run.py.
//
// Reads one JSON command per line on stdin and answers one JSON line on stdout.
// It speaks graphql-transport-ws to the chat server and to the bare reference
// alike. Each message's content is "t<send time, µs of CLOCK_MONOTONIC> <seq>",
// so the receiver measures send-to-receive latency on the same clock as the
// sender (this process, or wrk's Lua script).
import http from 'node:http';
import readline from 'node:readline';
import WebSocket from 'ws';

const SUBSCRIBE = 'subscription ($userId: String) { messages(userId: $userId) { content senderId recipientId } }';
const SEND = 'mutation ($from: String, $to: String, $content: String) '
  + '{ createMessage(senderId: $from, recipientId: $to, content: $content) '
  + '{ success errors message { content senderId recipientId } } }';

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let sockets = [];
let frames = 0;
let errors = 0;
let latencies = [];
let windowStart = nowUs();
let lastFrame = windowStart;
let onDelivered = null; // (seq) => void, while a closed-loop run is going

function onMessage(ws, raw) {
  const msg = JSON.parse(raw);
  if (msg.type === 'next') {
    const m = msg.payload && msg.payload.data && msg.payload.data.messages;
    if (!m) { errors += 1; return; }
    frames += 1;
    const content = m.content;
    const space = content.indexOf(' ');
    lastFrame = nowUs();
    latencies.push(lastFrame - Number(content.slice(1, space)));
    if (onDelivered) onDelivered(Number(content.slice(space + 1)));
  } else if (msg.type === 'pong') {
    if (ws.onPong) ws.onPong();
  } else if (msg.type === 'connection_ack') {
    if (ws.onAck) ws.onAck();
  } else if (msg.type === 'error' || msg.type === 'complete') {
    errors += 1;
  }
}

function openOne(url, userIds, localAddress) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false, localAddress });
    ws.on('error', reject);
    ws.on('message', (raw) => onMessage(ws, raw));
    ws.on('open', () => ws.send('{"type":"connection_init"}'));
    ws.onAck = () => {
      userIds.forEach((userId, i) => ws.send(JSON.stringify({
        id: String(i + 1), type: 'subscribe', payload: { query: SUBSCRIBE, variables: { userId } },
      })));
      // The server handles a connection's messages in order: the pong says every subscription is registered.
      ws.send('{"type":"ping"}');
    };
    ws.onPong = () => { ws.onPong = null; resolve(ws); };
  });
}

// Open `connections` sockets with `perConnection` subscriptions each; subscription k goes to users[k % users.length].
async function open({ url, connections, perConnection, users, addresses = ['127.0.0.1'], parallel = 200 }) {
  const started = nowUs();
  let next = 0;
  const opened = [];
  async function worker() {
    while (next < connections) {
      const c = next++;
      const ids = [];
      for (let j = 0; j < perConnection; j++) ids.push(String(users[(c * perConnection + j) % users.length]));
      opened.push(await openOne(url, ids, addresses[c % addresses.length]));
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, connections) }, worker));
  sockets.push(...opened);
  return { connections: sockets.length, seconds: (nowUs() - started) / 1e6 };
}

async function close() {
  const closing = sockets.map((ws) => new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) { resolve(); return; }
    const timer = setTimeout(() => { ws.terminate(); resolve(); }, 5000);
    ws.on('close', () => { clearTimeout(timer); resolve(); });
    ws.close();
  }));
  await Promise.all(closing);
  const closed = sockets.length;
  sockets = [];
  return { closed };
}

function reset() {
  frames = 0; errors = 0; latencies = []; windowStart = nowUs(); lastFrame = windowStart;
  return {};
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function stats() {
  // Until the last frame: the quiet wait that ends a drain is not delivery time.
  const seconds = Math.max(lastFrame - windowStart, 1) / 1e6;
  const sorted = Float64Array.from(latencies).sort();
  return {
    frames, errors, seconds, per_second: frames / seconds,
    latency_ms: { p50: percentile(sorted, 50) / 1000, p99: percentile(sorted, 99) / 1000, max: percentile(sorted, 100) / 1000 },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
let httpFailures = 0;
let seq = 0;

function post(url, to) {
  seq += 1;
  const body = JSON.stringify({ query: SEND, variables: { from: '1', to: String(to), content: `t${nowUs()} ${seq}` } });
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) httpFailures += 1;
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => { httpFailures += 1; resolve(); });
    req.end(body);
  });
}

// Wait until `expected` frames have arrived since the last reset, or nothing arrives for `quietMs`.
async function drain(expected, quietMs = 1000) {
  let last = frames;
  let quietSince = Date.now();
  while (frames < expected && Date.now() - quietSince < quietMs) {
    await sleep(20);
    if (frames !== last) { last = frames; quietSince = Date.now(); }
  }
}

// Open loop: `rate` messages per second for `seconds`, round-robin over `users`, each expecting `fanout` frames.
async function pace({ url, rate, seconds, users, fanout = 1 }) {
  reset(); httpFailures = 0;
  const pending = [];
  const start = Date.now();
  let sent = 0;
  const total = Math.round(rate * seconds);
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * rate));
    for (; sent < due; sent++) pending.push(post(url, users[sent % users.length]));
    await sleep(1);
  }
  await Promise.all(pending);
  await drain(total * fanout);
  return { sent, http_failures: httpFailures, ...stats() };
}

// Closed loop: keep `window` messages in flight, a message being done when all `fanout` frames arrived.
async function closedLoop({ url, window, seconds, users, fanout }) {
  reset(); httpFailures = 0;
  const remaining = new Map();
  const deadline = Date.now() + seconds * 1000;
  let sent = 0;
  let lastProgress = Date.now();
  let stalled = false;
  await new Promise((resolve) => {
    const sendOne = () => {
      if (Date.now() >= deadline || stalled) { if (remaining.size === 0) resolve(); return; }
      remaining.set(seq + 1, fanout);
      post(url, users[sent % users.length]);
      sent += 1;
    };
    onDelivered = (s) => {
      lastProgress = Date.now();
      const left = remaining.get(s) - 1;
      if (left > 0) { remaining.set(s, left); return; }
      remaining.delete(s);
      sendOne();
    };
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress > 3000) { stalled = true; clearInterval(watchdog); resolve(); }
      if (Date.now() >= deadline && remaining.size === 0) { clearInterval(watchdog); resolve(); }
    }, 100);
    for (let i = 0; i < window; i++) sendOne();
  });
  onDelivered = null;
  return { sent, stalled, http_failures: httpFailures, ...stats() };
}

const commands = { open, close, reset, stats, pace, closedLoop, drain: async ({ expected }) => { await drain(expected); return stats(); } };

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  queue = queue.then(async () => {
    const { cmd, ...args } = JSON.parse(line);
    try {
      process.stdout.write(`${JSON.stringify({ ok: true, ...(await commands[cmd](args)) })}\n`);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ ok: false, error: String(error) })}\n`);
    }
  });
});
lines.on('close', () => { queue.then(() => process.exit(0)); });
