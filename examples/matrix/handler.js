'use strict';
// Compute-heavy example (OpenFaaS node template contract): numeric work on nested arrays: matrix product,
// power, determinant and inverse by Gaussian elimination with partial pivoting, and flood fill (connected
// regions) on a 2-D grid.
//
//   POST /multiply     {"a": [[...]], "b": [[...]]}  or  {"n": 60, "seed": 3}  (two generated n x n matrices)
//   POST /power        {"a": [[...]], "k": 5}        repeated squaring
//   POST /determinant  {"a": [[...]]}  or  {"n": 80, "seed": 1}
//   POST /inverse      {"a": [[...]]}                 rounded to 6 decimals; a singular matrix is a 422
//   POST /regions      {"grid": ["#..#", ...]}  or  {"width": 120, "height": 80, "seed": 5, "fill": 0.45}
//                      the connected regions of open cells ("."), largest first, and the grid labelled
//
// Matrices are arrays of rows of finite numbers, at most 120 x 120 (grids 400 x 400). Bad shapes and values
// are 400s with an error object.

const MAX_N = 120;
const MAX_GRID = 400;

function generator(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function generate(n, seed) {
  const random = generator(seed);
  const m = [];
  for (let i = 0; i < n; i++) {
    const row = [];
    for (let j = 0; j < n; j++) row.push(Math.floor(random() * 21) - 10);
    m.push(row);
  }
  return m;
}

function checkMatrix(a, name) {
  if (!Array.isArray(a) || a.length === 0) return name + ' must be a non-empty array of rows';
  if (a.length > MAX_N) return name + ' has more than ' + MAX_N + ' rows';
  const width = Array.isArray(a[0]) ? a[0].length : -1;
  if (width < 1 || width > MAX_N) return name + ' rows must be arrays of 1 to ' + MAX_N + ' numbers';
  for (let i = 0; i < a.length; i++) {
    const row = a[i];
    if (!Array.isArray(row) || row.length !== width) return name + ' row ' + i + ' does not have ' + width + ' columns';
    for (let j = 0; j < width; j++) {
      if (typeof row[j] !== 'number' || !Number.isFinite(row[j])) return name + '[' + i + '][' + j + '] is not a finite number';
    }
  }
  return null;
}

function multiply(a, b) {
  const n = a.length;
  const m = b[0].length;
  const inner = b.length;
  const out = [];
  for (let i = 0; i < n; i++) {
    const row = new Array(m).fill(0);
    const ai = a[i];
    for (let k = 0; k < inner; k++) {
      const aik = ai[k];
      if (aik === 0) continue;
      const bk = b[k];
      for (let j = 0; j < m; j++) row[j] += aik * bk[j];
    }
    out.push(row);
  }
  return out;
}

function identity(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const row = new Array(n).fill(0);
    row[i] = 1;
    out.push(row);
  }
  return out;
}

function power(a, k) {
  let result = identity(a.length);
  let base = a;
  let e = k;
  while (e > 0) {
    if (e % 2 === 1) result = multiply(result, base);
    e = Math.floor(e / 2);
    if (e > 0) base = multiply(base, base);
  }
  return result;
}

// Gaussian elimination with partial pivoting on a copy; returns the determinant and, when asked, the inverse.
function eliminate(a, wantInverse) {
  const n = a.length;
  const m = a.map((row) => row.slice());
  const inv = wantInverse ? identity(n) : null;
  let det = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    let best = Math.abs(m[col][col]);
    for (let r = col + 1; r < n; r++) {
      const v = Math.abs(m[r][col]);
      if (v > best) {
        best = v;
        pivot = r;
      }
    }
    if (best < 1e-12) return { det: 0, inverse: null };
    if (pivot !== col) {
      const t = m[pivot];
      m[pivot] = m[col];
      m[col] = t;
      if (inv) {
        const u = inv[pivot];
        inv[pivot] = inv[col];
        inv[col] = u;
      }
      det = -det;
    }
    const p = m[col][col];
    det *= p;
    const prow = m[col];
    for (let r = 0; r < n; r++) {
      if (r === col || (!inv && r < col)) continue;
      const f = m[r][col] / p;
      if (f === 0) continue;
      const row = m[r];
      for (let c = col; c < n; c++) row[c] -= f * prow[c];
      if (inv) {
        const irow = inv[r];
        const ipiv = inv[col];
        for (let c = 0; c < n; c++) irow[c] -= f * ipiv[c];
      }
    }
  }
  if (inv) {
    for (let r = 0; r < n; r++) {
      const p = m[r][r];
      for (let c = 0; c < n; c++) inv[r][c] = Math.round((inv[r][c] / p) * 1e6) / 1e6 + 0;
    }
  }
  return { det, inverse: inv };
}

