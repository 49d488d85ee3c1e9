/**
 * Handlers that probe JavaScript's corners (test/fixtures/divergences/): each runs in plain Node, in the
 * instrumented Node the watchdog traces with, and in the compiled Rust (`containerless check`, which traces,
 * builds the dispatcher and replays every request through Node and Rust). All three must agree: the
 * instrumented module answers every request exactly as the plain one, and the dispatcher answers as Node
 * does or hands the request back. And `containerless watchdog` answers them alike with trace_mode=always
 * and trace_mode=off.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { checkFixture, ROOT } from './cli.ts';
import { plainVsInstrumented, requestsOf } from './differential.ts';
import { send as sendTo, startOurs, type Served } from '../watchdog/harness.ts';

const FIXTURES = join(ROOT, 'test/fixtures/divergences');

const check = (dir: string, traceFirst?: number) => checkFixture(dir, ['--json', ...(traceFirst === undefined ? [] : ['--trace-first', String(traceFirst)])]);

const relevant = (stderr: string): string =>
  stderr
    .split('\n')
    .filter((l) => /DIVERGED|fallback\(|rust gave|node:|rust:|error|^\s+body:|status:/.test(l))
    .slice(0, 40)
    .join('\n');

/**
 * [fixture, what it shows, the least number of requests Rust must answer itself, and how many of the first
 * requests are traced when the rest bring what the trace never saw (all when absent)].
 */
