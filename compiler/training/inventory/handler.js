'use strict';
// Training handler (see ../README.md): stock items made from a seed, grouped by warehouse, filtered, sorted
// and reshaped. POST {"seed": 3, "items": 800, "sort": "value" | "sku" | "qty", "min": 0}

const WAREHOUSES = ['ams', 'ber', 'cph', 'dub', 'osl', 'vie'];
const KINDS = ['bolt', 'nut', 'gear', 'belt', 'pump', 'valve', 'hose', 'seal'];

function lcg(seed) {
  let s = seed >>> 0 || 7;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function makeItems(seed, count) {
  const rnd = lcg(seed);
  const items = [];
  for (let i = 0; i < count; i++) {
    const kind = KINDS[rnd(KINDS.length)];
    items.push({
      sku: kind.toUpperCase() + '-' + String(1000 + i).padStart(6, '0'),
      kind,
      warehouse: WAREHOUSES[rnd(WAREHOUSES.length)],
      qty: rnd(500),
      priceCents: 50 + rnd(20000),
      tags: rnd(3) === 0 ? ['fragile', kind] : [kind],
    });
  }
  return items;
}

function byKey(sort) {
  if (sort === 'sku') return (a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0);
  if (sort === 'qty') return (a, b) => b.qty - a.qty || (a.sku < b.sku ? -1 : 1);
  return (a, b) => b.value - a.value || (a.sku < b.sku ? -1 : 1);
}

module.exports = async (event, context) => {
  const body = event.body && typeof event.body === 'object' ? event.body : {};
  const seed = Number.isInteger(body.seed) ? body.seed : 1;
  const count = Number.isInteger(body.items) && body.items > 0 && body.items <= 5000 ? body.items : 500;
  const min = typeof body.min === 'number' ? body.min : 0;
  const sort = ['value', 'sku', 'qty'].includes(body.sort) ? body.sort : 'value';
  const items = makeItems(seed, count);
  const groups = new Map();
  for (const it of items) {
    if (it.qty < min) continue;
    let g = groups.get(it.warehouse);
    if (!g) groups.set(it.warehouse, (g = { warehouse: it.warehouse, lines: [], units: 0, cents: 0 }));
    const value = it.qty * it.priceCents;
    g.lines.push({ sku: it.sku, qty: it.qty, value, fragile: it.tags.includes('fragile') });
    g.units += it.qty;
    g.cents += value;
  }
  const report = [...groups.values()]
    .sort((a, b) => b.cents - a.cents)
    .map((g) => {
      const lines = g.lines.slice().sort(byKey(sort));
      const fragile = lines.filter((l) => l.fragile).length;
      return {
        warehouse: g.warehouse,
        lines: lines.length,
        units: g.units,
        value: (g.cents / 100).toFixed(2),
        fragileShare: lines.length ? Math.round((fragile / lines.length) * 1000) / 10 : 0,
        top: lines.slice(0, 3).map(({ sku, qty, value }) => `${sku} x${qty} = ${(value / 100).toFixed(2)}`),
      };
    });
  return context.status(200).succeed({ seed, count, sort, warehouses: report.length, report });
};
