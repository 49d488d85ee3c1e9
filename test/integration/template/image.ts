/**
 * The template's Dockerfile, performed without a Docker engine (none runs on these machines): each
 * instruction is carried out in a scratch root folder that stands for the image's file system, and the
 * image's CMD is then started from there with this machine's Node in place of the base image's.
 *
 * What is performed: COPY (with the build context's .dockerignore, `*` in a file name, root-owned unless
 * --chown), WORKDIR, ENV, ARG, USER, `mkdir -p`, and the function's own npm steps (`npm i`, `npm test`, run
 * offline: a function without dependencies needs no network, and nothing else may use it). What is not: FROM
 * (this Node stands for node:<major>-alpine), the OS setup steps listed in SYSTEM_STEPS (packages, users,
 * /tmp's mode: the test runs as the current user), HEALTHCHECK (returned, so a test can check what it tests).
 * Any other instruction or RUN command is an error, so a Dockerfile that starts fetching or installing more
 * fails the tests until they learn it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, posix, relative } from 'node:path';
import { freePort, startProcess, waitHealthy, type Served } from '../watchdog/harness.ts';

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Dockerfile instructions: comments dropped, continuation lines joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) return;
    if (pending && line.startsWith('#')) return;
    if (!pending) start = i + 1;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/.exec(full)!;
    out.push({ op: m[1].toUpperCase(), args: m[2], line: start });
  });
  return out;
}

/** The variables of one `ENV a="b" c=d` instruction. */
export function envVars(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|(\S*))/g)) env[m[1]] = m[3] ?? m[4];
  return env;
}

/** Every ENV instruction's variables, later ones winning. */
export function envOf(instructions: Instruction[]): Record<string, string> {
  return Object.assign({}, ...instructions.filter((i) => i.op === 'ENV').map((i) => envVars(i.args))) as Record<string, string>;
}

/** OS setup commands of RUN steps that the test does not perform, each with why that is harmless here. */
export const SYSTEM_STEPS: Array<[RegExp, string]> = [
  [/^apk --no-cache add curl ca-certificates$/, 'system packages (curl for debugging, CA certificates for outgoing TLS)'],
  [/^addgroup -S app$/, 'the app group: the test runs as the current user'],
  [/^adduser -S -g app app$/, 'the app user: the test runs as the current user'],
  [/^chmod 777 \/tmp$/, "/tmp's mode: the scratch /tmp belongs to the current user"],
];

export interface Image {
  /** The scratch folder standing for the image's `/`. */
  root: string;
  /** The base image the Dockerfile names. */
  from: string;
  env: Record<string, string>;
  /** The last USER, `root` when none. */
  user: string;
  /** The final WORKDIR (an image path). */
  workdir: string;
  cmd: string[];
  healthcheck?: string;
  /** Owner the Dockerfile gave each copied path (image paths): `root` or the --chown user. */
  owners: Map<string, string>;
  /** RUN commands not performed, with the reason. */
  skipped: string[];
  /** RUN commands performed, with where they ran. */
  ran: Array<{ command: string; cwd: string }>;
  /** An image path as a path on this machine. */
  path(imagePath: string): string;
}

