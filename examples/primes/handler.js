'use strict';
// Compute-heavy example (OpenFaaS node template contract): the primes up to n.
//
//   GET  /?n=100000                  sieve of Eratosthenes (the default method)
//   GET  /?n=20000&method=trial      trial division by the primes found so far
//   POST / {"n": 50000, "method": "sieve", "sample": 5}
//
// Answers JSON: how many primes, the largest, their sum, the first and last `sample` of them and the number
// of twin-prime pairs. n is limited to 1,000,000; a bad n or method is a 400 with an error object.

const MAX_N = 1000000;
const METHODS = ['sieve', 'trial'];

function sieve(n) {
  const composite = new Array(n + 1).fill(false);
  const primes = [];
  for (let i = 2; i <= n; i++) {
    if (composite[i]) continue;
    primes.push(i);
    for (let j = i * i; j <= n; j += i) {
      composite[j] = true;
    }
  }
  return primes;
}

function trialDivision(n) {
  const primes = [];
  for (let k = 2; k <= n; k++) {
    let isPrime = true;
    for (let i = 0; i < primes.length; i++) {
      const p = primes[i];
      if (p * p > k) break;
      if (k % p === 0) {
        isPrime = false;
        break;
      }
    }
    if (isPrime) primes.push(k);
  }
  return primes;
}

function countTwins(primes) {
  let twins = 0;
  for (let i = 1; i < primes.length; i++) {
    if (primes[i] - primes[i - 1] === 2) twins++;
  }
  return twins;
}

function readInput(event) {
  const body = event.body && typeof event.body === 'object' ? event.body : {};
  const query = event.query || {};
  const rawN = body.n !== undefined ? body.n : query.n;
  const method = body.method !== undefined ? body.method : query.method || 'sieve';
  const rawSample = body.sample !== undefined ? body.sample : query.sample;
  return { rawN, method, rawSample };
}

module.exports = async (event, context) => {
  const { rawN, method, rawSample } = readInput(event);
  const n = typeof rawN === 'number' ? rawN : parseInt(rawN, 10);
  if (!Number.isInteger(n) || n < 2) {
    return context.status(400).succeed({ error: 'n must be an integer >= 2', got: rawN === undefined ? null : rawN });
  }
  if (n > MAX_N) {
    return context.status(400).succeed({ error: 'n must be at most ' + MAX_N, got: n });
  }
  if (!METHODS.includes(method)) {
    return context.status(400).succeed({ error: 'unknown method', method: String(method), methods: METHODS });
  }
  const sample = rawSample === undefined ? 10 : Math.max(0, Math.min(50, parseInt(rawSample, 10) || 0));

  const primes = method === 'sieve' ? sieve(n) : trialDivision(n);
  let sum = 0;
  for (const p of primes) sum += p;

  return context
    .status(200)
    .headers({ 'content-type': 'application/json', 'x-prime-count': String(primes.length) })
    .succeed({
      n,
      method,
      count: primes.length,
      largest: primes[primes.length - 1],
      sum,
      twinPairs: countTwins(primes),
      density: (primes.length / n).toFixed(6),
      first: primes.slice(0, sample),
      last: sample === 0 ? [] : primes.slice(-sample),
    });
};