const CASES: Array<[string, string, number, number?]> = [
  ['switch-scope', 'a let, const or class in one switch case is scoped to the whole switch, with its TDZ', 7],
  ['for-in-mutation', 'for-in skips keys deleted during the loop and never visits keys added', 8],
  ['for-of-live', 'for-of over a Set, a Map or a Map iterator visits entries added (or deleted and re-added) during the loop', 10],
  ['iterator-left-part-way', 'an iterator a for-of left part way is not iterated again from a stale position (it gives up)', 2],
  ['typeof-tdz', 'typeof of a binding in its temporal dead zone throws ReferenceError', 4],
  [
    'direct-builtins',
    "Map.prototype's get, set, has and delete and Set.prototype's add, has and delete called directly answer as Node, or give up: keys -0, NaN and objects, arguments that change the collection, a Map subclass, a Map given an own get by a computed key on a request the trace never saw (a receiver check that ignores own properties makes it report 1 diverged), a method added to Map.prototype; and replace with a regex literal and a replacer function returning numbers, undefined or an object, reading its position and subject, throwing part way, or a builtin",
    5,
    5,
  ],
  [
    'captured-numbers',
    "captured bindings that only ever hold numbers, held as f64 in the closures that read them, answer as Node: written through, written back when the closure returns or throws, read and assigned by a valueOf a Math function runs, and in a closure started before the binding's declaration, read there (ReferenceError) or not",
    7,
  ],
  ['use-strict', "a function-level 'use strict' survives instrumentation", 0],
  ['rest-params', 'rest parameters compile', 2],
  ['nested-destructuring', 'nested destructuring in var declarations, assignments and loop heads compiles', 3],
  ['error-wording', 'engine TypeErrors (calls, new, iteration, spreads, destructuring) read as V8 words them from the source, traced or not', 4],
  [
    'unboxed',
    'local arrays of booleans and numbers, operators on numbers behind a number guard, array reads by number and compound assignments to computed members answer as Node, or give up, on -0, NaN, fractions, reads and writes past the end, holes, strings where numbers were and big sums',
    22,
    11,
  ],
  [
    'fastpaths',
    "the runtime's fast paths (array indexes by truncation, ToInt32 within and beyond 2^31, string + number, per-site method and property caches, direct calls of the one function a site saw, small property maps, shared regex literals, strings appended in place) answer as Node, or give up, on -0, fractions, huge and negative indexes, numbers past 2^31 and 2^63, receivers of other kinds, objects with other key orders, getters and more than sixteen keys, a second callee, a string built up and kept part way, lone surrogates and a throwing toString, elements read and stored unboxed (strings, holes, stores past the end, -0 and fractional keys) and compound assignments whose right side reassigns the object, Math functions called directly on -0, NaN, infinities and arguments that are not numbers, locals and parameters held as f64 that get a string, a hole or undefined, charCodeAt read directly at fractions, -0, negative and far indexes, a local checked as a number where it is assigned because its first use is one, array literals of numbers kept as vectors, counted loops over arrays run in place and sent back on strings, holes, short arrays, fractional, negative and -0 bounds, aliases and module state, a fast loop bounded by a length with a declaration and an if in its body, captured numbers read as f64s that hold a string, null or an object or are read in their TDZ, and fast loops long enough to charge fuel in several chunks",
    62,
    20,
  ],
  [
    'regex-literals',
    'regex literals used in place (the argument of replace, replaceAll or match on a string, the receiver of test), run without their RegExp object, answer as Node, or give up: global and sticky literals evaluated again and again, a regex kept in a variable, function replacers using literals, empty matches, surrogates with and without u, named groups and $& in templates, replaceAll with a literal that is not global, String objects as receivers, a pattern outside the BMP, and String.prototype.replace or RegExp.prototype changed; a replacer function literal, made only when there is a match, that counts its calls in a shared variable or throws part way (giving replace_literal_fn a template instead makes it report 4 diverged)',
    18,
    11,
  ],
  [
    'shape-transitions',
    "objects that gain keys one at a time share the shapes they grow into, and a new key on an object whose prototype is Object.prototype as the realm made it is added without walking the chain, answering as Node: keys gained in other orders, the same keys from other strings, keys deleted and gained again, more keys than a small object holds, keys longer than a transition takes, numeric-looking keys and surrogates, class instances, `__proto__` and `toString` written by a computed key, an object without a prototype, thousands of one-key objects whose keys meet in the transition table, and a setter the request put on Object.prototype (adding without the realm's check makes it report 2 diverged; a transition that compares only its keys' lengths hands a request back)",
    12,
  ],
  [
    'sort-rows',
    'comparators that read only named properties of their parameters, run on rows of those properties read once per value, answer as Node: a comparator from a factory (captured strings and a sign, ties broken by another key), values missing a key or holding it as an accessor, class instances, undefined and NaN keys, strings with surrogates, an inconsistent comparator, the same object twice, holes and undefined elements; and a key that is an object whose valueOf changes the other keys, and comparators that count their calls or multiply by a captured object whose valueOf changes the keys, none of them run on rows; and comparators on rows reading bindings of their closures, read once per sort: one changed between two sorts, one still in its temporal dead zone, read on a tie or never (rows that take objects make it report 1 diverged, and so does a compiler that takes every binding for a primitive, and a sort that reads a binding in its temporal dead zone as 0)',
    17,
  ],
  [
    'shape-caches',
    "named reads and writes that know an object literal's shape again by address, and request strings that are the program's constants when they have the same units, answer as Node: objects of one literal that lose a key, get it back at the end, have it turned into an accessor or made read-only, are frozen (writes to those two give up), grow a key or have another key moved to the end, met after the site remembered the literal's shape; and input strings compared with constants, used as keys, appended to and compared with strings built at run time, from a query or a JSON body, short, long or with surrogates (a shape check that compares key counts instead of addresses makes it report 2 diverged)",
    8,
  ],
  [
    'property-writes',
    'named property writes that remember where a site found the property answer as Node, or give up, on objects with other key orders, properties the write adds, setters on the object or its prototype, read-only properties, frozen objects, a property deleted and added again, arrays and class instances',
    10,
  ],
  [
    'stencil-loops',
    'fast loops reading arrays at keys other than their index (neighbours, wrap-around, a key from the request), bounded by a local held as a tagged number, with conditional values and tests joined by && and ||, answer as Node, or give up, on keys past either end, negative, fractional and -0 keys, holes, strings, null and objects among the elements read, a bound that is a string, and an array read at the index before the one the loop writes; fast loops left by break (after few iterations or none) and by continue, with a flag set on the way out, on strings, fractions, -0, holes and null among the elements and a bound that is a string; loops to a bound they may reach (<=) stepping by a local over a local array of booleans, on fractional, negative, far and string bounds, fractional starts and strides, and stores past the end; tagged locals read as numbers in the body (read once before the loop) that hold a string, null, -0 or a fraction',
    30,
    15,
  ],
  [
    'realm-builtins',
    'string methods and Math functions called without their lookup on a realm no program wrote answer as Node, or give up, on arguments that are not numbers (fractional, -0, string and far indexes), `.length` read where the trace saw only strings or strings and arrays on arrays, objects with a length and null, surrogate pairs, and `%` on integers past 2^31 by negative, zero, fractional and wide divisors',
    17,
    4,
  ],
  [
    'realm-written',
    'a call whose arguments replace Math.imul still runs the builtin found before them; after a request replaces (and puts back) Math.imul or String.prototype.charCodeAt, later requests take the lookups and answer as Node',
    10,
  ],
  [
    'captured-locals',
    'functions that hold the variables they share with enclosing functions in locals answer as Node, or give up: a throw part way after assignments, seen by the catching caller; a Math function whose argument has a valueOf that reads the same variables; assignments and reads in the temporal dead zone; strings, fractions, -0 and huge numbers where the trace saw small numbers',
    12,
    6,
  ],
  [
    'operand-order',
    'operators whose operands are locals read without a copy answer as Node when the operand to the right assigns the same local (the left one is read first), and so does a push whose argument replaces the array; numbers assigned to captured variables stored in place answer as Node when the variable held a string, an object or -0, or is read and assigned in its temporal dead zone',
    10,
    8,
  ],
  [
    'read-only-captures',
    "functions that read their enclosing functions' variables once, into locals, while calling other code answer as Node: a comparator given to sort, a read in the temporal dead zone; and variables assigned again after their declaration (=, ++, destructuring, a for-of head, var in a loop, a call made between two reads) are read where they are used; a function declared in a block in sloppy mode, which also assigns a variable of the enclosing function, runs in JavaScript",
    10,
    8,
  ],
  [
    'conversions',
    'String(x), Number(x), Boolean(x) and parseFloat(x) of the global functions, computed without a call, answer as Node on numbers (-0, 1e21, 0.1), strings (blank, hexadecimal, exponent, not a number, plain decimals of up to 15 digits read by the fast path and longer ones, a dot first or last, a number followed by text; a fast path that multiplies by a power of a tenth makes it report 1 diverged), null, booleans, arrays and objects, objects whose toString and valueOf run or throw; a local function named String is called; signed number literals as values (-0, +0, -1, +2.5, -1e-320), written as the number (writing -x as 0 - x makes it report 5 diverged)',
    35,
    5,
  ],
  [
    'rows',
    'a[j][k] read and written with the row read in place answer as Node, or give up, on rows that are holes, missing, strings or objects with numeric keys, keys out of range, negative, fractional or -0, one row shared by two indexes, stores at and past the end of a row, and a module-level grid written by one request and read by the next; reading the wrong row makes it report 14 diverged',
    12,
    4,
  ],
  [
    'int-loops',
    "fast loops computing keys and remainders on integers (the index, integer literals, the loop's bound, locals declared once from them, +, -, * and %) answer as Node, or give up, on bounds that are fractions, -0, 0 or negative, bounds reached by <=, remainders that are 0, keys past the end, holes, strings, fractions and -0 among the elements read, integer locals used as numbers, and a local array of numbers read and written at integer keys, shorter than the keys and written at its end; reads at a remainder by the bound, unchecked, on loops from a later start whose reads wrap to elements below it (a string or a hole there; checking only from the start makes the dispatcher fail on 2 requests) and on elements past the bound that are not numbers; accepting fractions in fastloop::int makes it report 4 diverged. And a local given an element of a local array of numbers, held as a number: -0 and fractions kept, a read past the end gives up (reading -0 as 0 makes it report 1 diverged)",
    24,
    7,
  ],
  [
    'sort-keys',
    'sorts by a comparator literal (a, b) => a.k - b.k || b.j - a.j, compared on keys read once per value, answer as Node: ascending and descending terms, ties kept in order by insertion and by merged runs, -0 and 0 as equal keys, huge and tiny keys, holes and undefined values, empty and one-value arrays; and call the comparator as usual on a key that is NaN, Infinity, a string or missing, a getter (its calls counted), a key inherited from a prototype, and arrays sorted by length; comparing each term the other way round makes it report 12 diverged',
    22,
    8,
  ],
  [
    'three-way',
    "a comparator's x < y ? -1 : x > y ? 1 : 0 (and <=, >=), answered by one comparison when both are strings, answers as Node on equal strings, prefixes, surrogate pairs and lone surrogates, numbers, mixed values and objects whose valueOf runs at each comparison; treating < as <= in the one comparison makes it report 1 diverged",
    6,
    3,
  ],
  [
    'string-chains',
    'chains of + on strings made as one string answer as Node, or give up, on empty strings, surrogate halves meeting across operands, numbers, objects and null where the trace saw strings, and an operand that throws part way, caught',
    8,
    4,
  ],
  [
    'queues',
    'array literals that nothing stores into, held as fixed-size Rust arrays, answer as Node, or give up, on reads past the end, at -0, at fractions, at NaN and at -1 (reversing their elements makes it report 4 diverged); and shift() and pop() where the trace saw only the builtins, its code called directly, answer as Node on queues and stacks, empty arrays, holes, module state, a frozen array and an object with its own shift (calling pop for shift and shift for pop makes it report 14 diverged)',
    18,
    9,
  ],
  [
    'string-methods',
    "builtin methods called directly on their receivers while the realm is as it was made answer as Node, or give up: String.prototype's at, charAt, endsWith, includes, indexOf, lastIndexOf, padEnd, padStart, repeat, slice, split, startsWith, substring, substr, toLowerCase, toUpperCase and the trims on empty strings, surrogate pairs and lone surrogates, at -0, NaN, fractions, negative and huge positions, with undefined and objects whose toString runs (counted), on a String object and an object with its own slice, and after the request adds a method to String.prototype or replaces slice; Array.prototype's map, join, indexOf, includes, filter, reduce, slice and concat on plain arrays, on an array with a property of its own, on one with its own join (a callee the trace did not see), with a callback that grows the array; toFixed and toString(16) on numbers; and receivers held by a closure. Calling substring for slice makes it report 12 diverged, lastIndexOf for indexOf 2, and taking an array with its own join for a plain one 1",
    20,
    12,
  ],
];

