/**
 * The cache folder every component and test harness shares (cargo builds, the provider's default state,
 * tools the CI setup scripts build): `$CONTAINERLESS_CACHE`, else `$XDG_CACHE_HOME/containerless`, else
 * `~/.cache/containerless`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CONTAINERLESS_CACHE) return env.CONTAINERLESS_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'containerless');
}

/** A path inside the cache folder, e.g. `cachePath(env, 'tools/bin', 'nats-server')`. */
export function cachePath(env: NodeJS.ProcessEnv, ...parts: string[]): string {
  return join(cacheDir(env), ...parts);
}
