import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AdminResponse } from './handler.js';

// The page, its script and its style ship inside the package (no build step on the user's side);
// uPlot is a dependency served from its own dist file. No inline script: the CSP forbids it.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>workos-migrate</title>
<link rel="stylesheet" href="assets/uplot.css"><link rel="stylesheet" href="assets/dashboard.css">
<script src="assets/uplot.js" defer></script><script src="assets/dashboard.js" defer></script>
</head><body>
<header><h1>workos-migrate</h1><span id="updated"></span><button id="sign-out" hidden>Sign out</button></header>
<main>
<form id="sign-in" hidden autocomplete="off">
  <h2>Sign in</h2>
  <p>Paste the admin token (the <code>admin.token</code> the app was started with).</p>
  <input id="token" type="password" name="token" required minlength="16" aria-label="admin token">
  <button type="submit">Sign in</button><p id="sign-in-error" class="error" role="alert"></p>
</form>
<div id="dashboard" hidden>
  <section><h2>Backfill</h2>
    <progress id="progress" max="1" value="0"></progress>
    <p><b id="synced">0</b> of <b id="users">0</b> users synced (<span id="synced-percent"></span>) ·
      <span id="rate">rate measuring…</span> · ETA <span id="eta">-</span></p>
    <table><thead><tr><th>password state</th><th>users</th></tr></thead><tbody id="password-states"></tbody></table>
  </section>
  <section><h2>Pending</h2>
    <p>live <b id="pending-live">0</b> · backfill <b id="pending-backfill">0</b> · deletes held <b id="deletes-held">0</b></p>
    <p>mirror lag (this instance, live changes): p50 <b id="lag-p50">-</b> · p99 <b id="lag-p99">-</b> ·
      oldest pending change <b id="lag">none</b></p>
  </section>
  <section><h2>WorkOS writes and 429s (this instance)</h2><div id="chart"></div>
    <p>writes <b id="writes">0</b> · 429s <b id="rate-limited">0</b> · rate ceiling now <b id="ceiling">0</b>/s</p></section>
  <section><h2>Flags</h2>
    <label class="switch"><input type="checkbox" id="freeze"> signups frozen</label> <span id="freeze-source"></span>
    <p><label>rollout <input type="range" id="rollout" min="0" max="100" step="1" value="0"></label>
      <b id="rollout-value">0</b>% <span id="rollout-source"></span>
      <span id="rollout-preview"></span> <button id="rollout-apply" hidden>Apply</button></p>
    <p id="flags-error" class="error" role="alert"></p>
  </section>
  <section><h2>Leader</h2><p id="leader">none running</p></section>
  <section><h2>Hash formats (shadow verification)</h2>
    <table><thead><tr><th>format</th><th>users</th><th>checked</th><th>matched</th><th>mismatched</th><th>healed</th><th>verdict</th></tr></thead>
      <tbody id="formats"></tbody></table>
    <p id="formats-none">no imported hash yet</p>
  </section>
  <section><h2>Dead letters <b id="dead-total">0</b></h2>
    <table><thead><tr><th>reason</th><th>users</th><th></th></tr></thead><tbody id="dead-reasons"></tbody></table>
    <table><thead><tr><th>local id</th><th>email</th><th>reason</th><th>message</th><th>attempts</th><th>first seen</th><th>last seen</th><th></th></tr></thead>
      <tbody id="dead-letters"></tbody></table>
    <p><button id="dead-prev" disabled>Previous</button> <button id="dead-next" disabled>Next</button></p>
  </section>
