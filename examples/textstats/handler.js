'use strict';
// Compute-heavy example (OpenFaaS node template contract): statistics of a text with regexes: word
// frequencies without stop words, sentence splitting, the top N words and word pairs, syllables and a
// readability score.
//
//   POST /           text/plain body: the text; answers JSON
//   POST /?top=5     the five most frequent words and pairs (default 10, at most 50)
//   POST /           application/json {"text": "...", "top": 3, "stopWords": false}
//   POST /sentences  the sentences, each with its word count and longest word
//
// Words are runs of letters, digits and apostrophes, lower-cased; ties in frequency sort alphabetically.
// An empty text, a bad top or a body of another type is a 400 with an error object.

const MAX_INPUT = 128 * 1024;
const STOP_WORDS = new Set(
  'a an and are as at be but by for from had has have he her his i in is it its of on or she so that the their them they this to was we were which with you'.split(
    ' ',
  ),
);

function words(text) {
  return (text.toLowerCase().match(/[a-z0-9]+(?:'[a-z]+)*/g) || []).filter((w) => w.length > 0);
}

function sentences(text) {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat === '') return [];
  const found = flat.match(/[^.!?]+(?:[.!?]+|$)/g) || [];
  return found.map((s) => s.trim()).filter((s) => /[a-z0-9]/i.test(s));
}

function syllables(word) {
  const w = word.replace(/'.*$/, '').replace(/(?:[^laeiouy]es|ed|[^laeiouy]e)$/, '').replace(/^y/, '');
  const groups = w.match(/[aeiouy]{1,2}/g);
  return Math.max(1, groups ? groups.length : 0);
}

function topEntries(counts, n) {
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n)
    .map(([word, count]) => ({ word, count }));
}

function analyse(text, top, skipStopWords) {
  const all = words(text);
  const counts = new Map();
  const pairs = new Map();
  let letters = 0;
  let syllableCount = 0;
  let longest = '';
  let previous = null;
  for (const w of all) {
    letters += w.length;
    syllableCount += syllables(w);
    if (w.length > longest.length || (w.length === longest.length && w < longest)) longest = w;
    if (skipStopWords && STOP_WORDS.has(w)) {
      previous = null;
      continue;
    }
    counts.set(w, (counts.get(w) || 0) + 1);
    if (previous !== null) {
      const pair = previous + ' ' + w;
      pairs.set(pair, (pairs.get(pair) || 0) + 1);
    }
    previous = w;
  }
  const sents = sentences(text);
  const perSentence = sents.length ? all.length / sents.length : 0;
  const perWord = all.length ? syllableCount / all.length : 0;
  const flesch = all.length ? 206.835 - 1.015 * perSentence - 84.6 * perWord : 0;
  const lines = text.split(/\r?\n/);
  return {
    characters: text.length,
    lines: lines.length,
    paragraphs: text.split(/\n\s*\n/).filter((p) => p.trim() !== '').length,
    words: all.length,
    distinct: new Set(all).size,
    sentences: sents.length,
    letters,
    syllables: syllableCount,
    averageWordLength: all.length ? Number((letters / all.length).toFixed(2)) : 0,
    wordsPerSentence: Number(perSentence.toFixed(2)),
    readingEase: Number(flesch.toFixed(1)),
    longestWord: longest,
    numbers: (text.match(/\b\d+(?:[.,]\d+)?\b/g) || []).length,
    capitalised: (text.match(/\b[A-Z][a-z]+\b/g) || []).length,
    topWords: topEntries(counts, top),
    topPairs: topEntries(pairs, top).filter((e) => e.count > 1),
  };
}

function readInput(event) {
  const query = event.query || {};
  if (typeof event.body === 'string') return { text: event.body, top: query.top, stopWords: query.stopWords };
  if (event.body && typeof event.body === 'object' && !Array.isArray(event.body)) {
    const b = event.body;
    return { text: b.text, top: b.top !== undefined ? b.top : query.top, stopWords: b.stopWords !== undefined ? b.stopWords : query.stopWords };
  }
  return { text: undefined };
}

module.exports = async (event, context) => {
  if (event.method !== 'POST') return context.status(405).headers({ allow: 'POST' }).succeed({ error: 'POST a text' });
  const input = readInput(event);
  if (typeof input.text !== 'string') return context.status(400).succeed({ error: 'send text/plain or {"text": "..."}' });
  if (input.text.length > MAX_INPUT) return context.status(413).succeed({ error: 'text too long', max: MAX_INPUT });
  if (input.text.trim() === '') return context.status(400).succeed({ error: 'empty text' });
  const top = input.top === undefined ? 10 : Number(input.top);
  if (!Number.isInteger(top) || top < 1 || top > 50) return context.status(400).succeed({ error: 'top must be an integer from 1 to 50', got: input.top });
  const skipStopWords = input.stopWords !== false && input.stopWords !== 'false' && input.stopWords !== '0';

  if (event.path === '/sentences') {
    const list = sentences(input.text).map((s, i) => {
      const ws = words(s);
      const longest = ws.reduce((l, w) => (w.length > l.length ? w : l), '');
      return { n: i + 1, words: ws.length, longest, text: s.length > 80 ? s.slice(0, 77) + '...' : s };
    });
    return context.status(200).succeed({ count: list.length, sentences: list });
  }
  if (event.path !== '/' && event.path !== '') return context.status(404).succeed({ error: 'not found', path: event.path });
  return context.status(200).succeed(analyse(input.text, top, skipStopWords));
};
