import { expect } from 'chai';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { hostName, makeHostCheck, requestGuard, requireJson } from '../../../provider/guard.ts';
import { checkLocalEnvVars } from '../../../provider/backends/local-env.ts';
import { InvalidError } from '../../../provider/backend.ts';

describe('Host check (DNS rebinding guard)', () => {
  const ok = makeHostCheck({ allowedHosts: ['provider.example.com', '*.corp.example'], podNamespace: 'openfaas' });
  it('reads the name out of a Host header', () => {
    expect(hostName('Example.COM:8080')).to.equal('example.com');
    expect(hostName('[::1]:8080')).to.equal('::1');
    expect(hostName('example.com.')).to.equal('example.com');
  });
  it('accepts IP literals, localhost, single labels and cluster names', () => {
    for (const h of [
      '127.0.0.1:8080',
      '10.1.2.3',
      '[::1]:8080',
      'localhost:8080',
      'api.localhost',
      'gateway:8080',
      'provider.openfaas-system.svc:8081',
      'p.openfaas.svc.cluster.local',
      'containerless-provider.openfaas:8080',
    ]) {
      expect(ok(h), h).to.equal(true);
    }
  });
  it('accepts configured names and suffixes', () => {
    expect(ok('provider.example.com:443')).to.equal(true);
    expect(ok('a.corp.example')).to.equal(true);
  });
  it('refuses any other DNS name, as a rebinding page would send', () => {
    for (const h of ['evil.example:8080', 'localhost.evil.example', 'provider.example.com.evil.example', 'x.svc.evil.example', 'corp.example', 'p.other-ns']) {
      expect(ok(h), h).to.equal(false);
    }
  });
});

describe('request guard and JSON-only bodies', () => {
  let url: string;
  let server: ReturnType<express.Express['listen']>;
  before(async () => {
    const app = express();
    app.use(requestGuard({ allowedHosts: [], allowedOrigins: ['https://ui.example.com'] }));
    app.post('/typed', requireJson(false), (_req, res) => res.send('ran'));
    app.post('/untyped-ok', requireJson(true), (_req, res) => res.send('ran'));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  /** A raw request, so Host and Origin are exactly what a browser would send. */
  const send = (path: string, headers: Record<string, string>, body = '{}'): Promise<[number, string]> =>
    new Promise((resolve, reject) => {
      const u = new URL(path, url);
      const req = request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d));
          res.on('end', () => resolve([res.statusCode ?? 0, text]));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const json = { 'content-type': 'application/json' };

  it('runs a JSON request with no Origin', async () => {
    expect(await send('/typed', json)).to.deep.equal([200, 'ran']);
  });
  it('refuses text/plain, forms, multipart and no type (415)', async () => {
    for (const type of [
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
    ]) {
      expect((await send('/typed', { 'content-type': type }))[0], type).to.equal(415);
    }
    expect((await send('/typed', {}))[0]).to.equal(415);
    expect(await send('/untyped-ok', {})).to.deep.equal([200, 'ran']);
  });
  it('refuses a cross-site Origin and Origin null (403)', async () => {
    const [status, text] = await send('/typed', { ...json, origin: 'http://evil.example' });
    expect(status).to.equal(403);
    expect(text).to.include('allowed_origins');
    expect((await send('/typed', { ...json, origin: 'null' }))[0]).to.equal(403);
  });
  it('accepts the request’s own origin, the forwarding gateway’s, and configured ones', async () => {
    const host = new URL(url).host;
    expect((await send('/typed', { ...json, origin: `http://${host}` }))[0]).to.equal(200);
    expect((await send('/typed', { ...json, origin: 'http://gw.example:31112', 'x-forwarded-host': 'gw.example:31112' }))[0]).to.equal(200);
    expect((await send('/typed', { ...json, origin: 'https://ui.example.com' }))[0]).to.equal(200);
  });
  it('refuses a rebinding Host (403), whatever the Origin', async () => {
    const [status, text] = await send('/typed', { ...json, host: 'rebind.evil.example:8080' });
    expect(status).to.equal(403);
    expect(text).to.include('allowed_hosts');
    expect((await send('/typed', { ...json, host: 'rebind.evil.example:8080', origin: 'http://rebind.evil.example:8080' }))[0]).to.equal(403);
  });
});

describe('envVars of a local replica', () => {
  it('refuses variables that run code before the handler, naming them', () => {
    expect(() => checkLocalEnvVars({ NODE_OPTIONS: '--import=data:,x', LD_PRELOAD: '/x.so', FOO: 'bar' })).to.throw(
      InvalidError,
      /NODE_OPTIONS, LD_PRELOAD are not allowed/,
    );
    expect(() => checkLocalEnvVars({ BASH_ENV: '/x' })).to.throw(InvalidError, /BASH_ENV is not allowed/);
  });
  it('lets ordinary variables through', () => {
    expect(() => checkLocalEnvVars({ NODE_ENV: 'production', write_timeout: '5s', node_options: 'lower case is not NODE_OPTIONS' })).to.not.throw();
    expect(() => checkLocalEnvVars(undefined)).to.not.throw();
  });
});
