/**
 * Pure parts of the provider: payload schemas and names, config parsing, invoke path parsing, the scaling
 * decision, and the concurrency integral the autoscaler reads (with an injected clock).
 */
import { expect } from 'chai';
import { Registry } from 'prom-client';
import { decideReplicas, RegistryLoadSource, scalePolicy } from '../../../provider/autoscaler.ts';
import { InvalidError, minReplicas } from '../../../provider/backend.ts';
import { ConfigError } from '../../../lib/index.ts';
import { readConfig } from '../../../provider/config.ts';
import { ProviderMetrics } from '../../../provider/metrics.ts';
import { parseInvokePath } from '../../../provider/proxy.ts';
import { checkFunctionName, parseDelete, parseDeployment, parseScale, parseSecret } from '../../../provider/schemas.ts';

const reason = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidError);
    return (err as Error).message;
  }
  throw new Error('expected an InvalidError');
};

describe('provider schemas', () => {
  it('accepts a faas-cli deployment with null labels, annotations, limits and unknown fields', () => {
    const d = parseDeployment({ service: 'a', image: 'b', labels: null, annotations: null, limits: null, requests: null, futureField: 1 });
    expect(d.service).to.equal('a');
  });
  it('names the field in a one-line reason', () => {
    expect(reason(() => parseDeployment({ image: 'x' }))).to.equal('service: required');
    expect(reason(() => parseDeployment({ service: 'a', image: 'b', labels: { x: 2 } }))).to.equal('labels.x: must be string');
    expect(reason(() => parseDeployment({ service: 'a', image: 'b', secrets: 'nope' }))).to.equal('secrets: must be array or null');
    expect(reason(() => parseScale({ replicas: 1.5 }))).to.equal('replicas: must be integer');
    expect(reason(() => parseDelete({}))).to.equal('functionName: required');
    expect(reason(() => parseSecret({ name: 's', rawValue: '***' }))).to.equal('rawValue: must be base64');
    // Go's base64.StdEncoding needs whole 4-character groups with their padding
    for (const bad of ['abc', 'a', 'YWJj=', 'YQ=', 'YQ==='])
      expect(
        reason(() => parseSecret({ name: 's', rawValue: bad })),
        bad,
      ).to.equal('rawValue: must be base64');
    for (const good of ['', 'YWJj', 'YQ==', 'YWI=']) expect(parseSecret({ name: 's', rawValue: good }).rawValue, good).to.equal(good);
    expect(reason(() => parseDeployment(undefined))).to.equal('body: required (a JSON object)');
    expect(reason(() => parseDeployment([1]))).to.equal('body: must be object');
  });
  it('refuses names that are not RFC 1123 labels', () => {
    for (const bad of ['', 'A', 'a_b', '-a', 'a-', 'a.b', 'x'.repeat(64)]) expect(() => checkFunctionName(bad), bad).to.throw(InvalidError);
    for (const good of ['a', 'a-b', '0x', 'x'.repeat(63)]) expect(() => checkFunctionName(good), good).to.not.throw();
  });
});

describe('provider config', () => {
  it('has faas-provider defaults', () => {
    const c = readConfig({});
    expect(c).to.include({
      port: 8080,
      basicAuth: true,
      secretMountPathSet: false,
      secretMountPath: '/run/secrets/',
      readTimeoutMs: 10_000,
      writeTimeoutMs: 10_000,
      functionNamespace: 'openfaas-fn',
    });
  });
  it('turns basic auth off only when asked', () => {
    expect(readConfig({ basic_auth: 'false' }).basicAuth).to.equal(false);
    expect(readConfig({ secret_mount_path: '/var/secrets' })).to.include({ basicAuth: true, secretMountPathSet: true });
  });
  it('reads allowed_hosts and allowed_origins, and refuses what is neither', () => {
    const c = readConfig({ allowed_hosts: 'Provider.Example.com, *.internal.example', allowed_origins: 'https://ui.example.com/' });
    expect(c.allowedHosts).to.deep.equal(['provider.example.com', '*.internal.example']);
    expect(c.allowedOrigins).to.deep.equal(['https://ui.example.com']);
    expect(() => readConfig({ allowed_hosts: 'a.example:8080', allowed_origins: 'https://ui.example.com/path' }))
      .to.throw(ConfigError)
      .with.property('problems')
      .that.has.length(2);
  });
  it('reads whole seconds and Go durations', () => {
    expect(readConfig({ read_timeout: '30', write_timeout: '1m30s' })).to.include({ readTimeoutMs: 30_000, writeTimeoutMs: 90_000 });
    expect(readConfig({ read_timeout: '.5s', write_timeout: '+1s', scale_window: '1.5h', cold_start_timeout: '0' })).to.include({
      readTimeoutMs: 500,
      writeTimeoutMs: 1000,
      scaleWindowMs: 5_400_000,
      coldStartTimeoutMs: 0,
    });
  });
  it('refuses durations Go refuses, and negative ones', () => {
    for (const bad of ['10 s', ' 10s', '1x', '-1s', '-5']) {
      expect(() => readConfig({ write_timeout: bad }), bad).to.throw(ConfigError, 'write_timeout');
    }
  });
  it('reads local_replica, auto by default', () => {
    expect(readConfig({}).localReplica).to.equal('auto');
    expect(readConfig({ local_replica: 'runner' }).localReplica).to.equal('runner');
    expect(() => readConfig({ local_replica: 'docker' })).to.throw(ConfigError, 'local_replica="docker" is not auto, watchdog or runner');
  });
  it('reports every bad variable at once', () => {
    try {
      readConfig({ port: 'x', basic_auth: 'maybe', read_timeout: 'soon', max_body_size: 'big' });
      expect.fail('no error');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).problems).to.have.length(4);
    }
  });
});

