/**
 * Visiting a syntax tree by its nodes' own keys, for the passes that look for something anywhere below a
 * node (site locations, `var` names, closures) and need no table of which field holds which child. Works
 * on acorn's source tree and on the core alike; the caller names the node family the tree holds.
 */

/** An object with a string `type`: an ESTree or core node. */
export interface AnyNode {
  type: string;
}

/**
 * Calls `enter` on every node below `root` (and on `root`), parents before children and in key order,
 * skipping `loc`; the children of a node are visited unless `enter` returns false.
 */
export function walkNodes<N extends AnyNode>(root: unknown, enter: (n: N) => boolean | void): void {
  const visit = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      v.forEach(visit);
      return;
    }
    const fields = v as Record<string, unknown>;
    // The caller says which family of nodes the tree holds; only objects with a `type` are entered.
    if (typeof fields.type === 'string' && enter(v as N) === false) return;
    for (const k of Object.keys(fields)) if (k !== 'loc') visit(fields[k]);
  };
  visit(root);
}
