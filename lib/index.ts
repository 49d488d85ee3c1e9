/**
 * The small library every component and test harness shares: env parsing (Go durations, int-or-duration,
 * Go booleans, sizes, one ConfigError for every component), loopback ports, waiting, the cache folder, and
 * whether a process is alive.
 * It imports no other folder of the project.
 */
export { parseGoDuration, parseGoDurationNs, parseIntOrDuration } from './duration.ts';
export { ConfigError, EnvReader, parseGoBool, parseSize, type DurationOptions } from './env.ts';
export { freePort, listen } from './net.ts';
export { sleep, waitFor } from './wait.ts';
export { cacheDir, cachePath } from './cache.ts';
export { isAlive } from './process.ts';
export {
  contract,
  parseContract,
  readContractFile,
  typeTag,
  ContractError,
  CONTRACT_FORMAT,
  CONTRACT_VERSION,
  REGENERATE_CONTRACT,
  type Contract,
  type ContractBuiltin,
  type BuiltinKind,
  type GlobalKind,
} from './contract.ts';