function stats(m) {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  let trace = 0;
  for (let i = 0; i < m.length; i++) {
    for (let j = 0; j < m[i].length; j++) {
      const v = m[i][j];
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (i < m[i].length) trace += m[i][i];
  }
  return { rows: m.length, columns: m[0].length, sum, min, max, trace };
}

function makeGrid(width, height, seed, fill) {
  const random = generator(seed);
  const grid = [];
  for (let y = 0; y < height; y++) {
    let line = '';
    for (let x = 0; x < width; x++) line += random() < fill ? '#' : '.';
    grid.push(line);
  }
  return grid;
}

const LABELS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function regions(grid) {
  const height = grid.length;
  const width = grid[0].length;
  const label = [];
  for (let y = 0; y < height; y++) label.push(new Array(width).fill(-1));
  const found = [];
  const queueX = [];
  const queueY = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (grid[y].charCodeAt(x) !== 46 || label[y][x] !== -1) continue;
      const id = found.length;
      let size = 0;
      let minX = x;
      let maxX = x;
      let minY = y;
      let maxY = y;
      queueX.length = 0;
      queueY.length = 0;
      queueX.push(x);
      queueY.push(y);
      label[y][x] = id;
      for (let head = 0; head < queueX.length; head++) {
        const cx = queueX[head];
        const cy = queueY[head];
        size++;
        if (cx < minX) minX = cx;
        if (cx > maxX) maxX = cx;
        if (cy < minY) minY = cy;
        if (cy > maxY) maxY = cy;
        const nx = [cx + 1, cx - 1, cx, cx];
        const ny = [cy, cy, cy + 1, cy - 1];
        for (let d = 0; d < 4; d++) {
          const px = nx[d];
          const py = ny[d];
          if (px < 0 || py < 0 || px >= width || py >= height) continue;
          if (label[py][px] !== -1 || grid[py].charCodeAt(px) !== 46) continue;
          label[py][px] = id;
          queueX.push(px);
          queueY.push(py);
        }
      }
      found.push({ id, size, x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 });
    }
  }
  const order = found.slice().sort((p, q) => q.size - p.size || p.id - q.id);
  const rank = new Array(found.length).fill(-1);
  order.forEach((r, i) => {
    rank[r.id] = i;
  });
  const drawn = [];
  for (let y = 0; y < height; y++) {
    let line = '';
    for (let x = 0; x < width; x++) {
      const id = label[y][x];
      line += id === -1 ? '#' : rank[id] < LABELS.length ? LABELS[rank[id]] : '+';
    }
    drawn.push(line);
  }
  const open = found.reduce((s, r) => s + r.size, 0);
  return {
    width,
    height,
    open,
    walls: width * height - open,
    count: found.length,
    largest: order.slice(0, 10).map((r) => ({ label: LABELS[rank[r.id]], size: r.size, x: r.x, y: r.y, width: r.width, height: r.height })),
    singles: found.filter((r) => r.size === 1).length,
    grid: width * height <= 4096 ? drawn : drawn.slice(0, 8).map((l) => l.slice(0, 64)),
  };
}

function bad(context, error) {
  return context.status(400).succeed({ error });
}

