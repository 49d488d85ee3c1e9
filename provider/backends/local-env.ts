/**
 * Which `envVars` a deployment may give a local replica. A local replica is a Node process on the
 * provider's own machine, so variables that make Node, the dynamic loader or a shell load code before the
 * handler runs would turn a deployment into code execution outside the function's folder; they are refused
 * with 400. In a container (the Kubernetes backend) the same variables only reach the function's own
 * sandbox, as in faas-netes, and are not checked. The variables the backend sets itself (`port`,
 * `metrics_port`, `TMPDIR`, `secret_mount_path`, `HOSTNAME`, `OPENFAAS_NAME`, `OPENFAAS_NAMESPACE`) are
 * overwritten whatever the deployment says.
 */
import { InvalidError } from '../backend.ts';

/** Names refused exactly (case-sensitive, as the environment is). */
export const REFUSED_ENV_VARS: readonly string[] = [
  'NODE_OPTIONS', // --require / --import / --loader: runs any module, or inline code, before the handler
  'NODE_PATH', // where bare require() names resolve: the handler's own imports could load other code
  'NODE_REPL_EXTERNAL_MODULE', // a module Node loads instead of its REPL
  'NODE_ICU_DATA', // a data file Node maps at start
  'NODE_V8_COVERAGE', // Node writes files to this folder
  'NODE_REDIRECT_WARNINGS', // Node writes warnings to this file
  'NODE_COMPILE_CACHE', // Node reads and writes compiled code in this folder
  'BASH_ENV', // a script any non-interactive bash runs first
  'ENV', // the same for sh
  'GCONV_PATH', // glibc loads conversion modules from here
  'LOCPATH',
];

/** Prefixes refused: the dynamic loader's (`LD_PRELOAD`, `LD_AUDIT`, ...) and macOS's. */
export const REFUSED_ENV_PREFIXES: readonly string[] = ['LD_', 'DYLD_'];

/** Throws InvalidError (400) naming every refused variable in `envVars`. */
export function checkLocalEnvVars(envVars: Record<string, string> | undefined): void {
  const bad = Object.keys(envVars ?? {}).filter((k) => REFUSED_ENV_VARS.includes(k) || REFUSED_ENV_PREFIXES.some((p) => k.startsWith(p)));
  if (bad.length === 0) return;
  throw new InvalidError(
    `envVars: ${bad.join(', ')} ${bad.length === 1 ? 'is' : 'are'} not allowed for a local replica (they make Node or the loader run code before the handler)`,
  );
}
