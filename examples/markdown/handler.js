'use strict';
// Compute-heavy example (OpenFaaS node template contract): a small Markdown-to-HTML renderer, all string
// work (regex replace, split, join, map, template literals).
//
//   POST /        text/plain body: the Markdown; answers text/html
//   POST /?toc=1  also a table of contents before the document
//   POST /stats   answers JSON: headings, words, links, code blocks
//   POST /        application/json {"markdown": "...", "toc": true}
//
// Supported: ATX headings (#..######), paragraphs, **bold**, *italic* and _italic_, `code`, [links](url),
// ![images](url), > blockquotes, - / * / + and 1. lists (one level), ``` fenced code, --- rules, hard line
// breaks (two trailing spaces). Everything else is escaped text.

const MAX_INPUT = 64 * 1024;

function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function slugify(text) {
  return text
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/&[a-z]+;/g, '')
    .replace(/[^a-z0-9\s-]/g, '')
    .trim()
    .replace(/\s+/g, '-')
    .replace(/-+/g, '-');
}

function safeUrl(url) {
  const trimmed = url.trim();
  if (/^(javascript|data|vbscript):/i.test(trimmed)) return '#';
  return trimmed.replace(/"/g, '%22');
}

function inline(text) {
  const codes = [];
  let out = escapeHtml(text).replace(/`([^`]+)`/g, (m, code) => {
    codes.push(code);
    return '\u0000' + (codes.length - 1) + '\u0000';
  });
  out = out
    .replace(/!\[([^\]]*)\]\(([^)\s]+)\)/g, (m, alt, url) => `<img src="${safeUrl(url)}" alt="${alt}">`)
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (m, label, url) => `<a href="${safeUrl(url)}">${label}</a>`)
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/__([^_]+)__/g, '<strong>$1</strong>')
    .replace(/\*([^*]+)\*/g, '<em>$1</em>')
    .replace(/\b_([^_]+)_\b/g, '<em>$1</em>')
    .replace(/ {2,}$/g, '<br>');
  return out.replace(/\u0000(\d+)\u0000/g, (m, i) => `<code>${codes[Number(i)]}</code>`);
}

function parseBlocks(markdown) {
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = line.match(/^```\s*([\w-]*)\s*$/);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !/^```\s*$/.test(lines[i])) body.push(lines[i++]);
      i++;
      blocks.push({ type: 'code', lang: fence[1], text: body.join('\n') });
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*?)\s*#*\s*$/);
    if (heading) {
      blocks.push({ type: 'heading', level: heading[1].length, text: heading[2] });
      i++;
      continue;
    }
    if (/^(-{3,}|\*{3,}|_{3,})\s*$/.test(line)) {
      blocks.push({ type: 'hr' });
      i++;
      continue;
    }
    if (/^>\s?/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quoted.push(lines[i++].replace(/^>\s?/, ''));
      blocks.push({ type: 'quote', text: quoted.join(' ') });
      continue;
    }
    const bullet = /^\s*[-*+]\s+/;
    const numbered = /^\s*\d+[.)]\s+/;
    if (bullet.test(line) || numbered.test(line)) {
      const ordered = numbered.test(line);
      const marker = ordered ? numbered : bullet;
      const items = [];
      while (i < lines.length && marker.test(lines[i])) items.push(lines[i++].replace(marker, ''));
      blocks.push({ type: 'list', ordered, items });
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() !== '' && !/^(#{1,6}\s|```|>|\s*[-*+]\s|\s*\d+[.)]\s)/.test(lines[i])) {
      para.push(lines[i++]);
    }
    if (para.length === 0) para.push(lines[i++]);
    blocks.push({ type: 'paragraph', lines: para });
  }
  return blocks;
}

function render(blocks) {
  const used = new Map();
  const toc = [];
  const html = blocks.map((b) => {
    switch (b.type) {
      case 'heading': {
        const content = inline(b.text);
        let id = slugify(content) || 'section';
        if (used.has(id)) {
          const n = used.get(id) + 1;
          used.set(id, n);
          id = `${id}-${n}`;
        } else {
          used.set(id, 0);
        }
        toc.push({ level: b.level, id, text: content });
        return `<h${b.level} id="${id}">${content}</h${b.level}>`;
      }
      case 'code': {
        const cls = b.lang ? ` class="language-${b.lang}"` : '';
        return `<pre><code${cls}>${escapeHtml(b.text)}</code></pre>`;
      }
      case 'hr':
        return '<hr>';
      case 'quote':
        return `<blockquote><p>${inline(b.text)}</p></blockquote>`;
      case 'list': {
        const tag = b.ordered ? 'ol' : 'ul';
        return `<${tag}>\n${b.items.map((item) => `  <li>${inline(item)}</li>`).join('\n')}\n</${tag}>`;
      }
      default:
        return `<p>${b.lines.map((l) => inline(l)).join('\n')}</p>`;
    }
  });
  return { html: html.join('\n'), toc };
}

function renderToc(toc) {
  if (toc.length === 0) return '';
  const min = Math.min(...toc.map((t) => t.level));
  const items = toc.map((t) => `${'  '.repeat(t.level - min)}<li><a href="#${t.id}">${t.text}</a></li>`);
  return `<nav class="toc"><ul>\n${items.join('\n')}\n</ul></nav>\n`;
}

function stats(markdown, blocks) {
  const words = markdown
    .replace(/```[\s\S]*?```/g, ' ')
    .split(/\s+/)
    .filter((w) => /[A-Za-z0-9]/.test(w));
  const links = (markdown.match(/\[[^\]]+\]\([^)\s]+\)/g) || []).length;
  const counts = blocks.reduce((acc, b) => {
    acc[b.type] = (acc[b.type] || 0) + 1;
    return acc;
  }, {});
  return {
    words: words.length,
    characters: markdown.length,
    lines: markdown.split('\n').length,
    links,
    headings: blocks.filter((b) => b.type === 'heading').map((b) => '#'.repeat(b.level) + ' ' + b.text),
    blocks: counts,
    readingMinutes: Math.max(1, Math.round(words.length / 200)),
  };
}

module.exports = async (event, context) => {
  let markdown;
  let wantToc = event.query && (event.query.toc === '1' || event.query.toc === 'true');
  if (typeof event.body === 'string') {
    markdown = event.body;
  } else if (event.body && typeof event.body.markdown === 'string') {
    markdown = event.body.markdown;
    if (event.body.toc === true) wantToc = true;
  } else {
    return context.status(400).headers({ 'content-type': 'application/json' }).succeed({ error: 'send Markdown as text/plain, or JSON {"markdown": "..."}' });
  }
  if (markdown.length > MAX_INPUT) {
    return context.status(413).headers({ 'content-type': 'application/json' }).succeed({ error: 'input too large', limit: MAX_INPUT, length: markdown.length });
  }

  const blocks = parseBlocks(markdown);
  if (event.path === '/stats') {
    return context.status(200).headers({ 'content-type': 'application/json' }).succeed(stats(markdown, blocks));
  }
  const { html, toc } = render(blocks);
  const doc = (wantToc ? renderToc(toc) : '') + html + '\n';
  return context
    .status(200)
    .headers({ 'content-type': 'text/html; charset=utf-8', 'x-heading-count': String(toc.length) })
    .succeed(doc);
};
