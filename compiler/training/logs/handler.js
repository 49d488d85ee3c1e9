'use strict';
// Training handler (see ../README.md): access-log lines made from a seed (or sent as text), parsed with
// regular expressions, counted by status, path and hour, and reported as padded text.
// POST {"seed": 4, "lines": 2000} or POST text/plain with the lines themselves.

const PATHS = ['/', '/login', '/api/items', '/api/items/42', '/static/app.js', '/health', '/api/orders?page=2'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const STATUSES = [200, 200, 200, 201, 204, 301, 304, 400, 404, 500];
const LINE = /^(\d{1,3}(?:\.\d{1,3}){3}) - - \[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})\] "(\w+) ([^ "]+) HTTP\/1\.[01]" (\d{3}) (\d+|-)$/;

function makeLog(seed, n) {
  let s = seed >>> 0 || 3;
  const rnd = (k) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % k;
  };
  const out = [];
  for (let i = 0; i < n; i++) {
    const ip = `10.${rnd(4)}.${rnd(256)}.${1 + rnd(254)}`;
    const hh = String(rnd(24)).padStart(2, '0');
    const mm = String(rnd(60)).padStart(2, '0');
    const size = rnd(5) === 0 ? '-' : String(rnd(90000));
    out.push(
      `${ip} - - [07/Dec/2026:${hh}:${mm}:${String(rnd(60)).padStart(2, '0')}] "${METHODS[rnd(METHODS.length)]} ${PATHS[rnd(PATHS.length)]} HTTP/1.1" ${STATUSES[rnd(STATUSES.length)]} ${size}`,
    );
    if (rnd(50) === 0) out.push('garbage line ' + i);
  }
  return out.join('\n');
}

function count(map, key, by = 1) {
  map.set(key, (map.get(key) || 0) + by);
}

module.exports = async (event, context) => {
  let text;
  if (typeof event.body === 'string') text = event.body;
  else {
    const b = event.body && typeof event.body === 'object' ? event.body : {};
    const n = Number.isInteger(b.lines) && b.lines > 0 && b.lines <= 20000 ? b.lines : 500;
    text = makeLog(Number.isInteger(b.seed) ? b.seed : 1, n);
  }
  const byStatus = new Map();
  const byPath = new Map();
  const byHour = new Array(24).fill(0);
  const ips = new Set();
  let bytes = 0;
  let bad = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = LINE.exec(line);
    if (!m) {
      bad++;
      continue;
    }
    ips.add(m[1]);
    byHour[Number(m[5])]++;
    count(byStatus, m[10]);
    const path = m[9].replace(/\?.*$/, '').replace(/\/\d+(?=\/|$)/g, '/:id');
    count(byPath, `${m[8]} ${path}`);
    if (m[11] !== '-') bytes += parseInt(m[11], 10);
  }
  const paths = [...byPath.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const lines = [
    `lines ${String(text.length).padStart(8)} chars, ${bad} unparsed, ${ips.size} addresses, ${(bytes / 1024).toFixed(1)} KiB`,
    ...[...byStatus.keys()].sort().map((k) => `status ${k} ${String(byStatus.get(k)).padStart(6)}`),
    ...paths.slice(0, 5).map(([k, v]) => `${k.padEnd(24, '.')} ${v}`),
    'hours ' + byHour.map((h) => (h > 0 ? Math.min(9, Math.floor(Math.log2(h))) : '-')).join(''),
  ];
  return context
    .status(200)
    .headers({ 'content-type': 'text/plain' })
    .succeed(lines.join('\n') + '\n');
};