describe('parseInvokePath', () => {
  it('splits name and namespace at the last dot and keeps sub-path and query', () => {
    expect(parseInvokePath('/function/fn')).to.deep.equal({ name: 'fn', namespace: undefined, path: '/' });
    expect(parseInvokePath('/function/fn/')).to.deep.equal({ name: 'fn', namespace: undefined, path: '/' });
    expect(parseInvokePath('/function/fn.ns/a/b?x=1')).to.deep.equal({ name: 'fn', namespace: 'ns', path: '/a/b?x=1' });
    expect(parseInvokePath('/function/fn?x=1')).to.deep.equal({ name: 'fn', namespace: undefined, path: '/?x=1' });
    expect(parseInvokePath('/function/.openfaas-fn')).to.deep.equal({ name: '', namespace: 'openfaas-fn', path: '/' });
  });
});

describe('scaling decision', () => {
  const d = { target: 10, maxReplicas: 20, zeroDurationMs: 900_000 };
  it('reads labels with defaults and caps', () => {
    expect(scalePolicy({}, d)).to.deep.equal({ min: 1, max: 20, target: 10, zero: false, zeroDurationMs: 900_000 });
    expect(scalePolicy({ 'com.openfaas.scale.max': '50', 'com.openfaas.scale.zero': 'true', 'com.openfaas.scale.zero-duration': '30s' }, d)).to.include({
      max: 20,
      zero: true,
      zeroDurationMs: 30_000,
    });
    expect(minReplicas({ 'com.openfaas.scale.min': '3' })).to.equal(3);
    expect(minReplicas({ 'com.openfaas.scale.min': '0' })).to.equal(1);
  });
  it('sets ceil(concurrency / target) between min and max', () => {
    const p = scalePolicy({ 'com.openfaas.scale.min': '2', 'com.openfaas.scale.max': '5' }, d);
    expect(decideReplicas(2, p, { concurrency: 0 }, 0, 0)).to.equal(2);
    expect(decideReplicas(2, p, { concurrency: 31 }, 0, 0)).to.equal(4);
    expect(decideReplicas(2, p, { concurrency: 30 }, 0, 0)).to.equal(3);
    expect(decideReplicas(4, p, { concurrency: 500 }, 0, 0)).to.equal(5);
    expect(decideReplicas(5, p, { concurrency: 1 }, 0, 0)).to.equal(2);
  });
  it('never raises from zero and goes to zero only idle, with scale.zero, past the duration', () => {
    const z = scalePolicy({ 'com.openfaas.scale.zero': 'true', 'com.openfaas.scale.zero-duration': '1m' }, d);
    expect(decideReplicas(0, z, { concurrency: 100 }, 5, 0)).to.equal(0);
    expect(decideReplicas(1, z, { concurrency: 0 }, 0, 59_000)).to.equal(1);
    expect(decideReplicas(1, z, { concurrency: 0 }, 0, 60_000)).to.equal(0);
    expect(decideReplicas(1, z, { concurrency: 0 }, 1, 600_000)).to.equal(1);
    expect(decideReplicas(1, scalePolicy({}, d), { concurrency: 0 }, 0, 600_000_000)).to.equal(1);
  });
});

describe('concurrency integral (ProviderMetrics + RegistryLoadSource)', () => {
  it('averages in-flight requests over the window', async () => {
    let perf = 0;
    let wall = 1_000_000;
    const registry = new Registry();
    const m = new ProviderMetrics(registry, () => perf);
    const source = new RegistryLoadSource(registry, m, () => wall);
    const tick = async (ms: number) => {
      perf += ms;
      wall += ms;
      return source.read(10_000);
    };
    await source.read(10_000);
    // two requests in flight for 1 s, then one for 1 s: 3 request-seconds over 2 s
    const a = m.begin('f.ns');
    const b = m.begin('f.ns');
    // a third one still sending its body: not in flight yet
    const slow = m.begin('f.ns');
    a.forwarding();
    b.forwarding();
    perf += 1000;
    wall += 1000;
    a.end(200);
    const s = await tick(1000);
    b.end(200);
    expect(s.get('f.ns')?.concurrency).to.be.closeTo(1.5, 1e-9);
    expect(m.invocations('f.ns')).to.equal(2);
    slow.end(408);
    expect(m.invocations('f.ns')).to.equal(3);
    // nothing in flight for 8 s more: 3 request-seconds over 10 s
    const later = await tick(8000);
    expect(later.get('f.ns')?.concurrency).to.be.closeTo(0.3, 1e-9);
    expect(m.inflightNow('f.ns')).to.equal(0);
  });
});
