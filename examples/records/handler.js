'use strict';
// Compute-heavy example (OpenFaaS node template contract): a few thousand order records, generated
// deterministically from a seed, grouped, sorted with a comparator and reshaped into a report.
//
//   GET  /?seed=7&count=2000&groupBy=region&sortBy=total&order=desc&top=3
//   POST /        {"seed": 7, "count": 3000, "groupBy": "category", "sortBy": "date", "top": 5}
//   POST /summary {"seed": 7}   one line per group: count, revenue, average, and the busiest month
//
// groupBy: region, category, status or month; sortBy: total, name, date or qty (ties broken by id);
// order: asc or desc; count at most 5000, top at most 20. Bad input is a 400 with an error object.

const MAX_COUNT = 5000;
const GROUPS = ['region', 'category', 'status', 'month'];
const SORTS = ['total', 'name', 'date', 'qty'];
const REGIONS = ['north', 'south', 'east', 'west', 'central'];
const CATEGORIES = ['books', 'garden', 'kitchen', 'toys', 'tools', 'music', 'sport'];
const STATUSES = ['new', 'paid', 'shipped', 'returned'];
const SYLLABLES = ['ka', 'lo', 'mi', 'ra', 'ten', 'vo', 'su', 'bel', 'dor', 'an', 'is', 'que'];

// A small linear congruential generator on 32-bit integers: the same seed gives the same records.
function makeRandom(seed) {
  let state = seed >>> 0 || 1;
  return function next(limit) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return (state >>> 8) % limit;
  };
}

function pad2(n) {
  return n < 10 ? '0' + n : String(n);
}

function makeRecords(seed, count) {
  const random = makeRandom(seed);
  const records = [];
  for (let i = 0; i < count; i++) {
    let name = '';
    const parts = 2 + random(2);
    for (let p = 0; p < parts; p++) name += SYLLABLES[random(SYLLABLES.length)];
    const qty = 1 + random(12);
    const cents = 199 + random(9800);
    const month = 1 + random(12);
    records.push({
      id: 'o-' + String(seed % 1000).padStart(3, '0') + '-' + String(i).padStart(5, '0'),
      customer: name.charAt(0).toUpperCase() + name.slice(1),
      region: REGIONS[random(REGIONS.length)],
      category: CATEGORIES[random(CATEGORIES.length)],
      status: STATUSES[random(STATUSES.length)],
      date: '2025-' + pad2(month) + '-' + pad2(1 + random(28)),
      qty,
      unitCents: cents,
      discount: random(4) === 0 ? 10 : 0,
    });
  }
  return records;
}

function totalCents(r) {
  const gross = r.qty * r.unitCents;
  return gross - Math.round((gross * r.discount) / 100);
}

function keyOf(record, groupBy) {
  return groupBy === 'month' ? record.date.slice(0, 7) : record[groupBy];
}

function comparator(sortBy, order) {
  const sign = order === 'asc' ? 1 : -1;
  return (a, b) => {
    let c = 0;
    if (sortBy === 'total') c = a.total - b.total;
    else if (sortBy === 'qty') c = a.qty - b.qty;
    else {
      const x = sortBy === 'name' ? a.customer : a.date;
      const y = sortBy === 'name' ? b.customer : b.date;
      c = x < y ? -1 : x > y ? 1 : 0;
    }
    if (c !== 0) return sign * c;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  };
}

function money(cents) {
  return (cents / 100).toFixed(2);
}

function readInput(event) {
  const body = event.body && typeof event.body === 'object' && !Array.isArray(event.body) ? event.body : {};
  const query = event.query || {};
  const pick = (k) => (body[k] !== undefined ? body[k] : query[k]);
  return {
    seed: pick('seed'),
    count: pick('count'),
    groupBy: pick('groupBy') || 'region',
    sortBy: pick('sortBy') || 'total',
    order: pick('order') || 'desc',
    top: pick('top'),
  };
}

function toInt(value, fallback) {
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isInteger(n) ? n : NaN;
}

