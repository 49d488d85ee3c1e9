/**
 * Requests files for `containerless check` (harness/requests.ts): parsing, validation messages that name the
 * line and the field, and the request each line puts on the wire.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRequests, queryString, readRequests, RequestsFileError, toHttpRequest } from '../../../harness/index.ts';

function errorOf(text: string): RequestsFileError {
  try {
    parseRequests(text, 'r.jsonl');
  } catch (err) {
    expect(err).to.be.instanceOf(RequestsFileError);
    return err as RequestsFileError;
  }
  expect.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('parseRequests', () => {
  it('reads one request per line, skipping blank lines and # comments, and keeps line numbers', () => {
    const text = '# requests\n\n{"method":"GET","path":"/a"}\n  \n{"method":"POST","path":"/b","body":{"x":1}}\r\n# end\n';
    const got = parseRequests(text, 'r.jsonl');
    expect(got).to.deep.equal([
      { method: 'GET', path: '/a', line: 3 },
      { method: 'POST', path: '/b', body: { x: 1 }, line: 5 },
    ]);
  });

  it('accepts every field of the format', () => {
    const line = { method: 'PUT', path: '/x/y', query: { a: '1', b: ['2', '3'] }, headers: { 'x-a': 'v', Accept: '*/*' }, body: [1, null] };
    expect(parseRequests(JSON.stringify(line), 'r.jsonl')).to.deep.equal([{ ...line, line: 1 }]);
  });

  it('returns nothing for a file of comments', () => {
    expect(parseRequests('# nothing\n\n', 'r.jsonl')).to.deep.equal([]);
  });

  it('names the line and the unknown field', () => {
    const e = errorOf('{"method":"GET","path":"/a"}\n# x\n{"method":"GET","path":"/a","bdy":1}');
    expect(e.code).to.equal('E_REQUESTS');
    expect(e.line).to.equal(3);
    expect(e.field).to.equal('bdy');
    expect(e.message).to.match(/^r\.jsonl:3: unknown field "bdy"/);
  });

  it('names a missing required field', () => {
    const e = errorOf('{"path":"/a"}');
    expect([e.line, e.field]).to.deep.equal([1, 'method']);
    expect(e.message).to.equal('r.jsonl:1: missing field "method"');
    expect(errorOf('{"method":"GET"}').message).to.equal('r.jsonl:1: missing field "path"');
  });

  it('accepts what Node\'s client sends as it is: a tab or Latin-1 in a header, <>`" in the path', () => {
    const [r] = parseRequests('{"method":"GET","path":"/a<b>`\\"c?x=\\"","headers":{"x":"a\\tb é ÿ"}}', 'r.jsonl');
    expect(r.path).to.equal('/a<b>`"c?x="');
    expect(r.headers).to.deep.equal({ x: 'a\tb é ÿ' });
  });

  it('rejects a line that is not JSON, or not an object', () => {
    expect(errorOf('{"method":').message).to.match(/^r\.jsonl:1: not a JSON object \(/);
    expect(errorOf('[1]').message).to.equal('r.jsonl:1: a request must be a JSON object');
  });

  it('explains bad values of each field', () => {
    const cases: [string, string, string][] = [
      ['{"method":"get","path":"/a"}', 'method', 'must be an HTTP method in capitals'],
      ['{"method":1,"path":"/a"}', 'method', 'must be a string'],
      ['{"method":"GET","path":"a"}', 'path', 'must start with "/"'],
      ['{"method":"GET","path":"/a b"}', 'path', 'no spaces'],
      ['{"method":"GET","path":"/a","query":{"k":1}}', 'query.k', 'must be a string or an array of strings'],
      ['{"method":"GET","path":"/a","query":{"k":["x",2]}}', 'query.k', 'must be a string or an array of strings'],
      ['{"method":"GET","path":"/a","query":"k=v"}', 'query', 'must be an object'],
      ['{"method":"GET","path":"/a","headers":{"x":5}}', 'headers.x', 'must be a string'],
      ['{"method":"GET","path":"/a","headers":{"a b":"1"}}', 'headers.a b', 'not a valid header name'],
      ['{"method":"GET","path":"/a","headers":{"x":"1\\r\\nevil: 2"}}', 'headers.x', 'line breaks'],
      // What Node's client refuses to send (ERR_INVALID_CHAR, ERR_UNESCAPED_CHARACTERS), or its server answers 400 to.
      ['{"method":"GET","path":"/a","headers":{"x":"a\\u0001b"}}', 'headers.x', 'control characters'],
      ['{"method":"GET","path":"/a","headers":{"x":"a\\u007f"}}', 'headers.x', 'control characters'],
      ['{"method":"GET","path":"/a","headers":{"x":"5 €"}}', 'headers.x', 'Latin-1'],
      ['{"method":"GET","path":"/€"}', 'path', 'printable ASCII'],
      ['{"method":"GET","path":"/é"}', 'path', 'printable ASCII'],
      ['{"method":"GET","path":"/a\\u0001"}', 'path', 'printable ASCII'],
      ['{"method":"GET","path":"/a","headers":{"Content-Length":"3"}}', 'headers.Content-Length', 'computed from the body'],
      ['{"method":"GET","path":"/a","headers":{"X-A":"1","x-a":"2"}}', 'headers.x-a', 'given twice'],
    ];
    for (const [text, field, words] of cases) {
      const e = errorOf(text);
      expect(e.field, text).to.equal(field);
      expect(e.message, text).to.include(words);
      expect(e.message, text).to.match(/^r\.jsonl:1: /);
    }
  });
});

