/**
 * Merging site observations: what one request saw at each site folds into the function's tree (the tracer),
 * and the sites of two traces fold together (tree.ts). Every merge is a union: branch and type bits are
 * or-ed, callees united, entry counts added.
 */
import type { SiteObs } from './ir.ts';

/** Observations by site id, as a tracer keeps them. */
export type Obs = Map<number, SiteObs>;

/** A copy of one site's observations with the callees sorted (the trace's stable form). */
export function copyObs(o: SiteObs): SiteObs {
  const c: SiteObs = {};
  if (o.br !== undefined) c.br = o.br;
  if (o.ty) c.ty = [...o.ty].map((x) => x ?? 0);
  if (o.callees) c.callees = [...o.callees].sort();
  if (o.n !== undefined) c.n = o.n;
  return c;
}

/** Merges `from` into `into`; returns how many new facts (bits, callees, first entries) it added. */
export function mergeObs(into: Obs, from: Obs): number {
  let added = 0;
  for (const [site, o] of from) {
    let t = into.get(site);
    if (!t) {
      t = {};
      into.set(site, t);
    }
    added += mergeSite(t, o);
  }
  return added;
}

/** Merges one site's observations `o` into `t`; returns how many new facts it added. */
export function mergeSite(t: SiteObs, o: SiteObs): number {
  let added = 0;
  if (o.br !== undefined) {
    const b = (t.br ?? 0) | o.br;
    if (b !== t.br) added++;
    t.br = b;
  }
  if (o.ty) {
    const ty = t.ty ?? (t.ty = []);
    o.ty.forEach((x, i) => {
      const v = (ty[i] ?? 0) | (x ?? 0);
      if (v !== ty[i]) added++;
      ty[i] = v;
    });
  }
  if (o.callees) {
    const c = t.callees ?? (t.callees = []);
    for (const x of o.callees)
      if (!c.includes(x)) {
        c.push(x);
        added++;
      }
  }
  if (o.n !== undefined) {
    if (!t.n) added++;
    t.n = (t.n ?? 0) + o.n;
  }
  return added;
}
