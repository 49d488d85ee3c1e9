/**
 * The runtime's contract: what the compiler and the tracer know of the Rust runtime, read from
 * runtime/contract.json, which the runtime writes from its own definitions (runtime/src/contract.rs) and
 * its tests keep current. Every builtin compiled code may call (name, kind, `length`, what it returns),
 * the realm's globals, the type tags of type guards, the give-up reasons and the diagnostic codes.
 *
 * This is the one reader of that file. A missing, unreadable, foreign or edited file throws a
 * ContractError naming the command that regenerates it: without the contract no builtin call could be
 * compiled, so carrying on would silently turn every such call into a fallback.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const CONTRACT_FORMAT = 'containerless-runtime-contract';
/** The version this reader understands; the runtime raises it when the file's shape changes. */
export const CONTRACT_VERSION = 1;
/** Writes runtime/contract.json from the runtime's definitions. */
export const REGENERATE_CONTRACT = 'UPDATE_CONTRACT=1 cargo test -p containerless-runtime --test contract';

export type BuiltinKind = 'function' | 'constructor' | 'getter';
export type GlobalKind = 'constructor' | 'function' | 'namespace' | 'value';

export interface ContractBuiltin {
  /** Its JavaScript path and identity: "Array.prototype.map", "Math.floor", "parseInt". */
  name: string;
  kind: BuiltinKind;
  length: number;
  /** Type tag names of what a call returns; `['any']` when the runtime does not say. */
  returns: string[];
}

export interface Contract {
  format: string;
  version: number;
  /** SHA-1 of the file's text with this value empty. */
  hash: string;
  /** Tag name to bit. */
  typeTags: Record<string, number>;
  giveUps: { reason: string; meaning: string }[];
  diagnostics: { code: string; meaning: string }[];
  globals: { name: string; kind: GlobalKind }[];
  builtins: ContractBuiltin[];
}

export type ContractErrorCode = 'E_CONTRACT';

export class ContractError extends Error {
  override readonly name = 'ContractError';
  readonly code: ContractErrorCode = 'E_CONTRACT';
}

/** Where the file is, from this module. */
const CONTRACT_URL = new URL('../runtime/contract.json', import.meta.url);

/**
 * The file's text. The watchdog's template bundle has no runtime/ next to it: scripts/build-template.ts
 * replaces this read by the text itself.
 */
function contractText(): string {
  return readFileSync(CONTRACT_URL, 'utf8');
}

/** Checks a contract file's text (`source` names it in errors) and returns what it says. */
export function parseContract(text: string, source = 'runtime/contract.json'): Contract {
  const fail = (why: string): never => {
    throw new ContractError(`${source} ${why}: run \`${REGENERATE_CONTRACT}\``);
  };
  let c: Contract;
  try {
    c = JSON.parse(text) as Contract;
  } catch (e) {
    return fail(`is not JSON (${(e as Error).message})`);
  }
  if (c === null || typeof c !== 'object') return fail('is not a contract');
  if (c.format !== CONTRACT_FORMAT) return fail(`has format ${JSON.stringify(c.format)}, not ${CONTRACT_FORMAT}`);
  if (c.version !== CONTRACT_VERSION) return fail(`has version ${c.version}; this compiler reads version ${CONTRACT_VERSION}`);
  const blanked = text.replace(`"hash": "${c.hash}"`, '"hash": ""');
  if (typeof c.hash !== 'string' || blanked === text || createHash('sha1').update(blanked).digest('hex') !== c.hash) {
    return fail('was edited by hand (its hash does not match its text)');
  }
  for (const key of ['typeTags', 'giveUps', 'diagnostics', 'globals', 'builtins'] as const) {
    if (c[key] === null || typeof c[key] !== 'object') fail(`has no ${key}`);
  }
  return c;
}

/** Reads and checks the contract file at `path` (the compiler reads runtime/contract.json through `contract`). */
export function readContractFile(path: string | URL): Contract {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ContractError(`${String(path)} cannot be read (${(e as Error).message}): run \`${REGENERATE_CONTRACT}\``, { cause: e });
  }
  return parseContract(text, String(path));
}

let cached: Contract | undefined;

/** The runtime's contract, read and checked once. */
export function contract(): Contract {
  if (!cached) {
    let text: string;
    try {
      text = contractText();
    } catch (e) {
      throw new ContractError(`runtime/contract.json cannot be read (${(e as Error).message}): run \`${REGENERATE_CONTRACT}\``, { cause: e });
    }
    cached = parseContract(text);
  }
  return cached;
}

/** The bit of type tag `name` ("number"); throws if the contract has no such tag. */
export function typeTag(name: string): number {
  const bit = contract().typeTags[name];
  if (typeof bit !== 'number') throw new ContractError(`runtime/contract.json has no type tag ${name}: run \`${REGENERATE_CONTRACT}\``);
  return bit;
}
