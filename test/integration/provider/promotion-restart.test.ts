/**
 * A promoted function across a provider restart and a code update, end to end on the local backend (real
 * provider processes on one state_dir, watchdog replicas, cargo builds, dispatcher processes), with the
 * deterministic handler of test/fixtures/promotion/steady:
 *
 * - restart while promoted: the new provider adopts the function from the build cache before it serves, with
 *   the same dispatcher version, and nothing compiles (`containerless_compiles_total` 0 in the new process);
 * - code update while promoted (PUT /system/functions with a changed handler folder): from the moment the PUT
 *   returns the old dispatcher answers nothing (status engine node, demotion `update`, no Rust answer until
 *   the new code is promoted, every answer the new code's once a new replica answers), and the new code is
 *   then promoted to a dispatcher of its own that answers as the new code does.
 */
import { expect } from 'chai';
import { cpSync, existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRequests, toHttpRequest } from '../../../harness/index.ts';
import { cacheDir } from '../../../lib/index.ts';
import { metricValue, removeDir, ROOT, send, startProvider, ProviderApi, type PromotionStatus, type ProviderProc } from './harness.ts';

const STEADY = join(ROOT, 'test/fixtures/promotion/steady');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ENV = { CONTAINERLESS_CACHE: cacheDir(), promote_stable_requests: '20', promote_compare_cost: 'false' };

