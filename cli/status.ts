/** `containerless status <name>`: where a function is in the promotion lifecycle, from a running provider. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliUsageError, onePositional, type Command } from './command.ts';

const STATUS_HELP = `Usage: containerless status <function> [--url <provider-url>] [-n <namespace>] [--json]

Asks a running provider (containerless up) where a function is in the promotion lifecycle: the engine that
answers it (node or rust), its phase (tracing, compiling, starting, canary, promoted), the dispatcher's
version, traced requests and tree size, the last compile's result, time and diagnostics, fallbacks by kind,
the cost comparison of the two engines, promotions and demotions with their reasons.

Options:
  --url <url>            the provider (default $OPENFAAS_URL, else http://127.0.0.1:8080)
  -n, --namespace <ns>   the function's namespace (default: the provider's default)
  --json                 print the provider's JSON as it is
  -h, --help             show this help

Credentials: basic auth as faas-cli uses it, from $OPENFAAS_USER (admin) and $OPENFAAS_PASSWORD, else the
password file the provider generated (<state_dir>/auth/basic-auth-password; state_dir from $state_dir, else
$CONTAINERLESS_CACHE or ~/.cache/containerless, then local-provider).

Exit status: 0 printed, 1 the provider answered an error or cannot be reached, 2 usage error.`;

interface Status {
  name: string;
  namespace: string;
  promotion: string;
  engine: string;
  phase: string;
  dispatcher?: { version: string; instance: string; since?: string } | null;
  canary?: { node: number; rust: number; want: number } | null;
  trace?: { requests: number; size: number; replicas: number; quiet: number; stableAfter: number; refused: Record<string, number> };
  compile?: { result: string; version: string; seconds: number; cached: boolean; at: string; diagnostics: string[] } | null;
  compiling?: string | null;
  requests?: { rust: number; node: number; fallback: number };
  fallbacks?: Record<string, number>;
  cost?: {
    decision: string;
    phase: string;
    at: string;
    cpuRatio?: number;
    node: { requests: number; cpuUsPerRequest?: number; p50Ms?: number };
    rust: { requests: number; cpuUsPerRequest?: number; p50Ms?: number };
  } | null;
  promotions?: number;
  demotions?: { reason: string; detail: string; at: string }[];
}

async function password(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (env.OPENFAAS_PASSWORD) return env.OPENFAAS_PASSWORD;
  const { readConfig } = await import('../provider/index.ts');
  try {
    return readFileSync(join(readConfig(env).stateDir, 'auth', 'basic-auth-password'), 'utf8').trim();
  } catch {
    return undefined;
  }
}

const cost = (c: { cpuUsPerRequest?: number; p50Ms?: number; requests: number }): string =>
  `${c.cpuUsPerRequest === undefined ? 'CPU ?' : `${c.cpuUsPerRequest.toFixed(0)} µs CPU`}, p50 ${c.p50Ms === undefined ? '?' : `${c.p50Ms.toFixed(2)} ms`} (${c.requests} requests)`;

/** The status as a few aligned lines. */
export function formatStatus(s: Status): string {
  const lines: [string, string][] = [];
  lines.push(['function', `${s.name}.${s.namespace}`]);
  lines.push(['engine', `${s.engine} (${s.phase}${s.promotion !== 'on' ? `; promotion ${s.promotion}` : ''})`]);
  if (s.dispatcher)
    lines.push(['dispatcher', `${s.dispatcher.version.slice(0, 12)} ${s.dispatcher.instance}${s.dispatcher.since ? ` since ${s.dispatcher.since}` : ''}`]);
  if (s.canary) lines.push(['canary', `node ${s.canary.node}/${s.canary.want}, rust ${s.canary.rust}/${s.canary.want}`]);
  if (s.trace) {
    const refused = Object.entries(s.trace.refused ?? {}).map(([k, v]) => `${k} ${v}`);
    lines.push([
      'trace',
      `${s.trace.requests} requests, size ${s.trace.size}, ${s.trace.replicas} replicas, quiet ${s.trace.quiet}/${s.trace.stableAfter}${refused.length ? `; refused: ${refused.join(', ')}` : ''}`,
    ]);
  }
  if (s.compiling) lines.push(['compiling', s.compiling]);
  if (s.compile)
    lines.push([
      'compile',
      `${s.compile.result} ${s.compile.version.slice(0, 12)} at ${s.compile.at}${s.compile.cached ? ' (cached)' : ` in ${s.compile.seconds.toFixed(1)} s`}`,
    ]);
  for (const d of s.compile?.diagnostics ?? []) lines.push(['', d]);
  if (s.requests) lines.push(['requests', `rust ${s.requests.rust}, node ${s.requests.node} (of which fallbacks ${s.requests.fallback})`]);
  const fb = Object.entries(s.fallbacks ?? {});
  if (fb.length) lines.push(['fallbacks', fb.map(([k, v]) => `${k} ${v}`).join(', ')]);
  if (s.cost) {
    lines.push(['cost', `${s.cost.decision} (${s.cost.phase}, ${s.cost.at})${s.cost.cpuRatio ? `, Node/Rust CPU ${s.cost.cpuRatio.toFixed(2)}x` : ''}`]);
    lines.push(['', `node: ${cost(s.cost.node)}`]);
    lines.push(['', `rust: ${cost(s.cost.rust)}`]);
  }
  lines.push(['promotions', String(s.promotions ?? 0)]);
  for (const d of s.demotions ?? []) lines.push(['demoted', `${d.at} ${d.reason}: ${d.detail}`]);
  const w = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

export const status: Command = {
  help: STATUS_HELP,
  options: { url: { type: 'string' }, namespace: { type: 'string', short: 'n' }, json: { type: 'boolean' } },
  async run(values, positionals, io) {
    const name = onePositional(positionals, '<function>');
    const base = ((values.url as string | undefined) ?? process.env.OPENFAAS_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    let url: URL;
    try {
      url = new URL(`${base}/system/containerless/function/${encodeURIComponent(name)}`);
    } catch {
      throw new CliUsageError(`--url: ${JSON.stringify(base)} is not a URL`);
    }
    if (values.namespace) url.searchParams.set('namespace', values.namespace as string);
    const headers: Record<string, string> = {};
    const pw = await password(process.env);
    if (pw) headers.authorization = `Basic ${Buffer.from(`${process.env.OPENFAAS_USER ?? 'admin'}:${pw}`).toString('base64')}`;
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      io.err(`containerless status: cannot reach ${base} (${(err as Error).message})\n`);
      return 1;
    }
    const body = await res.text();
    if (!res.ok) {
      io.err(`containerless status: ${res.status} ${body.trim()}\n`);
      return 1;
    }
    if (values.json) io.out(`${body.trim()}\n`);
    else io.out(`${formatStatus(JSON.parse(body) as Status)}\n`);
    return 0;
  },
};
