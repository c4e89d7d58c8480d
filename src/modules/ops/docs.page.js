/* global document, fetch */
// Renders /openapi.json and /asyncapi.json. Every string from the documents goes through textContent,
// never innerHTML, so a summary or schema cannot inject markup.
(function () {
  'use strict';
  const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
  const AUTH_LABEL = { none: 'public', optional: 'token optional', actor: 'user or guest', user: 'user', admin: 'admin', worker: 'worker' };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') node.textContent = String(v);
      else node.setAttribute(k, String(v));
    }
    for (const child of children || []) if (child) node.appendChild(child);
    return node;
  }

  // Inline `$ref`s into a display copy; `seen` stops recursive schemas.
  function resolve(doc, node, seen) {
    if (Array.isArray(node)) return node.map((n) => resolve(doc, n, seen));
    if (!node || typeof node !== 'object') return node;
    if (typeof node.$ref === 'string' && node.$ref.startsWith('#/')) {
      if (seen.has(node.$ref)) return { $ref: node.$ref };
      const target = node.$ref.slice(2).split('/').reduce((acc, part) => (acc ? acc[part] : undefined), doc);
      return target ? resolve(doc, target, new Set([...seen, node.$ref])) : node;
    }
    const out = {};
    for (const [k, v] of Object.entries(node)) out[k] = resolve(doc, v, seen);
    return out;
  }

  function schemaBlock(doc, title, schema) {
    if (!schema) return null;
    return el('div', {}, [el('h4', { text: title }), el('pre', { text: JSON.stringify(resolve(doc, schema, new Set()), null, 2) })]);
  }

  function entry(kind, label, target, summary, auth, blocks, search) {
    const details = el('details', { 'data-search': search.toLowerCase() }, [
      el('summary', {}, [
        el('span', { class: `method m-${kind}`, text: label }),
        el('code', { class: 'path', text: target }),
        el('span', { class: 'desc', text: summary || '' }),
        auth ? el('span', { class: auth === 'public' ? 'auth open' : 'auth', title: 'authentication', text: auth }) : null,
      ]),
      el('div', { class: 'body' }, blocks.filter(Boolean)),
    ]);
    return details;
  }

  function renderHttp(doc) {
    const byTag = new Map();
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const method of METHODS) {
        const op = item[method];
        if (!op) continue;
        const tag = (op.tags && op.tags[0]) || 'other';
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push({ path, method, op });
      }
    }
    const root = document.getElementById('http-groups');
    for (const tag of [...byTag.keys()].sort()) {
      const group = el('div', { class: 'group', 'data-group': tag }, [el('h3', { text: tag })]);
      for (const { path, method, op } of byTag.get(tag)) {
        const auth = AUTH_LABEL[op['x-auth']] || (op.security && op.security.length ? 'bearer' : 'public');
        const body = op.requestBody && op.requestBody.content;
        const bodyType = body ? Object.keys(body)[0] : null;
        const blocks = [
          op.description ? el('p', { text: op.description }) : null,
          op.parameters ? schemaBlock(doc, 'Parameters', op.parameters.map((p) => ({ name: p.name, in: p.in, required: p.required, schema: p.schema }))) : null,
          bodyType ? schemaBlock(doc, `Request body (${bodyType})`, body[bodyType].schema) : null,
        ];
        for (const [status, res] of Object.entries(op.responses || {})) {
          const content = res.content || {};
          const type = Object.keys(content)[0];
          if (status.startsWith('2') && type) blocks.push(schemaBlock(doc, `${status} ${type}`, content[type].schema));
        }
        const errors = Object.keys(op.responses || {}).filter((s) => !s.startsWith('2') && !s.startsWith('3'));
        if (errors.length) blocks.push(el('p', { text: `Errors (application/problem+json): ${errors.join(', ')}` }));
        group.appendChild(entry(method, method.toUpperCase(), path, op.summary, auth, blocks, `${tag} ${method} ${path} ${op.summary || ''}`));
      }
      root.appendChild(group);
    }
    document.getElementById('http').hidden = false;
  }

  function renderSocket(doc) {
    const root = document.getElementById('socket-groups');
    const ops = Object.values(doc.operations || {});
    for (const [id, channel] of Object.entries(doc.channels || {})) {
      const group = el('div', { class: 'group', 'data-group': channel.address }, [
        el('h3', { class: 'ns-title', text: `${channel.address}  (${channel['x-access'] || 'any'} token)` }),
        el('p', { class: 'ns-summary', text: channel.summary || '' }),
      ]);
      for (const op of ops.filter((o) => o.channel && o.channel.$ref === `#/channels/${id}`)) {
        const emit = op.action === 'receive';
        const msg = resolve(doc, op.messages && op.messages[0], new Set());
        const reply = op.reply ? resolve(doc, op.reply.messages && op.reply.messages[0], new Set()) : null;
        const name = (msg && msg.name) || op.title;
        const blocks = [schemaBlock(doc, emit ? 'Payload (client emits)' : 'Payload (server pushes)', msg && msg.payload), reply ? schemaBlock(doc, 'Ack', reply.payload) : null];
        group.appendChild(entry(emit ? 'emit' : 'push', emit ? 'EMIT' : 'PUSH', name, op.summary, null, blocks, `${channel.address} ${name} ${op.summary || ''}`));
      }
      root.appendChild(group);
    }
    document.getElementById('socket').hidden = false;
  }

  function applyFilter(text) {
    const needle = text.trim().toLowerCase();
    for (const d of document.querySelectorAll('details[data-search]')) d.hidden = Boolean(needle) && !d.dataset.search.includes(needle);
    for (const g of document.querySelectorAll('.group')) g.hidden = !g.querySelector('details:not([hidden])');
  }

  async function load(url) {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.json();
  }

  const status = document.getElementById('status');
  Promise.all([load('/openapi.json'), load('/asyncapi.json')])
    .then(([openapi, asyncapi]) => {
      renderHttp(openapi);
      renderSocket(asyncapi);
      status.textContent = `${openapi.info.title} ${openapi.info.version} · OpenAPI ${openapi.openapi} · AsyncAPI ${asyncapi.asyncapi}`;
      document.getElementById('filter').addEventListener('input', (e) => applyFilter(e.target.value));
      document.body.dataset.ready = 'true';
    })
    .catch((err) => {
      status.textContent = `Could not load the API documents: ${err.message}`;
      status.className = 'error';
      document.body.dataset.ready = 'error';
    });
})();