function ignoredBy(patterns: string[], rel: string): boolean {
  // .dockerignore patterns as filepath.Match over the whole relative path ('*' does not cross '/').
  return patterns.some((p) => {
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}(/.*)?$`);
    return re.test(rel);
  });
}

/**
 * Performs `<context>/Dockerfile` with `<context>` as the build context (a `faas-cli build --shrinkwrap`
 * folder) into the empty folder `root`. `npmEnv` is added to the npm steps' environment.
 */
export function buildImage(context: string, root: string, npmEnv: Record<string, string> = {}): Image {
  const instructions = parseDockerfile(readFileSync(join(context, 'Dockerfile'), 'utf8'));
  const ignore = existsSync(join(context, '.dockerignore'))
    ? readFileSync(join(context, '.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
    : [];
  const image: Image = {
    root,
    from: '',
    env: {},
    user: 'root',
    workdir: '/',
    cmd: [],
    owners: new Map(),
    skipped: [],
    ran: [],
    path: (p) => join(root, posix.resolve('/', p)),
  };
  const args: Record<string, string> = {};
  const resolveImage = (p: string): string => posix.resolve(image.workdir, p);

  const copyInto = (src: string, dest: string, owner: string): void => {
    const rel = relative(context, src).split('\\').join('/');
    if (ignoredBy(ignore, rel)) return;
    if (statSync(src).isDirectory()) {
      mkdirSync(image.path(dest), { recursive: true });
      for (const e of readdirSync(src)) copyInto(join(src, e), posix.join(dest, e), owner);
      return;
    }
    mkdirSync(dirname(image.path(dest)), { recursive: true });
    cpSync(src, image.path(dest));
    image.owners.set(dest, owner);
  };

  for (const ins of instructions) {
    const where = `Dockerfile:${ins.line}: ${ins.op} ${ins.args}`;
    switch (ins.op) {
      case 'FROM':
        image.from = ins.args.replace(/^--platform=\S+\s+/, '').split(/\s+/)[0];
        break;
      case 'ARG': {
        const [name, value] = ins.args.split('=');
        args[name] = value ?? '';
        break;
      }
      case 'ENV':
        Object.assign(image.env, envVars(ins.args));
        break;
      case 'USER':
        image.user = ins.args.trim();
        break;
      case 'WORKDIR':
        image.workdir = resolveImage(ins.args.trim());
        mkdirSync(image.path(image.workdir), { recursive: true });
        break;
      case 'HEALTHCHECK':
        image.healthcheck = ins.args;
        break;
      case 'CMD':
        image.cmd = JSON.parse(ins.args) as string[];
        break;
      case 'COPY': {
        const words = ins.args.split(/\s+/);
        const flags = words.filter((w) => w.startsWith('--'));
        const paths = words.filter((w) => !w.startsWith('--'));
        for (const f of flags) if (!f.startsWith('--chown=')) throw new Error(`${where}: the test does not perform COPY ${f}`);
        const chown = flags.find((f) => f.startsWith('--chown='));
        const owner = chown ? chown.slice('--chown='.length).split(':')[0] : 'root';
        const dest = resolveImage(paths[paths.length - 1]);
        const sources: string[] = [];
        for (const s of paths.slice(0, -1)) {
          if (s.includes('*')) {
            const dir = join(context, dirname(s));
            const re = new RegExp(`^${basename(s).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
            for (const e of readdirSync(dir).sort()) if (re.test(e)) sources.push(join(dir, e));
          } else {
            if (!existsSync(join(context, s))) throw new Error(`${where}: ${s} is not in the build context`);
            sources.push(join(context, s));
          }
        }
        if (sources.length === 0) throw new Error(`${where}: no file of the build context matches`);
        const intoDir = paths[paths.length - 1].endsWith('/') || sources.length > 1;
        for (const src of sources) {
          const target = statSync(src).isDirectory() ? dest : intoDir ? posix.join(dest, basename(src)) : dest;
          copyInto(src, target, owner);
        }
        break;
      }
      case 'RUN':
        for (const raw of ins.args.split('&&')) {
          const command = raw.trim().replace(/\$\{?(\w+)\}?/g, (_m, n: string) => args[n] ?? image.env[n] ?? '');
          const system = SYSTEM_STEPS.find(([re]) => re.test(command));
          if (system) {
            image.skipped.push(`${command}: ${system[1]}`);
            continue;
          }
          const mkdir = /^mkdir -p (\S+)$/.exec(command);
          if (mkdir) {
            mkdirSync(image.path(resolveImage(mkdir[1])), { recursive: true });
            continue;
          }
          if (command === 'npm i' || command === 'npm ci' || command === 'npm test') {
            const cwd = image.path(image.workdir);
            const r = spawnSync('npm', command.split(' ').slice(1), {
              cwd,
              encoding: 'utf8',
              env: { PATH: process.env.PATH, HOME: image.path('/home/app'), ...image.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...npmEnv },
            });
            if (r.status !== 0) throw new Error(`${where}: \`${command}\` in ${image.workdir} failed (${r.status}):\n${r.stdout}${r.stderr}`);
            image.ran.push({ command, cwd: image.workdir });
            continue;
          }
          throw new Error(`${where}: the test does not perform \`${command}\` (only the function's npm steps, mkdir -p and the OS setup in SYSTEM_STEPS)`);
        }
        break;
      default:
        throw new Error(`${where}: the test does not perform ${ins.op}`);
    }
  }
  return image;
}

/** Every folder from `dir` up to `/` that holds a node_modules (where Node's resolution could reach). */
export function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(join(d, 'node_modules'));
    if (dirname(d) === d) return found;
  }
}

/**
 * Starts the image's CMD as the container would run it: `node` is this machine's Node, image paths in the
 * arguments are mapped into the scratch root, the environment is only the image's ENV (nothing of this
 * process's, so no NODE_PATH or NODE_OPTIONS) plus `env`, the working folder is the final WORKDIR and
 * TMPDIR is the scratch root's /tmp (the container's /tmp, where the lock file goes).
 */
export async function startImage(image: Image, env: Record<string, string> = {}): Promise<Served> {
  const [program, ...rest] = image.cmd;
  if (program !== 'node') throw new Error(`CMD runs ${program}; the test stands in only for the base image's node`);
  const argv = rest.map((a) => (a.startsWith('/') ? image.path(a) : a));
  const port = await freePort();
  const metricsPort = await freePort();
  const tmp = image.path('/tmp');
  mkdirSync(tmp, { recursive: true });
  const proc = startProcess(process.execPath, argv, {
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: image.path('/home/app'), ...image.env, TMPDIR: tmp, ...env, port: String(port), metrics_port: String(metricsPort) },
    cwd: image.path(image.workdir),
  });
  await waitHealthy(port, proc);
  return { port, metricsPort, tmp, proc, stop: () => proc.stop() };
}

/**
 * `faas-cli build --shrinkwrap` for one function, as faas-cli documents it: `out` = the template folder with
 * the handler folder's entries (but `build` and `template`) copied over its `function/`.
 */
export function shrinkwrap(templateDir: string, handlerDir: string, out: string): void {
  mkdirSync(out, { recursive: true });
  cpSync(templateDir, out, { recursive: true });
  for (const entry of readdirSync(handlerDir)) {
    if (entry === 'build' || entry === 'template') continue;
    cpSync(join(handlerDir, entry), join(out, 'function', entry), { recursive: true });
  }
}