describe('readRequests', () => {
  it('names the file by its base name in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-requests-'));
    const file = join(dir, 'mine.jsonl');
    try {
      writeFileSync(file, '{"method":"GET","path":"/"}\n{"method":"GET"}\n');
      expect(() => readRequests(file)).to.throw(RequestsFileError, 'mine.jsonl:2: missing field "path"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a file it cannot read', () => {
    expect(() => readRequests('/nonexistent/requests.jsonl')).to.throw(RequestsFileError, /cannot read \(ENOENT\)/);
  });
});

describe('toHttpRequest', () => {
  it('sends a string body as it is, with only the headers given', () => {
    const r = toHttpRequest({ method: 'POST', path: '/t', headers: { 'content-type': 'text/plain' }, body: 'héllo' });
    expect(r.body?.toString('utf8')).to.equal('héllo');
    expect(r.headers).to.deep.equal([
      ['content-type', 'text/plain'],
      ['content-length', '6'],
    ]);
  });

  it('sends other JSON values stringified, as application/json unless a content type is given', () => {
    const r = toHttpRequest({ method: 'POST', path: '/j', body: { a: [1, 'x'] } });
    expect(r.body?.toString('utf8')).to.equal('{"a":[1,"x"]}');
    expect(r.headers).to.deep.equal([
      ['content-type', 'application/json'],
      ['content-length', '13'],
    ]);
    const typed = toHttpRequest({ method: 'POST', path: '/j', headers: { 'Content-Type': 'application/vnd.x+json' }, body: null });
    expect(typed.body?.toString('utf8')).to.equal('null');
    expect(typed.headers).to.deep.equal([
      ['Content-Type', 'application/vnd.x+json'],
      ['content-length', '4'],
    ]);
  });

  it('sends no body and no length when the line has none', () => {
    const r = toHttpRequest({ method: 'GET', path: '/' });
    expect(r).to.deep.equal({ method: 'GET', target: '/', headers: [], body: undefined });
  });

  it('encodes the query, repeating a key for an array, after any query already in the path', () => {
    expect(toHttpRequest({ method: 'GET', path: '/q', query: { a: 'x y', tag: ['1', '2'], 'é&': '=' } }).target).to.equal(
      '/q?a=x%20y&tag=1&tag=2&%C3%A9%26=%3D',
    );
    expect(toHttpRequest({ method: 'GET', path: '/q?z=0', query: { a: '1' } }).target).to.equal('/q?z=0&a=1');
    expect(queryString({})).to.equal('');
    expect(queryString({ a: [] })).to.equal('');
  });
});
