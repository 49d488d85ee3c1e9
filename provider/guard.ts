/**
 * What keeps a web page from driving the /system API of a provider that runs on a developer's machine.
 *
 * A browser sends some cross-site requests without asking first (a POST whose body is `text/plain`, a form,
 * or no body type at all), and DNS rebinding lets a page reach a loopback port under its own host name.
 * So, on every route but `/function/*` and `/healthz`:
 *
 * - `Host` must name this provider: an IP literal (a rebinding page always sends its own DNS name),
 *   `localhost` or `*.localhost`, this machine's host name, a single-label name or a cluster-internal one
 *   (`*.svc`, `*.cluster.local`, `<name>.<the provider's namespace>`), which is how the gateway reaches the
 *   provider inside a cluster, or a name in `allowed_hosts`. 403 otherwise.
 * - A browser's `Origin` must be the origin the request was addressed to (the provider's own, or the
 *   gateway's when the gateway forwarded it, as its UI does) or one in `allowed_origins`. Requests without
 *   an `Origin` (curl, faas-cli, the gateway's own calls) pass. 403 otherwise.
 * - A request body must be `application/json` (415 otherwise). A body with no type at all is accepted only
 *   on `POST /system/scale-function/{name}`, which the OpenFaaS gateway sends that way when it scales a
 *   function from zero.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { RequestHandler, Response } from 'express';

export interface GuardOptions {
  /** Further names for `Host`: exact (`provider.example.com`) or a suffix (`*.example.com`). */
  allowedHosts: string[];
  /** Origins (`scheme://host[:port]`) a browser may call the API from. */
  allowedOrigins: string[];
  /** The provider's own Kubernetes namespace, when it runs in a pod (default: the service account's). */
  podNamespace?: string;
  log?: (line: string) => void;
}

const SA_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The service account's namespace, when this process runs in a Kubernetes pod. */
export function podNamespace(): string | undefined {
  try {
    return readFileSync(SA_NAMESPACE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The host name of a `Host` header value, lower case, without port, brackets or a trailing dot. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  const name = colon === -1 || h.indexOf(':') !== colon ? h : h.slice(0, colon);
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export function makeHostCheck(opts: Pick<GuardOptions, 'allowedHosts' | 'podNamespace'>): (header: string | undefined) => boolean {
  const self = hostname().toLowerCase();
  const ns = opts.podNamespace?.toLowerCase();
  const exact = new Set(opts.allowedHosts.filter((h) => !h.startsWith('*.')));
  const suffixes = opts.allowedHosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1));
  return (header) => {
    if (header === undefined || header === '') return true; // HTTP/1.0 without Host: not a browser
    const name = hostName(header);
    if (isIP(name) !== 0) return true;
    if (name === 'localhost' || name.endsWith('.localhost') || name === self) return true;
    if (!name.includes('.')) return true;
    if (name.endsWith('.svc') || name.endsWith('.cluster.local')) return true;
    if (ns !== undefined && name.split('.').length === 2 && name.endsWith(`.${ns}`)) return true;
    return exact.has(name) || suffixes.some((s) => name.endsWith(s));
  };
}

function refuse(res: Response, status: number, message: string): void {
  res.status(status).type('text/plain').send(message);
}

/** 403 for a `Host` that is not the provider's or an `Origin` that is not allowed (see the file comment). */
export function requestGuard(opts: GuardOptions): RequestHandler {
  const hostOk = makeHostCheck(opts);
  const origins = new Set(opts.allowedOrigins);
  return (req, res, next) => {
    const host = req.headers.host;
    if (!hostOk(host)) {
      opts.log?.(`refused ${req.method} ${req.path}: Host ${JSON.stringify(host)} is not this provider's`);
      return refuse(res, 403, `Host ${JSON.stringify(host)} is not a name of this provider; add it to allowed_hosts if it is`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let ok = origins.has(origin);
      if (!ok && origin !== 'null') {
        try {
          const u = new URL(origin);
          const forwarded = String(req.headers['x-forwarded-host'] ?? '')
            .split(',')[0]
            .trim()
            .toLowerCase();
          ok = u.host === (host ?? '').toLowerCase() || (forwarded !== '' && u.host === forwarded);
        } catch {
          ok = false;
        }
      }
      if (!ok) {
        opts.log?.(`refused ${req.method} ${req.path}: Origin ${JSON.stringify(origin)} is not allowed`);
        return refuse(res, 403, `Origin ${JSON.stringify(origin)} is not allowed to call this API; add it to allowed_origins if it should be`);
      }
    }
    next();
  };
}

/** 415 unless the body is `application/json`; `allowMissing` accepts a request that names no type. */
export function requireJson(allowMissing: boolean): RequestHandler {
  return (req, res, next) => {
    const type = req.headers['content-type'];
    if (type === undefined || type.trim() === '') {
      if (allowMissing) return next();
    } else if (/^application\/json\s*(;|$)/i.test(type.trim())) {
      return next();
    }
    refuse(res, 415, `Content-Type ${type === undefined ? '(none)' : JSON.stringify(type)} is not accepted: send the body as application/json`);
  };
}