describe('divergence repros: plain Node, instrumented Node and Rust agree', function () {
  for (const [name, what, minRust, traceFirst] of CASES) {
    describe(`${name}: ${what}`, () => {
      const dir = join(FIXTURES, name);
      it('the instrumented module answers every request as the plain module does', async () => {
        const diffs = await plainVsInstrumented(dir, requestsOf(join(dir, 'requests.jsonl')));
        expect(diffs, diffs.join('\n')).to.deep.equal([]);
      });
      it('the watchdog answers alike with trace_mode=always and trace_mode=off', async () => {
        const started: Served[] = [];
        try {
          const always = await startOurs(dir, { trace_mode: 'always' });
          started.push(always);
          const off = await startOurs(dir, { trace_mode: 'off' });
          started.push(off);
          for (const r of requestsOf(join(dir, 'requests.jsonl'))) {
            const req = { method: r.method, path: r.target, headers: Object.fromEntries(r.headers), body: r.body };
            const a = await sendTo(always.port, req);
            const b = await sendTo(off.port, req);
            const show = (x: { status: number; headers: Record<string, unknown>; body: Buffer }): string =>
              `${x.status} ${String(x.headers['content-type'])} ${x.body.toString('utf8')}`;
            expect(show(a), `${r.method} ${r.target}`).to.equal(show(b));
          }
        } finally {
          for (const s of started) await s.stop();
        }
      });
      it(`the dispatcher diverges nowhere and answers at least ${minRust} requests itself`, async () => {
        const { code, summary, stderr } = await check(dir, traceFirst);
        expect(summary.error, relevant(stderr)).to.equal(undefined);
        expect(summary.diverged, relevant(stderr)).to.equal(0);
        // A panic in the dispatcher hands the request back too, but it is a bug all the same.
        expect(stderr, relevant(stderr)).not.to.include('the dispatcher failed while serving');
        expect(summary.rust, relevant(stderr)).to.be.at.least(minRust);
        expect(code).to.equal(0);
      });
    });
  }
});
