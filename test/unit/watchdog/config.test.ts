/**
 * readWatchdogConfig's promotion settings: trace_url and trace_token (trees POSTed to the provider),
 * CONTAINERLESS_DEPLOYMENT, trace_keepalive_interval, and the one-way rule for nats_url and trace_url.
 */
import { expect } from 'chai';
import { ConfigError } from '../../../lib/index.ts';
import { readWatchdogConfig } from '../../../watchdog/config.ts';

const read = (env: NodeJS.ProcessEnv) => readWatchdogConfig(env, '/tmp/fn', { saNamespaceFile: '/nonexistent' });

function problems(env: NodeJS.ProcessEnv): string {
  try {
    read(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('no ConfigError');
}

describe('readWatchdogConfig: trace intake and deployment', () => {
  it('defaults: no trace_url, deployment empty, publish every 60s when counts moved, keep-alive 10m', () => {
    const c = read({});
    expect(c.tracing.traceUrl).to.equal(undefined);
    expect(c.tracing.traceToken).to.equal(undefined);
    expect(c.deployment).to.equal('');
    expect(c.tracing.publishIntervalMs).to.equal(60_000);
    expect(c.tracing.keepAliveMs).to.equal(600_000);
    expect(c.functionName).to.equal('fn');
    expect(c.namespace).to.equal('openfaas-fn');
  });

  it('reads trace_url, trace_token, CONTAINERLESS_DEPLOYMENT and the intervals', () => {
    const c = read({
      trace_url: 'http://127.0.0.1:8080/_/containerless/traces/openfaas-fn/hello',
      trace_token: 't0k',
      CONTAINERLESS_DEPLOYMENT: 'd-1',
      trace_publish_interval: '1s',
      trace_keepalive_interval: '0',
      OPENFAAS_NAME: 'hello',
    });
    expect(c.tracing.traceUrl).to.equal('http://127.0.0.1:8080/_/containerless/traces/openfaas-fn/hello');
    expect(c.tracing.traceToken).to.equal('t0k');
    expect(c.deployment).to.equal('d-1');
    expect(c.tracing.publishIntervalMs).to.equal(1000);
    expect(c.tracing.keepAliveMs).to.equal(0);
    expect(c.functionName).to.equal('hello');
    expect(read({ trace_url: 'https://provider.example:8443/in' }).tracing.traceUrl).to.equal('https://provider.example:8443/in');
  });

  it('refuses a trace_url that is not an http(s) URL, or carries credentials', () => {
    expect(problems({ trace_url: 'nats://127.0.0.1:4222' })).to.include('trace_url');
    expect(problems({ trace_url: '127.0.0.1:8080/x' })).to.include('trace_url');
    expect(problems({ trace_url: 'http://user:pw@127.0.0.1/x' })).to.include('without credentials');
  });

  it('refuses nats_url and trace_url together', () => {
    expect(problems({ nats_url: 'nats://127.0.0.1:4222', trace_url: 'http://127.0.0.1:8080/x' })).to.include('nats_url and trace_url are both set');
  });
});
