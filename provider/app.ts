/**
 * The faas-provider HTTP API as one route table (openfaas/faas-provider serve.go's shape). `createApp`
 * builds the express app from injected dependencies and never reads env or listens; main.ts does that.
 */
import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import {
  BackendError,
  InvalidError,
  LABEL_FAAS_FUNCTION,
  LABEL_SCALE_MAX,
  LABEL_SCALE_MIN,
  LABEL_SCALE_ZERO,
  LABEL_SCALE_ZERO_DURATION,
  NotFoundError,
  minReplicas,
  type Backend,
  type DeploySpec,
  type LogRequest,
} from './backend.ts';
import { LABEL_SCALE_TARGET, parseZeroDuration, scalePolicy, type AutoscalerDefaults } from './autoscaler.ts';
import { requestGuard, requireJson, type GuardOptions } from './guard.ts';
import type { ProviderMetrics } from './metrics.ts';
import type { Invoker } from './proxy.ts';
import { checkFunctionName, checkSecretName, parseDelete, parseDeployment, parseScale, parseSecret, parseSecretDelete, RFC1123_LABEL } from './schemas.ts';
import type { FunctionStatus, ProviderInfo } from './types.ts';

export interface Credentials {
  user: string;
  password: string;
}

export interface AppDeps {
  backend: Backend;
  metrics: ProviderMetrics;
  invoker: Invoker;
  info: ProviderInfo;
  /** Basic auth on /system/* (except /system/namespaces) when set. */
  credentials?: Credentials;
  /** Host and Origin checks on every route but /function/* and /healthz (default: no extra names). */
  guard?: Omit<GuardOptions, 'log'>;
  /** Extra checks of a deployment before the backend sees it (the local backend's envVars policy). */
  checkSpec?: (spec: DeploySpec) => void;
  /** Cancels a log stream after this long (faas-provider passes write_timeout). */
  logsTimeoutMs: number;
  scaleDefaults: AutoscalerDefaults;
  /** Called when the API scales a function up from zero (so its idle clock restarts). */
  onScaledUp?: (functionName: string) => void;
  /** Called after every scale through the API. */
  onScaled?: (functionName: string, replicas: number) => void;
  /** Called after a function is removed (to forget its metrics). */
  onRemoved?: (functionName: string) => void;
  /** The promotion lifecycle's hooks and status (none: no promotion). */
  promotion?: {
    deployed(fn: { name: string; namespace: string }): Promise<void>;
    /** Before the backend applies an update: the dispatcher stops answering. */
    updating(fn: { name: string; namespace: string }): Promise<void>;
    updated(fn: { name: string; namespace: string }): Promise<void>;
    removed(fn: { name: string; namespace: string }): Promise<void>;
    status(fn: { name: string; namespace: string }): Record<string, unknown> | undefined;
  };
  log?: (line: string) => void;
}

type Method = 'get' | 'post' | 'put' | 'delete' | 'head';
interface Route {
  method: Method | Method[];
  path: string;
  /** Label for provider_http_requests_total (the route, not the URL). */
  label: string;
  auth: boolean;
  /** A body with no Content-Type is accepted (the OpenFaaS gateway's scale requests have none). */
  untypedBody?: boolean;
  /** The route reads no body (no type check, no parsing). */
  noBody?: boolean;
  handler: RequestHandler;
}

/** Wraps an async handler so rejections reach the error middleware. */
const h =
  (fn: (req: Request, res: Response) => Promise<void> | void): RequestHandler =>
  (req, res, next) => {
    Promise.resolve(fn(req, res)).catch(next);
  };

function queryString(req: Request, name: string): string | undefined {
  const v = req.query[name];
  return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
}

function text(res: Response, status: number, message: string): void {
  res.status(status).type('text/plain').send(message);
}

