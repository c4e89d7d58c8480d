/* global document, fetch, setTimeout, CSS, io */
'use strict';
// Admin dashboard: logs in over HTTP, then everything is live on the /admin socket.io namespace.
(function () {
  const $ = (sel) => document.querySelector(sel);
  const jobs = new Map(); // jobId -> { type, status, stage, progress }
  let socket = null;

  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function button(label, attrs, onClick) {
    const b = el('button', label, attrs);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }
  function act(event, payload) {
    socket.emit(event, payload, (ack) => {
      $('#status').textContent = ack && ack.ok ? `${event}: ok` : `${event}: ${ack && ack.error ? ack.error.message : 'failed'}`;
      if (ack && ack.ok) socket.emit('dashboard:refresh', {}, (snap) => snap && snap.ok && applySnapshot(snap.data));
    });
  }

  function renderStats(stats) {
    const body = $('#queues tbody');
    body.replaceChildren();
    for (const [type, q] of Object.entries(stats.queues)) {
      const tr = el('tr', null, { 'data-type': type });
      for (const k of ['queued', 'active', 'completed', 'failed', 'cancelled']) tr.append(el('td', q[k], { 'data-count': k }));
      tr.prepend(el('td', type));
      tr.append(el('td', q.paused ? 'paused' : 'running', { class: q.paused ? 'paused state' : 'state' }));
      const td = el('td');
      td.append(q.paused ? button('Resume', { 'data-action': 'resume' }, () => act('queue:resume', { type })) : button('Pause', { 'data-action': 'pause' }, () => act('queue:pause', { type })));
      tr.append(td);
      body.append(tr);
    }
    const l = stats.latency;
    const ms = (v) => (v === null ? '–' : `${Math.round(v)} ms`);
    $('#latency').textContent = `Last hour: ${l.completedLastHour} completed · wait p50 ${ms(l.waitP50)} p95 ${ms(l.waitP95)} · run p50 ${ms(l.runP50)} p95 ${ms(l.runP95)}`;
    const cost = Object.entries(stats.cost || {});
    $('#cost').textContent = cost.length ? `Cost: ${cost.map(([k, v]) => `${k} ${v}`).join(' · ')}` : '';
    const wb = $('#workers tbody');
    wb.replaceChildren();
    for (const w of stats.workers) {
      const tr = el('tr', null, { 'data-owner': w.owner });
      tr.append(el('td', `${w.owner}${w.connected ? '' : ' (gone)'}`), el('td', w.node), el('td', w.types.join(', ')), el('td', w.provider), el('td', w.running.length ? w.running.join(', ') : '–'), el('td', new Date(w.lastSeen).toLocaleTimeString()));
      wb.append(tr);
    }
    const fl = $('#failures');
    fl.replaceChildren();
    for (const f of stats.recentFailures) {
      const li = el('li', null, { 'data-job': f.id });
      const msg = f.error && typeof f.error === 'object' ? `${f.error.code || ''} ${f.error.message || ''}` : String(f.error);
      li.append(el('code', f.id.slice(0, 8)), el('span', f.type), el('span', msg, { class: 'error' }), button('Retry', { 'data-action': 'retry' }, () => act('job:retry', { jobId: f.id })));
      fl.append(li);
    }
  }

  function renderJob(id) {
    const j = jobs.get(id);
    let li = document.querySelector(`#jobs li[data-job="${CSS.escape(id)}"]`);
    if (!li) {
      li = el('li', null, { 'data-job': id });
      li.append(el('code', id.slice(0, 8)), el('span', '', { class: 'type' }), el('progress', null, { max: '1', value: '0' }), el('span', '', { class: 'label' }));
      li.append(button('Cancel', { 'data-action': 'cancel' }, () => act('job:cancel', { jobId: id })));
      $('#jobs').append(li);
    }
    li.setAttribute('data-status', j.status);
    li.querySelector('.type').textContent = j.type || '';
    const p = typeof j.progress === 'number' ? j.progress : 0;
    li.querySelector('progress').value = p;
    li.querySelector('.label').textContent = `${j.status}${j.stage ? ` · ${j.stage}` : ''} · ${Math.round(p * 100)}%`;
    li.querySelector('button').hidden = !['queued', 'active'].includes(j.status);
  }

  function applySnapshot(snap) {
    renderStats(snap.stats);
    for (const j of snap.jobs) {
      jobs.set(j.jobId, { ...(jobs.get(j.jobId) || {}), ...j });
      renderJob(j.jobId);
    }
  }

  // Pushes carry no job type: a job first seen in one is filled in by a (debounced) refresh.
  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      socket.emit('dashboard:refresh', {}, (snap) => snap && snap.ok && applySnapshot(snap.data));
    }, 300);
  }
  // Finished jobs stay listed, the newest 50 of them.
  function prune() {
    const done = [...document.querySelectorAll('#jobs li')].filter((li) => !['queued', 'active'].includes(li.getAttribute('data-status')));
    for (const li of done.slice(0, Math.max(0, done.length - 50))) {
      jobs.delete(li.getAttribute('data-job'));
      li.remove();
    }
  }

  function onJob(m) {
    const prev = jobs.get(m.jobId) || {};
    if (!prev.type) refreshSoon();
    const next = { ...prev, status: m.status || prev.status, stage: m.stage ?? prev.stage, progress: m.progress ?? prev.progress };
    if (m.status === 'completed') next.progress = 1;
    jobs.set(m.jobId, next);
    renderJob(m.jobId);
    prune();
  }

  function connect(token) {
    socket = io('/admin', { auth: { token }, transports: ['websocket'] });
    socket.on('connect', () => ($('#status').textContent = 'Live'));
    socket.on('connect_error', (err) => ($('#status').textContent = `Not connected: ${err.message}`));
    socket.on('dashboard:snapshot', (snap) => {
      applySnapshot(snap);
      $('#login').hidden = true;
      $('#dash').hidden = false;
      document.body.setAttribute('data-ready', 'true');
    });
    socket.on('dashboard:stats', renderStats);
    socket.on('dashboard:job', onJob);
    socket.on('dashboard:worker', (w) => ($('#status').textContent = `Worker ${w.owner} ${w.event === 'hello' ? 'connected' : 'disconnected'}`));
  }

  $('#login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('#login-error').textContent = '';
    const res = await fetch('/api/v1/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: $('#username').value, password: $('#password').value }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      $('#login-error').textContent = body.detail || body.title || `Login failed (${res.status})`;
      return;
    }
    connect(body.access_token);
  });
})();
