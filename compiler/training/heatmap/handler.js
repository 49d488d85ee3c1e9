'use strict';
// Training handler (see ../README.md): a grid of readings made from a seed, smoothed over its neighbours a
// few times, thresholded into zones found with a queue, and drawn as rows of characters.
// POST {"seed": 2, "w": 80, "h": 40, "passes": 3}

const SHADES = ' .:-=+*#%@';

function grid(seed, w, h) {
  let s = seed >>> 0 || 5;
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = [];
    for (let x = 0; x < w; x++) {
      s = (s * 48271) % 2147483647;
      row.push((s % 1000) / 10 + 20 * Math.sin(x / 7) + 15 * Math.cos(y / 5));
    }
    rows.push(row);
  }
  return rows;
}

function smooth(g) {
  const h = g.length;
  const w = g[0].length;
  const out = [];
  for (let y = 0; y < h; y++) {
    const row = new Array(w);
    for (let x = 0; x < w; x++) {
      let sum = 0;
      let n = 0;
      for (let dy = -1; dy <= 1; dy++) {
        const r = g[y + dy];
        if (r === undefined) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const v = r[x + dx];
          if (v !== undefined) {
            sum += v;
            n++;
          }
        }
      }
      row[x] = sum / n;
    }
    out.push(row);
  }
  return out;
}

function zones(g, limit) {
  const h = g.length;
  const w = g[0].length;
  const seen = [];
  for (let y = 0; y < h; y++) seen.push(new Array(w).fill(false));
  const found = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (seen[y][x] || g[y][x] < limit) continue;
      const queue = [[x, y]];
      seen[y][x] = true;
      let size = 0;
      let peak = 0;
      while (queue.length > 0) {
        const [cx, cy] = queue.shift();
        size++;
        peak = Math.max(peak, g[cy][cx]);
        for (const [nx, ny] of [
          [cx + 1, cy],
          [cx - 1, cy],
          [cx, cy + 1],
          [cx, cy - 1],
        ]) {
          if (nx < 0 || ny < 0 || nx >= w || ny >= h || seen[ny][nx] || g[ny][nx] < limit) continue;
          seen[ny][nx] = true;
          queue.push([nx, ny]);
        }
      }
      found.push({ x, y, size, peak: Math.round(peak * 10) / 10 });
    }
  }
  return found.sort((a, b) => b.size - a.size || a.y - b.y || a.x - b.x);
}

module.exports = async (event, context) => {
  const b = event.body && typeof event.body === 'object' ? event.body : {};
  const int = (v, lo, hi, d) => (Number.isInteger(v) && v >= lo && v <= hi ? v : d);
  const w = int(b.w, 2, 400, 60);
  const h = int(b.h, 2, 300, 30);
  const passes = int(b.passes, 0, 8, 2);
  let g = grid(int(b.seed, 0, 1e9, 1), w, h);
  for (let i = 0; i < passes; i++) g = smooth(g);
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of g) for (const v of row) ((lo = Math.min(lo, v)), (hi = Math.max(hi, v)));
  const found = zones(g, lo + (hi - lo) * 0.7);
  const rows = g.slice(0, 12).map((row) => {
    let line = '';
    for (let x = 0; x < Math.min(row.length, 60); x++) line += SHADES[Math.min(9, Math.floor(((row[x] - lo) / (hi - lo || 1)) * 10))];
    return line;
  });
  return context.status(200).succeed({ w, h, passes, min: lo.toFixed(2), max: hi.toFixed(2), zones: found.length, largest: found.slice(0, 5), rows });
};
