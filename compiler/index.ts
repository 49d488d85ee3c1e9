/**
 * The compiler: a trace tree (TraceIR, from trace/) becomes Rust, and cargo builds the dispatcher.
 *   generateRust(trace)        the Rust crate's main.rs for the dispatcher of this function (codegen.ts)
 *   buildDispatcher(main, ...) cargo build, cached outside the function's folder in the shared cache folder
 *                              (build.ts; the layout is described there)
 */
export { generateRust, type Generated } from './codegen.ts';
export {
  buildDispatcher,
  BuildError,
  buildProfileFromEnv,
  BUILD_PROFILES,
  crateName,
  CACHE_LAYOUT,
  RUNTIME_DIR,
  type BuildOptions,
  type BuildProfile,
  type BuildResult,
  type BuildErrorCode,
} from './build.ts';
export { runtimeVersion } from './version.ts';