function matrixArg(body, name, seedOffset) {
  if (body[name] !== undefined) return { m: body[name], error: checkMatrix(body[name], name) };
  const n = body.n === undefined ? 40 : body.n;
  const seed = body.seed === undefined ? 1 : body.seed;
  if (!Number.isInteger(n) || n < 1 || n > MAX_N) return { error: 'n must be an integer from 1 to ' + MAX_N };
  if (!Number.isInteger(seed) || seed < 0) return { error: 'seed must be a non-negative integer' };
  return { m: generate(n, seed + seedOffset), error: null };
}

module.exports = async (event, context) => {
  if (event.method !== 'POST') return context.status(405).headers({ allow: 'POST' }).succeed({ error: 'POST a JSON object' });
  const body = event.body && typeof event.body === 'object' && !Array.isArray(event.body) ? event.body : null;
  if (!body) return bad(context, 'send a JSON object');
  const op = event.path.replace(/^\/+/, '');

  if (op === 'regions') {
    let grid = body.grid;
    if (grid === undefined) {
      const width = body.width === undefined ? 64 : body.width;
      const height = body.height === undefined ? 48 : body.height;
      const fill = body.fill === undefined ? 0.4 : body.fill;
      if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > MAX_GRID || height > MAX_GRID) {
        return bad(context, 'width and height must be integers from 1 to ' + MAX_GRID);
      }
      if (typeof fill !== 'number' || !(fill >= 0 && fill <= 1)) return bad(context, 'fill must be a number from 0 to 1');
      grid = makeGrid(width, height, body.seed === undefined ? 1 : Number(body.seed) || 0, fill);
    }
    if (!Array.isArray(grid) || grid.length === 0 || grid.length > MAX_GRID) return bad(context, 'grid must be 1 to ' + MAX_GRID + ' strings');
    const w = typeof grid[0] === 'string' ? grid[0].length : 0;
    if (w === 0 || w > MAX_GRID || !grid.every((l) => typeof l === 'string' && l.length === w && /^[.#]+$/.test(l))) {
      return bad(context, 'grid rows must be strings of "." and "#" of the same length');
    }
    return context.status(200).succeed(regions(grid));
  }

  if (op === 'multiply') {
    const a = matrixArg(body, 'a', 0);
    if (a.error) return bad(context, a.error);
    const b = matrixArg(body, 'b', 1000);
    if (b.error) return bad(context, b.error);
    if (a.m[0].length !== b.m.length) return bad(context, 'a has ' + a.m[0].length + ' columns but b has ' + b.m.length + ' rows');
    const c = multiply(a.m, b.m);
    return context.status(200).succeed({ stats: stats(c), corner: c.slice(0, 4).map((r) => r.slice(0, 4)) });
  }

  if (op === 'power') {
    const a = matrixArg(body, 'a', 0);
    if (a.error) return bad(context, a.error);
    if (a.m.length !== a.m[0].length) return bad(context, 'a must be square');
    const k = body.k === undefined ? 2 : body.k;
    if (!Number.isInteger(k) || k < 0 || k > 64) return bad(context, 'k must be an integer from 0 to 64');
    const p = power(a.m, k);
    return context.status(200).succeed({ k, stats: stats(p), corner: p.slice(0, 3).map((r) => r.slice(0, 3)) });
  }

  if (op === 'determinant' || op === 'inverse') {
    const a = matrixArg(body, 'a', 0);
    if (a.error) return bad(context, a.error);
    if (a.m.length !== a.m[0].length) return bad(context, 'a must be square, not ' + a.m.length + ' x ' + a.m[0].length);
    const { det, inverse } = eliminate(a.m, op === 'inverse');
    if (op === 'determinant') return context.status(200).succeed({ n: a.m.length, determinant: det, magnitude: det === 0 ? null : Number(det.toExponential().split('e')[1]) });
    if (!inverse) return context.status(422).succeed({ error: 'the matrix is singular', n: a.m.length });
    return context.status(200).succeed({ n: a.m.length, inverse: a.m.length <= 8 ? inverse : null, stats: stats(inverse) });
  }

  return context.status(404).succeed({ error: 'unknown operation', path: event.path, operations: ['multiply', 'power', 'determinant', 'inverse', 'regions'] });
};