</div>
</main></body></html>
`;

const STYLE = `body{font:14px system-ui,sans-serif;margin:0;color:#1b1b1f;background:#f6f6f8}
header{display:flex;gap:1em;align-items:center;padding:.5em 1.5em;background:#1b1b1f;color:#fff}
header h1{font-size:1.1em;margin:0}#updated{flex:1;opacity:.7}main{padding:1em 1.5em;max-width:1100px}
section,form{background:#fff;border-radius:6px;padding:.6em 1em;margin:0 0 1em;box-shadow:0 1px 2px #0002}
h2{font-size:1em;margin:.3em 0}progress{width:100%;height:1.2em}table{border-collapse:collapse;margin:.4em 0}
td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}.error{color:#b00020}
input[type=range]{width:300px;vertical-align:middle}`;

const SCRIPT = `'use strict';
(() => {
  const base = location.pathname.replace(/\\/?$/, '/');
  const $ = (id) => document.getElementById(id);
  let csrf = null, deadAfter = [], deadNext = null, last = null, chart = null, sliding = false;
  const series = [[], [], []];
  const api = async (method, path, body) => {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
    const res = await fetch(base + path, { method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await res.json().catch(() => ({}));
    if (res.status === 401) { showSignIn(); throw new Error(data.message || 'signed out'); }
    if (!res.ok) throw new Error(data.message || res.statusText);
    return data;
  };
  const n = (x) => Number(x).toLocaleString('en-US');
  const text = (id, value) => { $(id).textContent = value; };
  const cell = (row, value) => { const td = document.createElement('td'); td.textContent = value ?? ''; row.append(td); return td; };
  const button = (label, onClick) => { const b = document.createElement('button'); b.textContent = label; b.onclick = onClick; return b; };
  const duration = (s) => s < 90 ? Math.round(s) + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h';
  function showSignIn() { csrf = null; $('dashboard').hidden = true; $('sign-out').hidden = true; $('sign-in').hidden = false; }
  function showDashboard() { $('sign-in').hidden = true; $('dashboard').hidden = false; $('sign-out').hidden = false; }

  function render(o) {
    const s = o.status;
    text('users', n(s.users)); text('synced', n(s.synced));
    text('synced-percent', s.users ? (100 * s.synced / s.users).toFixed(1) + '%' : '-');
    $('progress').max = Math.max(s.users, 1); $('progress').value = s.synced;
    const now = Date.parse(o.at);
    if (last && now > last.at) {
      const rate = (s.synced - last.synced) / ((now - last.at) / 1000);
      text('rate', rate > 0 ? rate.toFixed(1) + ' users/s' : 'idle');
      text('eta', rate > 0 ? duration((s.users - s.synced) / rate) : '-');
      series[0].push(now / 1000); series[1].push(o.worker.writes - last.writes); series[2].push(o.worker.rateLimited - last.rateLimited);
      for (const column of series) if (column.length > 300) column.shift();
      if (chart) chart.setData(series);
    }
    last = { at: now, synced: s.synced, writes: o.worker.writes, rateLimited: o.worker.rateLimited };
    const states = $('password-states'); states.replaceChildren();
    for (const [state, count] of Object.entries(s.passwordStates)) {
      const row = document.createElement('tr'); row.dataset.state = state; cell(row, state); cell(row, n(count)); states.append(row);
    }
    text('pending-live', n(s.pending.live)); text('pending-backfill', n(s.pending.backfill));
    text('deletes-held', n(s.deletesAwaitingConfirmation));
    text('lag', s.oldestPendingSeconds === null ? 'none' : duration(s.oldestPendingSeconds));
    const lag = o.worker.mirrorLag;
    text('lag-p50', lag.p50 === null ? '-' : (lag.p50 * 1000).toFixed(0) + ' ms');
    text('lag-p99', lag.p99 === null ? '-' : (lag.p99 * 1000).toFixed(0) + ' ms');
    text('writes', n(o.worker.writes)); text('rate-limited', n(o.worker.rateLimited)); text('ceiling', o.worker.currentRate.toFixed(1));
    $('freeze').checked = s.freeze.on; text('freeze-source', '(' + s.freeze.source + ')');
    if (!sliding) { $('rollout').value = s.rollout.percent; text('rollout-value', s.rollout.percent); }
    text('rollout-source', '(' + s.rollout.source + ')');
    text('leader', s.leader ? s.leader.holder + ' · lease until ' + s.leader.expiresAt : 'none running');
    // Counts and verdicts only: status().formats carries no hash.
    const formats = $('formats'); formats.replaceChildren();
    for (const f of s.formats) {
      const row = document.createElement('tr'); row.dataset.format = f.format;
      for (const v of [f.format, n(f.users), n(f.shadowChecked), n(f.matched), n(f.mismatched), n(f.healed), f.verdict]) cell(row, v);
      formats.append(row);
    }
    $('formats-none').hidden = s.formats.length > 0;
    const reasons = $('dead-reasons'); reasons.replaceChildren();
    let dead = 0;
    for (const [reason, count] of Object.entries(s.dead)) {
      dead += count;
      const row = document.createElement('tr'); row.dataset.reason = reason; cell(row, reason); cell(row, n(count));
      cell(row, '').append(button('Retry all', () => act(() => api('POST', 'retry', { reason }))));
      reasons.append(row);
    }
    text('dead-total', n(dead));
    text('updated', 'updated ' + new Date(now).toLocaleTimeString());
  }
  async function loadDead() {
    const after = deadAfter.at(-1);
    const page = await api('GET', 'dead?limit=20' + (after ? '&after=' + encodeURIComponent(after) : ''));
    const body = $('dead-letters'); body.replaceChildren();
    for (const d of page.deadLetters) {
      const row = document.createElement('tr'); row.dataset.userId = d.userId;
      for (const v of [d.userId, d.email, d.reason, d.message, d.attempts, d.firstSeenAt, d.lastSeenAt]) cell(row, v);
      cell(row, '').append(button('Retry', () => act(() => api('POST', 'retry', { userId: d.userId }))));
      body.append(row);
    }
    deadNext = page.next; $('dead-next').disabled = !deadNext; $('dead-prev').disabled = deadAfter.length === 0;
  }
  async function refresh() {
    try { render(await api('GET', 'overview')); await loadDead(); text('flags-error', ''); }
    catch (e) { if (csrf) text('flags-error', e.message); }
  }
  async function act(fn) {
    try { await fn(); text('flags-error', ''); } catch (e) { text('flags-error', e.message); }
    await refresh();
  }
  async function start() {
    showDashboard();
    if (!chart && window.uPlot) {
      chart = new uPlot({ width: 700, height: 160, series: [{}, { label: 'writes', stroke: '#3b5bdb' }, { label: '429s', stroke: '#e03131' }] },
        series, $('chart'));
    }
    await refresh();
  }
  $('sign-in').addEventListener('submit', async (event) => {
    event.preventDefault();
    const res = await fetch(base + 'session', { method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: $('token').value }) });
    $('token').value = '';
    const data = await res.json().catch(() => ({}));
    if (!res.ok) { text('sign-in-error', data.message || 'sign-in failed'); return; }
    text('sign-in-error', ''); csrf = data.csrfToken; await start();
  });
  $('sign-out').onclick = async () => { await api('POST', 'session/end', {}).catch(() => {}); showSignIn(); };
  $('freeze').onchange = () => act(() => api('POST', 'freeze', { on: $('freeze').checked }));
  let previewTimer = null;
  $('rollout').oninput = () => {
    sliding = true; const percent = Number($('rollout').value); text('rollout-value', percent); $('rollout-apply').hidden = false;
    text('rollout-preview', 'counting…');
    // Asked once the slider rests, not at every position it passes.
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      try { const p = await api('GET', 'rollout/preview?percent=' + percent);
        if (Number($('rollout').value) === p.to) text('rollout-preview', 'would move ' + n(p.wouldMove) + ' users (from ' + p.from + '%)'); }
      catch (e) { text('flags-error', e.message); }
    }, 200);
  };
  $('rollout-apply').onclick = () => act(async () => {
    await api('POST', 'rollout', { percent: Number($('rollout').value) });
    sliding = false; $('rollout-apply').hidden = true; text('rollout-preview', '');
  });
  $('dead-next').onclick = () => { if (deadNext) { deadAfter.push(deadNext); loadDead(); } };
  $('dead-prev').onclick = () => { deadAfter.pop(); loadDead(); };
  setInterval(() => { if (csrf) refresh(); }, 2000);
  fetch(base + 'session', { credentials: 'same-origin' }).then(async (res) => {
    if (!res.ok) return showSignIn();
    csrf = (await res.json()).csrfToken; await start();
  }, showSignIn);
})();
`;

const require = createRequire(import.meta.url);
let uplot: { js: string; css: string } | null = null;
const uplotFiles = () =>
  (uplot ??= {
    js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  });

const asset = (type: string, body: string, cache = 'no-cache'): AdminResponse => ({
  status: 200,
  headers: { 'content-type': `${type}; charset=utf-8`, 'cache-control': cache, ...SECURITY_HEADERS },
  body,
});

/** The dashboard's page and assets by path below the prefix; null for any other path. */
export function dashboardAsset(path: string): AdminResponse | null {
  switch (path) {
    case '/':
      return asset('text/html', PAGE, 'no-store');
    case '/assets/dashboard.js':
      return asset('text/javascript', SCRIPT);
    case '/assets/dashboard.css':
      return asset('text/css', STYLE);
    case '/assets/uplot.js':
      return asset('text/javascript', uplotFiles().js, 'max-age=86400');
    case '/assets/uplot.css':
      return asset('text/css', uplotFiles().css, 'max-age=86400');
    default:
      return null;
  }
}