describe('promotion across a provider restart and a code update', function () {
  this.timeout(600_000);
  let p: ProviderProc;
  let api: ProviderApi;
  const known = readRequests(join(STEADY, 'requests.jsonl')).map((r) => toHttpRequest(r));

  before(async () => {
    p = await startProvider(ENV);
    api = new ProviderApi(p);
    // The function's folder is a copy, so that the update can change its code.
    cpSync(STEADY, join(p.dir, 'steady-v1'), { recursive: true });
    const v2 = join(p.dir, 'steady-v2');
    cpSync(STEADY, v2, { recursive: true });
    writeFileSync(join(v2, 'handler.js'), readFileSync(join(v2, 'handler.js'), 'utf8').replace("const VERSION = 'v1';", "const VERSION = 'v2';"));
    await api.deploy('steady', join(p.dir, 'steady-v1'));
  });
  after(async () => {
    await p?.stop();
    if (process.env.KEEP_PROVIDER_LOG) console.error(p?.output());
    if (p) await removeDir(p.dir);
  });

  /** Sends the known requests until `until(status)`, a build waited out without traffic. */
  async function drive(until: (s: PromotionStatus) => boolean, limitMs = 240_000): Promise<PromotionStatus> {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const s = await api.status('steady');
      if (until(s)) return s;
      if (Date.now() > deadline) throw new Error(`not there within ${limitMs / 1000} s: ${JSON.stringify(s)}\n${p.output().slice(-3000)}`);
      if (s.phase === 'compiling' || s.phase === 'starting') await sleep(500);
      else for (const r of known) await send(api.invokeUrl('steady'), r);
    }
  }

  it('a provider restart adopts the promoted function from the build cache: same dispatcher, nothing compiles', async () => {
    const s0 = await drive((s) => s.engine === 'rust');
    const version = s0.dispatcher!.version;
    const dir = p.dir;
    await p.stop();
    p = await startProvider(ENV, dir);
    api = new ProviderApi(p);
    // Adopted before the provider serves: the first status already says Rust.
    const s1 = await api.status('steady');
    expect(s1.engine, JSON.stringify(s1)).to.equal('rust');
    expect(s1.phase).to.equal('promoted');
    expect(s1.dispatcher?.version).to.equal(version);
    expect(s1.promotions).to.equal(s0.promotions);
    expect(p.output()).to.match(/adopted: steady-rust-\d+ \(\w+, from the build cache\)/);
    const before = await api.served('steady');
    for (const r of known) {
      const a = await send(api.invokeUrl('steady'), r);
      expect(a.body).to.include('v1');
    }
    const after = await api.served('steady');
    expect(after.rust - before.rust, 'every known request answered by the adopted dispatcher').to.equal(known.length);
    const text = await api.metrics();
    expect(metricValue(text, 'containerless_compiles_total', { function_name: 'steady.openfaas-fn' }), 'compiles in the new process').to.equal(0);
    expect(text).to.include('containerless_function_engine{function_name="steady.openfaas-fn",engine="rust"} 1');
  });

  it('a code update retires the dispatcher when the PUT returns: the old code never answers again, the new code promotes', async () => {
    const s0 = await api.status('steady');
    expect(s0.engine).to.equal('rust');
    const promotionsBefore = s0.promotions;
    await api.deploy('steady', join(p.dir, 'steady-v2'), {}, 'PUT');
    const s1 = await api.status('steady');
    expect(s1.engine, JSON.stringify(s1)).to.equal('node');
    expect(s1.dispatcher).to.equal(null);
    expect(s1.demotions[s1.demotions.length - 1]?.reason).to.equal('update');
    // Until the new code is promoted, nothing is answered by Rust; once a new replica answered with the new
    // code, no answer has the old one (the old replica is gone).
    let sawV2 = false;
    const until = Date.now() + 6000;
    const before = await api.served('steady');
    let sent = 0;
    while (Date.now() < until) {
      for (const r of known) {
        const a = await send(api.invokeUrl('steady'), r);
        sent++;
        expect(a.status, a.body).to.be.oneOf([200, 404]);
        if (a.body.includes('v2')) sawV2 = true;
        else expect(sawV2, `an answer of the old code after one of the new: ${a.body}`).to.equal(false);
      }
    }
    const after = await api.served('steady');
    const s2 = await api.status('steady');
    expect(sawV2, 'the new code answers').to.equal(true);
    if (s2.promotions === promotionsBefore) expect(after.rust - before.rust, `rust answers before a new promotion (${sent} sent)`).to.equal(0);
    // Driven on, the new code gets a dispatcher of its own (another build: the source is part of its key).
    const s3 = await drive((s) => s.engine === 'rust' && s.promotions > promotionsBefore);
    expect(s3.dispatcher?.version).to.not.equal(s0.dispatcher?.version);
    const b = await api.served('steady');
    for (const r of known) expect((await send(api.invokeUrl('steady'), r)).body).to.include('v2');
    const a = await api.served('steady');
    expect(a.rust - b.rust).to.equal(known.length);
  });

  it('a delete removes the dispatcher process, the tree and the promotion state', async () => {
    const s = await api.status('steady');
    expect(s.engine).to.equal('rust');
    // startProvider's state_dir is <dir>/state.
    const stateDir = join(p.dir, 'state', 'promotion', 'openfaas-fn', 'steady');
    expect(existsSync(join(stateDir, 'tree.json')), `${stateDir}/tree.json`).to.equal(true);
    const pid = dispatcherPid(p.child.pid!);
    expect(pid, 'the promoted dispatcher runs as a child of the provider').to.be.a('number');
    const r = await api.api('/system/functions', {
      method: 'DELETE',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ functionName: 'steady' }),
    });
    expect(r.status, await r.text()).to.equal(202);
    const deadline = Date.now() + 15_000;
    while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await sleep(100);
    expect(existsSync(`/proc/${pid}`), 'the dispatcher process is gone').to.equal(false);
    expect(existsSync(stateDir), 'the tree and the state are gone').to.equal(false);
    expect((await api.api('/system/containerless/function/steady?namespace=openfaas-fn')).status).to.equal(404);
    const text = await api.metrics();
    expect(text).to.not.include('containerless_function_engine{function_name="steady.openfaas-fn"');
  });
});

/** The dispatcher the provider `ppid` started: a child whose executable lies under the build cache's dispatchers. */
function dispatcherPid(ppid: number): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === ppid && readlinkSync(`/proc/${d}/exe`).includes('/dispatchers/')) return Number(d);
    } catch {
      // gone, or not ours to read
    }
  }
  return undefined;
}