export function createApp(deps: AppDeps): express.Express {
  const { backend, metrics } = deps;

  /** Query first, then body, then the default; empty means the default; must be one the backend serves. */
  async function resolveNamespace(fromQuery: string | undefined, fromBody: string | undefined): Promise<string> {
    const ns = fromQuery || fromBody || backend.defaultNamespace;
    if (!RFC1123_LABEL.test(ns)) throw new InvalidError(`namespace: ${JSON.stringify(ns)} is not a valid namespace name`);
    const allowed = await backend.namespaces();
    if (!allowed.includes(ns)) {
      throw new InvalidError(allowed.length === 1 ? `namespace must be: ${allowed[0]}` : `namespace must be one of: ${allowed.join(', ')}`);
    }
    return ns;
  }

  function withCount(s: FunctionStatus, ns: string): FunctionStatus {
    const out: FunctionStatus = { ...s, namespace: s.namespace || ns };
    const n = metrics.invocations(`${s.name}.${out.namespace}`);
    if (n > 0) out.invocationCount = n;
    return out;
  }

  function checkLabels(labels: Record<string, string>): void {
    const whole = (k: string, min: number): void => {
      const v = labels[k];
      if (v !== undefined && (!/^\d+$/.test(v.trim()) || Number(v) < min))
        throw new InvalidError(`labels.${k}: ${JSON.stringify(v)} is not a whole number >= ${min}`);
    };
    whole(LABEL_SCALE_MIN, 1);
    whole(LABEL_SCALE_MAX, 1);
    whole(LABEL_SCALE_TARGET, 1);
    const z = labels[LABEL_SCALE_ZERO];
    if (z !== undefined && !/^(true|false)$/i.test(z.trim())) throw new InvalidError(`labels.${LABEL_SCALE_ZERO}: ${JSON.stringify(z)} is not true or false`);
    const zd = labels[LABEL_SCALE_ZERO_DURATION];
    if (zd !== undefined && parseZeroDuration(zd) === undefined)
      throw new InvalidError(`labels.${LABEL_SCALE_ZERO_DURATION}: ${JSON.stringify(zd)} is not a duration (e.g. 30s, 15m)`);
    const min = labels[LABEL_SCALE_MIN];
    const max = labels[LABEL_SCALE_MAX];
    if (min !== undefined && max !== undefined && Number(min) > Number(max))
      throw new InvalidError(`labels: ${LABEL_SCALE_MIN} (${min}) is above ${LABEL_SCALE_MAX} (${max})`);
  }

  async function deploySpec(req: Request): Promise<DeploySpec> {
    const body = parseDeployment(req.body);
    checkFunctionName(body.service);
    const namespace = await resolveNamespace(queryString(req, 'namespace'), body.namespace);
    const labels = { ...(body.labels ?? {}), [LABEL_FAAS_FUNCTION]: body.service };
    checkLabels(labels);
    const spec: DeploySpec = {
      ...body,
      namespace,
      labels,
      annotations: { ...(body.annotations ?? {}) },
      envVars: body.envVars ?? undefined,
      constraints: body.constraints ?? undefined,
      secrets: body.secrets ?? undefined,
      limits: body.limits ?? undefined,
      requests: body.requests ?? undefined,
    };
    for (const k of Object.keys(spec) as (keyof DeploySpec)[]) if (spec[k] === undefined) delete spec[k];
    if (spec.secrets && spec.secrets.length > 0) {
      const have = new Set((await backend.listSecrets(namespace)).map((s) => s.name));
      const missing = spec.secrets.filter((s) => !have.has(s));
      if (missing.length > 0) throw new InvalidError(`secrets: not found in namespace ${namespace}: ${missing.join(', ')}`);
    }
    deps.checkSpec?.(spec);
    return spec;
  }

  const routes: Route[] = [
    {
      method: 'get',
      path: '/system/functions',
      label: '/system/functions',
      auth: true,
      handler: h(async (req, res) => {
        const ns = await resolveNamespace(queryString(req, 'namespace'), undefined);
        res.json((await backend.list(ns)).map((s) => withCount(s, ns)));
      }),
    },
    {
      method: 'post',
      path: '/system/functions',
      label: '/system/functions',
      auth: true,
      handler: h(async (req, res) => {
        const spec = await deploySpec(req);
        await backend.deploy(spec, { replicas: Math.min(minReplicas(spec.labels), scalePolicy(spec.labels, deps.scaleDefaults).max) });
        await deps.promotion?.deployed({ name: spec.service, namespace: spec.namespace });
        deps.log?.(`deployed ${spec.service}.${spec.namespace} (${spec.image})`);
        res.status(202).end();
      }),
    },
    {
      method: 'put',
      path: '/system/functions',
      label: '/system/functions',
      auth: true,
      handler: h(async (req, res) => {
        const spec = await deploySpec(req);
        const fn = { name: spec.service, namespace: spec.namespace };
        // The old compiled code must never answer for the new code: its dispatcher goes first.
        if (await backend.get(spec.service, spec.namespace)) await deps.promotion?.updating(fn);
        try {
          await backend.update(spec);
        } finally {
          // Also after a refused update: the function may then promote again from its unchanged tree.
          await deps.promotion?.updated(fn);
        }
        deps.log?.(`updated ${spec.service}.${spec.namespace} (${spec.image})`);
        res.status(202).end();
      }),
    },
    {
      method: 'delete',
      path: '/system/functions',
      label: '/system/functions',
      auth: true,
      handler: h(async (req, res) => {
        const body = parseDelete(req.body);
        checkFunctionName(body.functionName, 'functionName');
        const ns = await resolveNamespace(queryString(req, 'namespace'), body.namespace);
        await backend.remove(body.functionName, ns);
        await deps.promotion?.removed({ name: body.functionName, namespace: ns });
        deps.onRemoved?.(`${body.functionName}.${ns}`);
        deps.log?.(`removed ${body.functionName}.${ns}`);
        res.status(202).end();
      }),
    },
    {
      method: 'get',
      path: '/system/function/:name',
      label: '/system/function/{name}',
      auth: true,
      handler: h(async (req, res) => {
        const name = String(req.params.name);
        const ns = await resolveNamespace(queryString(req, 'namespace'), undefined);
        const s = await backend.get(name, ns);
        if (!s) throw new NotFoundError(`function ${name} not found in namespace ${ns}`);
        res.json(withCount(s, ns));
      }),
    },
    {
      method: 'get',
      path: '/system/containerless/function/:name',
      label: '/system/containerless/function/{name}',
      auth: true,
      handler: h(async (req, res) => {
        const name = String(req.params.name);
        const ns = await resolveNamespace(queryString(req, 'namespace'), undefined);
        if (!(await backend.get(name, ns))) throw new NotFoundError(`function ${name} not found in namespace ${ns}`);
        const status = deps.promotion?.status({ name, namespace: ns });
        res.json(status ?? { name, namespace: ns, promotion: 'off', engine: 'node', phase: 'off' });
      }),
    },
    {
      method: 'post',
      path: '/system/scale-function/:name',
      label: '/system/scale-function/{name}',
      auth: true,
      untypedBody: true,
      handler: h(async (req, res) => {
        const name = String(req.params.name);
        const body = parseScale(req.body);
        if (body.serviceName !== undefined && body.serviceName !== '' && body.serviceName !== name) {
          throw new InvalidError(`serviceName: ${JSON.stringify(body.serviceName)} is not the function in the path (${JSON.stringify(name)})`);
        }
        const ns = await resolveNamespace(queryString(req, 'namespace'), body.namespace);
        const s = await backend.get(name, ns);
        if (!s) throw new NotFoundError(`function ${name} not found in namespace ${ns}`);
        const replicas = Math.min(body.replicas, scalePolicy(s.labels, deps.scaleDefaults).max);
        await backend.scale(name, ns, replicas);
        if ((s.replicas ?? 0) === 0 && replicas > 0) deps.onScaledUp?.(`${name}.${ns}`);
        deps.onScaled?.(`${name}.${ns}`, replicas);
        res.status(202).end();
      }),
    },
    {
      method: 'get',
      path: '/system/info',
      label: '/system/info',
      auth: true,
      handler: h((_req, res) => {
        res.json(deps.info);
      }),
    },
    {
      method: 'get',
      path: '/system/namespaces',
      label: '/system/namespaces',
      auth: false,
      handler: h(async (_req, res) => {
        res.json(await backend.namespaces());
      }),
    },
    {
      method: ['get', 'post', 'put', 'delete'],
      path: '/system/namespace/:name',
      label: '/system/namespace/{name}',
      auth: false,
      noBody: true,
      handler: h((_req, res) => text(res, 501, 'Feature not implemented in this version of OpenFaaS')),
    },
    {
      method: 'get',
      path: '/system/secrets',
      label: '/system/secrets',
      auth: true,
      handler: h(async (req, res) => {
        const ns = await resolveNamespace(queryString(req, 'namespace'), undefined);
        res.json(await backend.listSecrets(ns));
      }),
    },
    {
      method: ['post', 'put'],
      path: '/system/secrets',
      label: '/system/secrets',
      auth: true,
      handler: h(async (req, res) => {
        const s = parseSecret(req.body);
        checkSecretName(s.name);
        if (s.value === undefined && s.rawValue === undefined) throw new InvalidError('value: required (or rawValue, base64)');
        // faas-cli --from-file sends both: rawValue (the file's bytes, which win, as in faas-netes) and value
        // (the same text, trimmed unless --trim=false). Both are accepted when they say the same thing.
        if (s.value !== undefined && s.rawValue !== undefined) {
          const raw = Buffer.from(s.rawValue, 'base64').toString('utf8');
          if (s.value !== raw && s.value !== raw.trim()) throw new InvalidError('value and rawValue: they differ; give one of them (rawValue for bytes)');
        }
        const ns = await resolveNamespace(queryString(req, 'namespace'), s.namespace);
        const value = s.rawValue !== undefined && s.rawValue !== '' ? Buffer.from(s.rawValue, 'base64') : Buffer.from(s.value ?? '', 'utf8');
        if (req.method === 'POST') await backend.createSecret({ name: s.name, namespace: ns, value });
        else await backend.updateSecret({ name: s.name, namespace: ns, value });
        res.status(202).end();
      }),
    },
    {
      method: 'delete',
      path: '/system/secrets',
      label: '/system/secrets',
      auth: true,
      handler: h(async (req, res) => {
        const s = parseSecretDelete(req.body);
        checkSecretName(s.name);
        const ns = await resolveNamespace(queryString(req, 'namespace'), s.namespace);
        await backend.deleteSecret(s.name, ns);
        res.status(202).end();
      }),
    },
    {
      method: 'get',
      path: '/system/logs',
      label: '/system/logs',
      auth: true,
      handler: h(async (req, res) => {
        const lr = await parseLogRequest(req);
        if (!(await backend.get(lr.name, lr.namespace))) throw new NotFoundError(`function ${lr.name} not found in namespace ${lr.namespace}`);
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(new Error('log stream timeout')), deps.logsTimeoutMs);
        res.on('close', () => ac.abort(new Error('client went away')));
        try {
          let started = false;
          for await (const m of backend.logs(lr, ac.signal)) {
            if (!started) {
              res.status(200).setHeader('Content-Type', 'application/x-ndjson');
              res.flushHeaders();
              started = true;
            }
            res.write(`${JSON.stringify(m)}\n`);
          }
          if (!started) res.status(200).setHeader('Content-Type', 'application/x-ndjson');
          res.end();
        } finally {
          clearTimeout(timer);
        }
      }),
    },
    {
      method: ['get', 'head'],
      path: '/healthz',
      label: '/healthz',
      auth: false,
      handler: h((_req, res) => {
        res.status(200).end();
      }),
    },
    {
      method: 'get',
      path: '/metrics',
      label: '/metrics',
      auth: false,
      handler: h(async (_req, res) => {
        res.setHeader('Content-Type', metrics.registry.contentType);
        res.end(await metrics.registry.metrics());
      }),
    },
  ];

  async function parseLogRequest(req: Request): Promise<LogRequest> {
    const name = queryString(req, 'name') ?? '';
    if (name === '') throw new InvalidError('name: required (the function whose logs to read)');
    const bad = (field: string, v: string, want: string): never => {
      throw new InvalidError(`${field}: ${JSON.stringify(v)} is not ${want}`, 422);
    };
    const namespace = await resolveNamespace(queryString(req, 'namespace'), undefined);
    const tailRaw = queryString(req, 'tail');
    let tail: number | undefined;
    if (tailRaw !== undefined && tailRaw !== '') {
      if (!/^-?\d+$/.test(tailRaw)) bad('tail', tailRaw, 'an integer');
      tail = Number(tailRaw) > 0 ? Number(tailRaw) : undefined;
    }
    const followRaw = queryString(req, 'follow') ?? '';
    let follow = false;
    if (followRaw !== '') {
      if (/^(1|t|T|TRUE|true|True)$/.test(followRaw)) follow = true;
      else if (!/^(0|f|F|FALSE|false|False)$/.test(followRaw)) bad('follow', followRaw, 'a boolean');
    }
    const sinceRaw = queryString(req, 'since');
    let since: Date | undefined;
    if (sinceRaw !== undefined && sinceRaw !== '') {
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(sinceRaw) || Number.isNaN(Date.parse(sinceRaw)))
        bad('since', sinceRaw, 'an RFC 3339 time');
      since = new Date(sinceRaw);
    }
    const instance = queryString(req, 'instance');
    return { name, namespace, instance: instance || undefined, tail, follow, since };
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Provider API metrics, labelled by route.
  app.use((req, res, next) => {
    const start = performance.now();
    res.on('finish', () => {
      const route = (res.locals.routeLabel as string | undefined) ?? (req.path.startsWith('/function/') ? '/function/{name}' : 'other');
      const labels = { code: String(res.statusCode), method: req.method, path: route };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, (performance.now() - start) / 1000);
    });
    next();
  });

  // Invocations never go through body parsing or auth (faas-provider does not wrap the proxy).
  app.use('/function', (req, res, next) => {
    req.url = req.originalUrl;
    backend
      .namespaces()
      .then((nss) => deps.invoker.handle(req, res, backend.defaultNamespace, nss))
      .catch(next);
  });

  const auth = deps.credentials ? basicAuth(deps.credentials) : undefined;
  const guard = requestGuard({ allowedHosts: [], allowedOrigins: [], ...deps.guard, log: deps.log });
  // Only JSON bodies get here (requireJson); an untyped one is parsed as JSON too.
  const json = express.json({ type: () => true, limit: '4mb' });
  for (const r of routes) {
    const stack: RequestHandler[] = [
      (_req, res, next) => {
        res.locals.routeLabel = r.label;
        next();
      },
    ];
    if (r.path !== '/healthz') stack.push(guard);
    if (r.auth && auth) stack.push(auth);
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) {
      if (m === 'get' || m === 'head' || r.noBody) app[m](r.path, ...stack, r.handler);
      else app[m](r.path, ...stack, requireJson(r.untypedBody === true), json, r.handler);
    }
  }

  app.use((req, res) => text(res, 404, `404 page not found: ${req.method} ${req.path}`));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return text(res, 400, `body: not valid JSON (${(e.message ?? '').split('\n')[0]})`);
    if (e.type === 'entity.too.large') return text(res, 413, 'body: too large');
    if (err instanceof BackendError) {
      const status =
        err instanceof InvalidError
          ? err.status
          : ({ NOT_FOUND: 404, ALREADY_EXISTS: 409, INVALID: 400, FORBIDDEN: 403, UNAVAILABLE: 503, INTERNAL: 500 } as const)[err.code];
      if (status === 500) deps.log?.(`error: ${err.stack ?? err.message}`);
      return text(res, status, err.message.split('\n')[0]);
    }
    deps.log?.(`error: ${(err as Error)?.stack ?? String(err)}`);
    text(res, 500, 'internal error');
  });
  return app;
}

/** faas-provider's auth.DecorateWithBasicAuth: 401, `WWW-Authenticate: Basic realm="Restricted"`, `invalid credentials`. */
export function basicAuth(creds: Credentials): RequestHandler {
  const want = Buffer.from(`${creds.user}:${creds.password}`);
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+(.+)$/i.exec(header);
    const got = m ? Buffer.from(m[1], 'base64') : Buffer.alloc(0);
    if (got.length === want.length && timingSafeEqual(got, want)) return next();
    res.setHeader('WWW-Authenticate', 'Basic realm="Restricted"');
    text(res, 401, 'invalid credentials');
  };
}
