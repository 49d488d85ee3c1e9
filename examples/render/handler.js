'use strict';
// Compute-heavy example (OpenFaaS node template contract): HTML rendered from data by a small
// Mustache-like template engine: the template is tokenised with a regex, parsed into a tree and rendered
// with escaping, sections, conditionals and partials.
//
//   POST /invoice   {"number": "...", "customer": {...}, "lines": [...], "currency": "EUR"}
//   POST /profile   {"name": "...", "bio": "...", "links": [...], "admin": true}
//   GET  /catalog?items=200&seed=3   a generated product list (at most 2000 items)
//   POST /render    {"template": "...", "data": {...}, "partials": {"name": "..."}}  a template of your own
//
// Syntax: {{name}} (escaped), {{{name}}} (raw), {{a.b.c}} (dotted), {{#each list}}...{{/each}} (inside:
// {{.}}, {{@index}}, {{@first}}, {{@last}}), {{#if x}}...{{else}}...{{/if}}, {{#unless x}}...{{/unless}},
// {{> partial}}. A template that does not parse is a 400 naming the problem and its offset.

const MAX_ITEMS = 2000;

const PARTIALS = {
  head: '<head><meta charset="utf-8"><title>{{title}}</title><style>{{{style}}}</style></head>',
  money: '{{currency}} {{amount}}',
  address: '<address>{{name}}<br>{{street}}<br>{{zip}} {{city}}{{#if country}}<br>{{country}}{{/if}}</address>',
  product:
    '<li class="product{{#if sale}} sale{{/if}}{{#unless stock}} out{{/unless}}" data-sku="{{sku}}"><h3>{{name}}</h3>{{#if sale}}<s>{{price}}</s> <b>{{salePrice}}</b>{{else}}<b>{{price}}</b>{{/if}}<ul class="tags">{{#each tags}}<li>{{.}}</li>{{/each}}</ul></li>',
};

const PAGES = {
  invoice:
    '<!doctype html><html>{{> head}}<body><h1>Invoice {{number}}</h1><section class="to">{{#with customer}}{{> address}}{{/with}}</section><table><thead><tr><th>#</th><th>item</th><th>qty</th><th>price</th><th>total</th></tr></thead><tbody>{{#each lines}}<tr class="{{#if @first}}first {{/if}}{{#if @last}}last{{/if}}"><td>{{@index}}</td><td>{{description}}</td><td>{{qty}}</td><td>{{price}}</td><td>{{total}}</td></tr>{{/each}}</tbody></table><p class="sum">Total: {{> money}}</p>{{#if note}}<p class="note">{{note}}</p>{{/if}}</body></html>',
  profile:
    '<!doctype html><html>{{> head}}<body><article class="profile"><h1>{{name}}{{#if admin}} <span class="badge">admin</span>{{/if}}</h1>{{#if bio}}<div class="bio">{{bio}}</div>{{else}}<p class="empty">No bio yet.</p>{{/if}}{{#if links}}<ul>{{#each links}}<li><a href="{{url}}" title="{{title}}">{{title}}</a></li>{{/each}}</ul>{{/if}}<pre>{{{signature}}}</pre></article></body></html>',
  catalog:
    '<!doctype html><html>{{> head}}<body><h1>{{title}}</h1><p>{{count}} products, {{onSale}} on sale</p><ul class="catalog">{{#each items}}{{> product}}{{/each}}</ul></body></html>',
};

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

