/**
 * `containerless up`: the provider (provider/) with the local backend, until SIGINT/SIGTERM. The URL and how
 * to authenticate go to stdout; logs to stderr.
 */
import { join } from 'node:path';
import { ConfigError } from '../lib/index.ts';
import { CliUsageError, type CliIo, type Command } from './command.ts';

/** Single-quoted for a POSIX shell. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const UP_HELP = `Usage: containerless up

Runs the OpenFaaS provider API (faas-provider). With the local backend (the default) every function replica
is a watchdog process on a loopback port of this machine and a deployment's image is the function's folder.
With backend=kubernetes functions are Deployments and Services in function_namespace of the cluster that
KUBECONFIG (or ~/.kube/config, or the pod's service account) names; see deploy/kubernetes/provider-rbac.yaml. Put the OpenFaaS
gateway in front of it (functions_provider_url=<url>/) or call it directly. Stops on SIGINT or SIGTERM.

Configuration is read from the environment (see the README's provider table): port (8080), bind_address
(127.0.0.1), basic_auth (true; the password is generated into state_dir/auth on the first start unless
secret_mount_path holds basic-auth-user and basic-auth-password), allowed_hosts, allowed_origins,
secret_mount_path (/run/secrets/), read_timeout, write_timeout (10s),
function_namespace (openfaas-fn), state_dir, max_body_size, cold_start_timeout, scale_*, prometheus_url,
backend (local), and for kubernetes image_pull_policy (Always), http_probe (true), set_nonroot_user (false).

Promotion (a function's trace compiled to a Rust dispatcher that takes its requests; see the README's
Promotion section and \`containerless status <function>\`): promotion (on; off keeps every function in Node),
promote_stable_requests (100), promote_compare_cost (true), promote_canary_requests (50),
promote_fallback_window (100), promote_fallback_share (0.5), nats_url (none: replicas send their trees to
the provider over loopback), trace_stream (CONTAINERLESS_TRACES). Labels: com.containerless.promote: "false"
opts a function out; com.containerless.node-min keeps Node replicas warm while it is promoted.

Prints the URL and how to authenticate on stdout.
Exit status: 0 after a clean stop, 1 failure, 2 bad configuration.`;

export const up: Command = {
  help: UP_HELP,
  options: {},
  async run(_values, positionals, io) {
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}'`);
    return runUp(io);
  },
};

export async function runUp(io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Loaded here: `up` is the only command that needs the provider (and its Kubernetes client).
  const { startProvider, BackendError } = await import('../provider/index.ts');
  let provider;
  try {
    provider = await startProvider({ env, log: (l) => io.err(`${l}\n`) });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`containerless up: ${err.message}\n`);
      return 2;
    }
    if (err instanceof BackendError) {
      // The backend cannot start (the API server is unreachable, the namespace is missing, RBAC refuses):
      // one line saying which, and exit 1 so a supervisor retries.
      io.err(`containerless up: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const { url, credentials, config } = provider;
  io.out(`provider: ${url}\n`);
  if (credentials) {
    const pw = join(credentials.dir, 'basic-auth-password');
    // The files are trimmed when read (as faas-provider does), so the commands trim them too.
    const trimmed = `sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' ${shellQuote(pw)}`;
    io.out(`auth: basic, user ${credentials.user}, password in ${pw}\n`);
    if (credentials.generated)
      io.out(`  (generated now: readable by this user only; put your own basic-auth-user and basic-auth-password in secret_mount_path to choose them)\n`);
    io.out(`  curl -u ${shellQuote(credentials.user)}:"$(${trimmed})" ${url}/system/functions\n`);
    io.out(`  ${trimmed} | faas-cli login --gateway ${url} --username ${shellQuote(credentials.user)} --password-stdin\n`);
  } else {
    io.out(`auth: none (basic_auth=false): anyone who can reach ${url} can deploy and run code\n`);
    io.out(`  curl ${url}/system/functions\n`);
  }
  io.out(`gateway: functions_provider_url=${url}/\n`);
  if (config.backend === 'kubernetes')
    io.err(`backend: kubernetes, functions in namespace ${config.functionNamespace}; Ctrl-C stops the provider (functions keep running)\n`);
  else io.err(`state in ${config.stateDir}; Ctrl-C stops the provider and its function processes\n`);
  await new Promise<void>((resolve) => {
    if (!io.signal) return; // runs until the process is killed
    if (io.signal.aborted) return resolve();
    io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await provider.close();
  io.err('provider stopped\n');
  return 0;
}