function validate(input) {
  const seed = toInt(input.seed, 1);
  if (Number.isNaN(seed) || seed < 0) return { error: 'seed must be a non-negative integer', got: input.seed };
  const count = toInt(input.count, 2000);
  if (Number.isNaN(count) || count < 1 || count > MAX_COUNT) return { error: 'count must be an integer from 1 to ' + MAX_COUNT, got: input.count };
  const top = toInt(input.top, 3);
  if (Number.isNaN(top) || top < 0 || top > 20) return { error: 'top must be an integer from 0 to 20', got: input.top };
  if (!GROUPS.includes(input.groupBy)) return { error: 'unknown groupBy', groupBy: String(input.groupBy), allowed: GROUPS };
  if (!SORTS.includes(input.sortBy)) return { error: 'unknown sortBy', sortBy: String(input.sortBy), allowed: SORTS };
  if (input.order !== 'asc' && input.order !== 'desc') return { error: 'order must be asc or desc', got: String(input.order) };
  return { seed, count, top, groupBy: input.groupBy, sortBy: input.sortBy, order: input.order };
}

function group(records, groupBy) {
  const groups = new Map();
  for (const r of records) {
    const key = keyOf(r, groupBy);
    let g = groups.get(key);
    if (!g) {
      g = { key, items: [], cents: 0, qty: 0 };
      groups.set(key, g);
    }
    const total = totalCents(r);
    g.items.push({ id: r.id, customer: r.customer, date: r.date, qty: r.qty, total });
    g.cents += total;
    g.qty += r.qty;
  }
  return [...groups.values()];
}

function report(opts) {
  const records = makeRecords(opts.seed, opts.count);
  const groups = group(records, opts.groupBy);
  const compare = comparator(opts.sortBy, opts.order);
  groups.sort((a, b) => b.cents - a.cents || (a.key < b.key ? -1 : 1));
  const grandCents = groups.reduce((s, g) => s + g.cents, 0);
  return {
    seed: opts.seed,
    count: records.length,
    groupBy: opts.groupBy,
    sortBy: opts.sortBy + ' ' + opts.order,
    revenue: money(grandCents),
    groups: groups.map((g) => {
      const sorted = g.items.slice().sort(compare);
      return {
        [opts.groupBy]: g.key,
        orders: g.items.length,
        units: g.qty,
        revenue: money(g.cents),
        share: ((g.cents / grandCents) * 100).toFixed(1) + '%',
        average: money(Math.round(g.cents / g.items.length)),
        top: sorted.slice(0, opts.top).map(({ id, customer, date, qty, total }) => ({ id, customer, date, qty, total: money(total) })),
      };
    }),
  };
}

function summary(opts) {
  const records = makeRecords(opts.seed, opts.count);
  const byKey = {};
  for (const r of records) {
    const key = keyOf(r, opts.groupBy);
    const entry = byKey[key] || (byKey[key] = { orders: 0, cents: 0, months: {} });
    entry.orders++;
    entry.cents += totalCents(r);
    const month = r.date.slice(5, 7);
    entry.months[month] = (entry.months[month] || 0) + 1;
  }
  const lines = Object.keys(byKey)
    .sort()
    .map((key) => {
      const e = byKey[key];
      const busiest = Object.entries(e.months).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
      return `${key.padEnd(10)} ${String(e.orders).padStart(5)} ${money(e.cents).padStart(12)} ${money(e.cents / e.orders).padStart(9)}  month ${busiest[0]} (${busiest[1]})`;
    });
  return lines.join('\n') + '\n';
}

module.exports = async (event, context) => {
  if (event.method !== 'GET' && event.method !== 'POST') {
    return context.status(405).headers({ allow: 'GET, POST' }).succeed({ error: 'method not allowed' });
  }
  const opts = validate(readInput(event));
  if (opts.error) return context.status(400).succeed(opts);
  if (event.path === '/summary') {
    return context.status(200).headers({ 'content-type': 'text/plain; charset=utf-8' }).succeed(summary(opts));
  }
  if (event.path !== '/' && event.path !== '') return context.status(404).succeed({ error: 'not found', path: event.path });
  return context.status(200).succeed(report(opts));
};