function escapeHtml(value) {
  return String(value).replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

class TemplateError extends Error {
  constructor(message, offset) {
    super(message);
    this.offset = offset;
  }
}

function tokenize(source) {
  const tokens = [];
  const re = /\{\{(\{?)\s*([#/>^]?)\s*([\w.@-]*)\s*([\w.@-]*)\s*(\}?)\}\}/g;
  let last = 0;
  let m;
  while ((m = re.exec(source)) !== null) {
    if (m.index > last) tokens.push({ type: 'text', text: source.slice(last, m.index) });
    const raw = m[1] === '{';
    if (raw !== (m[5] === '}')) throw new TemplateError('unbalanced triple braces', m.index);
    const sigil = m[2];
    if (sigil === '#') tokens.push({ type: 'open', name: m[3], arg: m[4], at: m.index });
    else if (sigil === '/') tokens.push({ type: 'close', name: m[3], at: m.index });
    else if (sigil === '>') tokens.push({ type: 'partial', name: m[3], at: m.index });
    else if (m[3] === 'else') tokens.push({ type: 'else', at: m.index });
    else if (m[3] === '') throw new TemplateError('empty tag', m.index);
    else tokens.push({ type: raw ? 'raw' : 'var', path: m[3], at: m.index });
    last = re.lastIndex;
  }
  if (last < source.length) tokens.push({ type: 'text', text: source.slice(last) });
  const stray = source.slice(last).indexOf('{{');
  if (stray >= 0) throw new TemplateError('unclosed tag', last + stray);
  return tokens;
}

function parse(source) {
  const tokens = tokenize(source);
  const root = { type: 'root', then: [], otherwise: [], inElse: false };
  const stack = [root];
  for (const t of tokens) {
    const top = stack[stack.length - 1];
    const into = top.inElse ? top.otherwise : top.then;
    if (t.type === 'open') {
      if (t.name !== 'each' && t.name !== 'if' && t.name !== 'unless' && t.name !== 'with') throw new TemplateError('unknown block #' + t.name, t.at);
      if (t.arg === '') throw new TemplateError('#' + t.name + ' needs an argument', t.at);
      const node = { type: t.name, path: t.arg, then: [], otherwise: [], inElse: false, at: t.at };
      into.push(node);
      stack.push(node);
    } else if (t.type === 'else') {
      if (top.inElse || (top.type !== 'if' && top.type !== 'unless')) throw new TemplateError('else outside #if or #unless', t.at);
      top.inElse = true;
    } else if (t.type === 'close') {
      if (top.type !== t.name) throw new TemplateError('unexpected /' + t.name, t.at);
      stack.pop();
    } else {
      into.push(t);
    }
  }
  if (stack.length > 1) throw new TemplateError('unclosed #' + stack[stack.length - 1].type, stack[stack.length - 1].at);
  return root.then;
}

function lookup(scopes, path) {
  if (path === '.') return scopes[scopes.length - 1].value;
  if (path.charAt(0) === '@') return scopes[scopes.length - 1][path.slice(1)];
  const parts = path.split('.');
  for (let i = scopes.length - 1; i >= 0; i--) {
    let value = scopes[i].value;
    if (value !== null && typeof value === 'object' && parts[0] in value) {
      for (const p of parts) {
        value = value === null || value === undefined ? undefined : value[p];
      }
      return value;
    }
  }
  return undefined;
}

function truthy(value) {
  return Array.isArray(value) ? value.length > 0 : Boolean(value);
}

function render(nodes, scopes, partials, depth, out, cache) {
  if (depth > 8) throw new TemplateError('partials nested too deeply', 0);
  for (const node of nodes) {
    if (node.type === 'text') out.push(node.text);
    else if (node.type === 'var' || node.type === 'raw') {
      const v = lookup(scopes, node.path);
      if (v === undefined || v === null) continue;
      const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
      out.push(node.type === 'raw' ? text : escapeHtml(text));
    } else if (node.type === 'partial') {
      const source = partials[node.name];
      if (source === undefined) throw new TemplateError('unknown partial ' + node.name, node.at);
      let tree = cache.get(node.name);
      if (tree === undefined) {
        tree = parse(source);
        cache.set(node.name, tree);
      }
      render(tree, scopes, partials, depth + 1, out, cache);
    } else {
      const value = lookup(scopes, node.path);
      const then = node.then;
      const otherwise = node.otherwise;
      if (node.type === 'each') {
        if (!Array.isArray(value)) continue;
        for (let i = 0; i < value.length; i++) {
          scopes.push({ value: value[i], index: i + 1, first: i === 0, last: i === value.length - 1 });
          render(then, scopes, partials, depth, out, cache);
          scopes.pop();
        }
      } else if (node.type === 'with') {
        if (value !== null && typeof value === 'object') {
          scopes.push({ value });
          render(then, scopes, partials, depth, out, cache);
          scopes.pop();
        }
      } else {
        const yes = node.type === 'if' ? truthy(value) : !truthy(value);
        render(yes ? then : otherwise, scopes, partials, depth, out, cache);
      }
    }
  }
  return out;
}

function renderPage(source, data, partials) {
  return render(parse(source), [{ value: data }], partials, 0, [], new Map()).join('');
}

function money(cents) {
  return (cents / 100).toFixed(2);
}

function invoiceData(body) {
  const lines = Array.isArray(body.lines) ? body.lines : [];
  let sum = 0;
  const shown = lines.map((l) => {
    const qty = Number(l.qty) || 0;
    const price = Math.round((Number(l.price) || 0) * 100);
    sum += qty * price;
    return { description: l.description, qty, price: money(price), total: money(qty * price) };
  });
  const customer = body.customer && typeof body.customer === 'object' ? body.customer : {};
  return {
    title: 'Invoice ' + body.number,
    style: 'td{padding:2px 8px}',
    number: body.number,
    customer,
    lines: shown,
    currency: body.currency || 'EUR',
    amount: money(sum),
    note: body.note,
  };
}

function catalogData(count, seed) {
  let s = seed >>> 0 || 1;
  const next = (k) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 10) % k;
  };
  const nouns = ['kettle', 'lamp', 'chair', 'mug', 'rug', 'clock', 'vase', 'pan'];
  const adjectives = ['red', 'tiny', 'oak', 'steel', '"retro"', 'smart', 'bent & buckled', '<b>bold</b>'];
  const items = [];
  let onSale = 0;
  for (let i = 0; i < count; i++) {
    const cents = 500 + next(20000);
    const sale = next(4) === 0;
    if (sale) onSale++;
    const tags = [];
    for (let t = next(4); t > 0; t--) tags.push(adjectives[next(adjectives.length)]);
    items.push({
      sku: 'SKU-' + (10000 + i),
      name: adjectives[next(adjectives.length)] + ' ' + nouns[next(nouns.length)],
      price: money(cents),
      salePrice: money(Math.floor(cents * 0.8)),
      sale,
      stock: next(5),
      tags,
    });
  }
  return { title: 'Catalog #' + seed, style: '.sale{color:red}', count, onSale, items };
}

module.exports = async (event, context) => {
  const body = event.body && typeof event.body === 'object' && !Array.isArray(event.body) ? event.body : null;
  const html = (text) => context.status(200).headers({ 'content-type': 'text/html; charset=utf-8' }).succeed(text);
  try {
    if (event.path === '/catalog') {
      const q = event.query || {};
      const count = q.items === undefined ? 50 : Number(q.items);
      const seed = q.seed === undefined ? 1 : Number(q.seed);
      if (!Number.isInteger(count) || count < 0 || count > MAX_ITEMS) return context.status(400).succeed({ error: 'items must be an integer from 0 to ' + MAX_ITEMS });
      if (!Number.isInteger(seed)) return context.status(400).succeed({ error: 'seed must be an integer' });
      return html(renderPage(PAGES.catalog, catalogData(count, seed), PARTIALS));
    }
    if (event.method !== 'POST') return context.status(405).headers({ allow: 'POST' }).succeed({ error: 'POST the data' });
    if (body === null) return context.status(400).succeed({ error: 'send a JSON object' });
    if (event.path === '/invoice') {
      if (typeof body.number !== 'string' || body.number === '') return context.status(400).succeed({ error: 'invoice number missing' });
      return html(renderPage(PAGES.invoice, invoiceData(body), PARTIALS));
    }
    if (event.path === '/profile') {
      if (typeof body.name !== 'string') return context.status(400).succeed({ error: 'name missing' });
      return html(renderPage(PAGES.profile, Object.assign({ title: body.name, style: '' }, body), PARTIALS));
    }
    if (event.path === '/render') {
      if (typeof body.template !== 'string') return context.status(400).succeed({ error: 'template missing' });
      const partials = Object.assign({}, PARTIALS, body.partials && typeof body.partials === 'object' ? body.partials : {});
      return html(renderPage(body.template, body.data === undefined ? {} : body.data, partials));
    }
    return context.status(404).succeed({ error: 'not found', path: event.path });
  } catch (err) {
    if (err instanceof TemplateError) return context.status(400).succeed({ error: err.message, offset: err.offset });
    throw err;
  }
};
