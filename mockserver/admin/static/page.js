'use strict';
const params = new URLSearchParams(location.search);
// ?poll=ms refreshes faster or slower than every 1500 ms (from 200 ms to a minute).
const POLL_MS = Math.min(60000, Math.max(200, Number(params.get('poll')) || 1500));
const LIMIT = 200;
const token = params.get('token');
const $ = id => document.getElementById(id);
const S = {tenant: params.get('tenant') || '', selected: null, entry: null, paused: false,
           blocked: false, sig: {}, last: {}, creds: false, tenants: ''};

// -- text only: journal content is whatever a client sent ----------------------------------
// Control and direction-changing characters are shown, not obeyed: a path cannot fake a line
// break or reverse the text around it.
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
function visible(s, multiline) {
  s = String(s ?? '');
  s = s.replace(multiline ? /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g : /[\x00-\x1f\x7f]/g,
                c => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
  if (multiline) s = s.replace(/\r\n?/g, '\n');
  return s.replace(BIDI, c => '<U+' + c.charCodeAt(0).toString(16).toUpperCase() + '>');
}
function clip(s, n) {
  return s.length > n ? s.slice(0, n) + '\n\u2026 ' + (s.length - n) + ' more characters' : s;
}
// An element from trusted tag and property names; every string child becomes a text node.
function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'title') el.title = visible(v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'data') Object.assign(el.dataset, v);
    else el.setAttribute(k, v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : visible(kid));
  }
  return el;
}
const block = s => document.createTextNode(clip(visible(s, true), 100000));

// -- the control plane ------------------------------------------------------------------------
class ApiError extends Error { constructor(msg, status) { super(msg); this.status = status; } }
async function call(method, path, body) {
  const headers = {};
  if (token) headers['X-Admin-Token'] = token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const what = method + ' ' + path;
  let r;
  try {
    r = await fetch(path, {method, headers, cache: 'no-store',
                           body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) { throw new ApiError(what + ': network error (' + e.message + ')', 0); }
  let data = null;
  if (r.status !== 204) { try { data = await r.json(); } catch (e) { /* reported below */ } }
  if (r.status === 401) askToken();
  if (!r.ok) {
    const msg = data && typeof data.error === 'string' ? data.error : r.statusText;
    throw new ApiError(what + ': ' + r.status + ' ' + msg, r.status);
  }
  return data;
}
function askToken() {
  if (S.blocked) return;  // several calls of one poll were refused
  S.blocked = true;
  $('auth-title').textContent = token ? 'The admin token was refused'
                                      : 'This sandbox needs its admin token';
  // The form reloads the page with ?token=: the page's other settings (?poll=, ?tenant=) too.
  const form = $('auth').querySelector('form');
  for (const [k, v] of new URLSearchParams(location.search)) {
    if (k !== 'token') form.append(h('input', {type: 'hidden', name: k, value: v}));
  }
  $('auth').hidden = false;
  $('auth').querySelector('input').focus();
}
function showError(msg) { $('error-text').textContent = visible(msg); $('error').hidden = !msg; }
let noticeTimer = null;
function notice(msg) {
  $('notice').textContent = msg; $('notice').hidden = false;
  clearTimeout(noticeTimer); noticeTimer = setTimeout(() => { $('notice').hidden = true; }, 3000);
}
// A button's action: a failure stays on screen until the next action that works.
async function act(method, path, body, done) {
  let data;
  try { data = await call(method, path, body); showError(''); if (done) notice(done(data)); }
  catch (e) { showError(e.message); }
  await refresh();
  return data;
}

// -- formatting -------------------------------------------------------------------------------
// Each vendor its own colour: the server's vendors in order, any other by a hash of its name.
const HUES = [262, 24, 172, 210, 330, 95];
const VENDORS = [...document.querySelectorAll('#f-vendor option')].map(o => o.value).filter(Boolean);
function hue(name) {
  const i = VENDORS.indexOf(name);
  if (i >= 0) return HUES[i % HUES.length];
  let x = 7;
  for (const c of String(name)) x = (x * 31 + c.charCodeAt(0)) % 360;
  return x;
}
function vendorChip(name) {
  const el = h('span', {class: 'vendor'}, name ?? '?');
  el.style.setProperty('--h', String(hue(name)));
  return el;
}
function statusPill(status, error) {
  if (status == null) return h('span', {class: 'pill serr', title: error || 'no answer'}, error ? 'error' : '\u2014');
  const n = Number(status);
  return h('span', {class: 'pill s' + (n >= 100 && n < 600 ? String(n)[0] : '')}, String(status));
}
const methodClass = m => /^[A-Za-z]{1,10}$/.test(m || '') ? 'method m-' + m.toLowerCase() : 'method';
const shortTime = iso => typeof iso === 'string' && iso.length >= 23 ? iso.slice(11, 23) : String(iso ?? '');
const fmtMs = ms => typeof ms === 'number' ? (ms < 10 ? ms.toFixed(1) : String(Math.round(ms))) : '';
const words = k => String(k).replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
const num = n => typeof n === 'number' ? n.toLocaleString('en-US') : String(n);
function target(r) {
  return r.kind === 'webhook' ? (r.url || r.path) : (r.path || '') + (r.query ? '?' + r.query : '');
}
function pretty(text) {
  if (!text) return '';
  if (text.length < 200000) { try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) {} }
  return text;
}
function duration(s) {
  const sign = s < 0 ? '\u2212' : '+', a = Math.abs(s);
  const parts = [[86400, 'd'], [3600, 'h'], [60, 'min']].reduce((acc, [u, l]) => {
    if (a >= u && acc.rest >= u) { acc.out.push(Math.floor(acc.rest / u) + ' ' + l); acc.rest %= u; }
    return acc;
  }, {out: [], rest: a});
  if (parts.rest || !parts.out.length) parts.out.push(Math.round(parts.rest * 1000) / 1000 + ' s');
  return sign + parts.out.slice(0, 3).join(' ');
}

// -- clipboard --------------------------------------------------------------------------------
function legacyCopy(text) {
  const ta = h('textarea', {class: 'offscreen', readonly: '', 'aria-hidden': 'true'});
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
  ta.remove();
  return ok;
}
// navigator.clipboard only exists in secure contexts (https, localhost); a sandbox reached by
// another host name over http gets the older execCommand path.
async function copy(text, btn) {
  let ok = false;
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); ok = true; } catch (e) { ok = false; }
  }
  if (!ok) ok = legacyCopy(text);
  const label = btn.dataset.label || (btn.dataset.label = btn.textContent);
  btn.textContent = ok ? 'Copied' : 'Select and copy';
  btn.classList.toggle('done', ok);
  setTimeout(() => { btn.textContent = label; btn.classList.remove('done'); }, 1500);
}
const copyButton = (text, what, label) => h('button', {class: 'btn small copy', type: 'button',
  'aria-label': 'Copy ' + what, onclick: e => copy(text, e.currentTarget)}, label || 'Copy');

// -- panels -----------------------------------------------------------------------------------
let clockBase = null;
function showClock() {
  if (!clockBase) return;
  const c = clockBase;
  let ms = Date.parse(c.now);
  if (c.mode !== 'frozen') ms += performance.now() - c.at;  // real time runs between polls
  const iso = Number.isFinite(ms) ? new Date(ms).toISOString() : String(c.now);
  const el = $('clock');
  el.textContent = iso.slice(0, 19).replace('T', ' ') + ' UTC';
  el.setAttribute('datetime', c.mode === 'frozen' ? c.now : iso);
  el.title = c.now;
}
async function loadClock() {
  const c = await call('GET', '/__admin/clock');
  clockBase = {...c, at: performance.now()};
  const off = Number(c.offsetSeconds) || 0;
  $('clockmode').textContent = c.mode === 'frozen' ? 'frozen' : off ? 'real time ' + duration(off) : 'real time';
  $('clockmode').title = c.mode === 'frozen' ? 'set with POST /__admin/clock; advances only when told'
                                             : 'system time plus ' + off + ' s';
  showClock();
}

async function loadTenants() {
  const t = await call('GET', '/__admin/tenants');
  const ids = t.tenants.map(x => String(x.id));
  if (S.tenant && !ids.includes(S.tenant)) { S.tenant = ''; remember(); }
  const sig = ids.join('\n');
  if (sig !== S.tenants) {
    S.tenants = sig;
    $('tenant').replaceChildren(h('option', {value: ''}, 'All tenants'),
                                ...ids.map(id => h('option', {value: id}, id)));
  }
  $('tenant').value = S.tenant;
  $('reset').textContent = S.tenant ? 'Reset tenant ' + visible(S.tenant) : 'Reset all tenants';
}

function query() {
  const q = new URLSearchParams({summary: '1', limit: String(LIMIT)});
  if (S.tenant) q.set('tenant', S.tenant);
  for (const [id, key] of [['f-vendor', 'vendor'], ['f-status', 'status'], ['f-kind', 'kind']]) {
    if ($(id).value) q.set(key, $(id).value);
  }
  let p = $('f-path').value.trim();
  if (p) { if (!/[*?[]/.test(p)) p = '*' + p + '*'; q.set('path', p); }  // a word: a substring
  return q;
}
function filtered() { return ['f-vendor', 'f-status', 'f-kind', 'f-path'].some(id => $(id).value.trim()); }
// A recorded entry (serve --record): the real API answered; how far the mock's answer differs.
function realBadges(r) {
  if (r.kind !== 'recorded') return null;
  const n = Number(r.differenceCount) || 0;
  return [h('span', {class: 'badge real', title: 'answered by the real API (serve --record); ' +
                     'the mock answered ' + (r.mockStatus ?? 'nothing')}, 'real'),
          h('span', {class: 'badge ' + (n ? 'diff' : 'same'),
                     title: n ? 'the mock\u2019s answer differs from the real one' : 'the mock answers the same'},
            n ? n + (n === 1 ? ' difference' : ' differences') : 'same')];
}
// A WebSocket handshake, journaled when its connection ended: how it ended.
function socketEnd(ws) {
  const code = ws.closeCode == null ? 'no close code' : 'closed ' + ws.closeCode;
  return code + ', ' + num(ws.received) + ' received, ' + num(ws.sent) + ' sent';
}
function socketBadge(r) {
  const ws = r.websocket;
  if (!ws || typeof ws !== 'object') return null;
  return h('span', {class: 'badge socket', title: 'a WebSocket: ' + socketEnd(ws)}, 'websocket');
}
function row(r) {
  const hook = r.kind === 'webhook', where = target(r);
  return h('tr', {tabindex: '0', data: {id: String(r.id)},
                  class: [hook && 'hook', r.kind === 'recorded' && 'recorded', r.fault && 'faulted',
                          r.id === S.selected && 'selected'].filter(Boolean).join(' ')},
    h('td', {class: 'mono', title: r.time}, shortTime(r.time)),
    h('td', null, vendorChip(r.vendor)),
    h('td', {class: 'tenant mono', title: r.tenant}, r.tenant ?? '\u2014'),
    h('td', null, h('span', {class: methodClass(r.method)}, r.method)),
    h('td', {class: 'path mono', title: where},
      hook && h('span', {class: 'badge hook', title: 'a webhook the mock delivered'}, 'webhook'),
      r.fault && h('span', {class: 'badge fault', title: 'answered by fault ' + r.fault}, 'fault ' + r.fault),
      realBadges(r), socketBadge(r), ' ', where),
    h('td', null, statusPill(r.status, r.error)),
    h('td', {class: 'num mono'}, fmtMs(r.durationMs)));
}
async function loadJournal() {
  if (S.paused) return;
  const q = query();
  const j = await call('GET', '/__admin/requests?' + q);
  const sig = q + '|' + j.total + '|' + j.requests.map(r => r.id + ':' + r.status).join(',');
  $('count').textContent = j.total > j.requests.length
    ? 'newest ' + num(j.requests.length) + ' of ' + num(j.total)
    : num(j.total) + (j.total === 1 ? ' entry' : ' entries');
  $('count').title = 'the journal keeps the newest ' + num(j.capacity) + ' entries';
  if (sig === S.sig.journal) return;
  S.sig.journal = sig;
  $('rows').replaceChildren(...j.requests.map(row));
  const empty = $('empty');
  empty.hidden = j.requests.length > 0;
  if (!j.requests.length) {
    empty.replaceChildren(filtered() ? 'No entries match these filters.'
      : h('div', null, 'No requests yet. Point a client at a vendor prefix of this server, e.g.',
          h('br'), h('code', null, location.origin + '/' + (VENDORS[0] || '<vendor>') + '/…')));
  }
}

function statChip(path, label, value) {
  const prev = S.last[path];
  S.last[path] = value;
  const tone = /fail|reject|cancel|error|inactive/.test(label) ? 's5'
             : /available|connected|active/.test(label) ? 's2'
             : /pending|connecting|processing/.test(label) ? 's4' : '';
  return h('span', {class: 'chip ' + tone + (prev !== undefined && prev !== value ? ' changed' : '')},
           words(label), h('b', null, num(value)));
}
function stat(path, label, value) {
  const prev = S.last[path];
  S.last[path] = value;
  return h('div', {class: 'stat' + (prev !== undefined && prev !== value ? ' changed' : ''),
                   data: {stat: path}}, h('b', null, num(value)), h('span', null, words(label)));
}
function vendorCard(name, counts) {
  const stats = [], chips = [];
  for (const [k, v] of Object.entries(counts || {})) {
    if (typeof v === 'number') stats.push(stat(name + '.' + k, k, v));
    else if (v && typeof v === 'object') {
      if (typeof v.total === 'number') stats.push(stat(name + '.' + k, k, v.total));
      for (const [k2, v2] of Object.entries(v)) {
        if (v2 && typeof v2 === 'object') {
          for (const [k3, v3] of Object.entries(v2)) chips.push(statChip(name + '.' + k + '.' + k3, k3, v3));
        } else if (k2 !== 'total' && typeof v2 === 'number') stats.push(stat(name + '.' + k + '.' + k2, k2, v2));
      }
    }
  }
  return h('div', {class: 'vcard', data: {vendor: name}}, h('h3', null, vendorChip(name)),
           h('div', {class: 'stats'}, stats.length ? stats : h('span', {class: 'muted'}, 'nothing to count')),
           chips.length ? h('div', {class: 'chips'}, chips) : null);
}
async function loadSummary() {
  const tid = S.tenant || 'default';
  const s = await call('GET', '/__admin/summary?tenant=' + encodeURIComponent(tid));
  const sig = JSON.stringify(s);
  if (sig === S.sig.summary) return;
  if (S.summaryTenant !== s.tenant) S.last = {};  // another tenant's numbers did not "change"
  S.summaryTenant = s.tenant;
  S.sig.summary = sig;
  $('summary-tenant').textContent = visible(s.tenant);
  $('summary').replaceChildren(...Object.entries(s.vendors || {}).map(([n, c]) => vendorCard(n, c)));
}

// Where the state is kept (GET /__admin/health): --data-dir's directory, or only in memory;
// and why writes fail, while they do.
async function loadKept() {
  const hl = await call('GET', '/__admin/health');
  const sig = JSON.stringify(hl);
  if (sig === S.sig.kept) return;
  S.sig.kept = sig;
  const el = $('kept');
  el.classList.toggle('bad', !!hl.degraded);
  el.textContent = hl.dataDir
    ? (hl.degraded ? 'Not saved: ' + visible(hl.degraded) + ' (kept in memory meanwhile)'
                   : 'Kept in ' + visible(hl.dataDir) + ': survives a restart')
    : 'Kept in memory only: a restart goes back to the fixtures (serve --data-dir DIR keeps it)';
}

function faultEffect(f) {
  const out = [];
  if (f.drop) out.push('drops the connection');
  if (f.status != null) out.push('answers ' + f.status + (f.body !== undefined && f.body !== null ? ' with its body' : ''));
  const l = f.latency;
  if (l && typeof l === 'object') {
    if (l.fixed != null) out.push('+' + l.fixed + ' ms');
    else if (Array.isArray(l.uniform)) out.push('+' + l.uniform[0] + '\u2013' + l.uniform[1] + ' ms');
    else if (l.lognormal) out.push('+~' + l.lognormal.median + ' ms (lognormal)');
  }
  out.push(f.remaining == null ? 'until deleted' : f.remaining + ' left');
  if (typeof f.hits === 'number') out.push(f.hits + (f.hits === 1 ? ' hit' : ' hits'));
  return out.join(' \u00b7 ');
}
async function loadFaults() {
  let f;
  try { f = await call('GET', '/__admin/faults'); }
  catch (e) {
    if (e.status === 404 || e.status === 405) {  // a server without fault injection
      if (S.sig.faults !== 'none') {
        S.sig.faults = 'none';
        $('faults').replaceChildren(h('div', {class: 'pbody muted'}, 'Fault injection is not available on this server.'));
      }
      return;
    }
    throw e;
  }
  const list = Array.isArray(f && f.faults) ? f.faults : [];
  const sig = JSON.stringify(list);
  if (sig === S.sig.faults) return;
  S.sig.faults = sig;
  if (!list.length) {
    $('faults').replaceChildren(h('div', {class: 'pbody muted'}, 'No active faults. Add one with ',
      h('code', null, 'POST /__admin/faults'), ', e.g. ', h('code', null, JSON.stringify({vendor: VENDORS[0] || '<vendor>', status: 503, times: 1}))));
    return;
  }
  $('faults').replaceChildren(...list.map(x => h('div', {class: 'fault-row', data: {fault: String(x.id)}},
    h('div', {class: 'what'},
      h('div', null, h('b', {class: 'mono'}, String(x.id)), ' ', x.vendor ? vendorChip(x.vendor) : h('span', {class: 'muted'}, 'any vendor'),
        ' ', h('span', {class: methodClass(x.method)}, x.method || 'ANY'), ' ',
        h('code', null, x.path || '.*'), x.tenant ? h('span', {class: 'badge'}, 'tenant ' + x.tenant) : null),
      h('div', {class: 'effect'}, faultEffect(x))),
    h('button', {class: 'btn small', type: 'button', 'aria-label': 'Delete fault ' + x.id,
      onclick: () => act('DELETE', '/__admin/faults/' + encodeURIComponent(x.id), undefined, () => 'Deleted fault ' + x.id)}, 'Delete'))),
    h('div', {class: 'pbody'}, h('button', {class: 'btn small', type: 'button',
      onclick: () => act('DELETE', '/__admin/faults', undefined, () => 'Cleared every fault')}, 'Clear all')));
}

async function loadCreds() {
  if (S.creds) return;
  const c = await call('GET', '/__admin/credentials');
  S.creds = true;
  $('creds').replaceChildren(...Object.entries(c).map(([vendor, fields]) => h('div', {class: 'cred'},
    h('h3', null, vendorChip(vendor), h('span', {class: 'spacer'}),
      copyButton(JSON.stringify(fields, null, 2), vendor + ' credentials as JSON', 'Copy JSON')),
    h('div', {class: 'kv'}, Object.entries(fields || {}).map(([k, v]) => [
      h('span', {class: 'k'}, k), h('span', {class: 'v'}, String(v)), copyButton(String(v), vendor + ' ' + k)])))));
}

// -- the detail drawer --------------------------------------------------------------------------
function headerTable(headers) {
  const rows = Object.entries(headers || {});
  if (!rows.length) return h('p', {class: 'muted'}, 'No headers.');
  return h('table', {class: 'headers'}, h('tbody', null, rows.map(([k, v]) => h('tr', null,
    h('td', null, k), h('td', null, v === '[redacted]' ? h('span', {class: 'redacted'}, v) : v)))));
}
const bodyBlock = text => text ? h('pre', null, block(pretty(text))) : h('p', {class: 'muted'}, 'No body.');
function differenceList(list) {
  if (!Array.isArray(list) || !list.length) return h('p', {class: 'muted'}, 'None: the mock answers the same.');
  return h('ul', {class: 'differences'}, list.map(d => h('li', null,
    h('code', null, String(d && d.path)), ' ', h('span', {class: 'muted'}, String(d && d.kind)), ': ',
    String(d && d.message))));
}
function renderDetail(e) {
  const hook = e.kind === 'webhook', recorded = e.kind === 'recorded';
  $('d-title').replaceChildren(h('span', {class: methodClass(e.method)}, e.method), ' ',
    statusPill(e.status, e.error), ' ', hook ? 'Webhook #' : recorded ? 'Recorded #' : 'Request #',
    String(e.id), ...(realBadges(e) || []));
  const meta = [['Time', e.time], ['Vendor', vendorChip(e.vendor)], ['Tenant', e.tenant ?? '\u2014'],
    ['Kind', e.kind], ['Duration', fmtMs(e.durationMs) + ' ms']];
  if (e.fault) meta.push(['Fault', h('span', {class: 'badge fault'}, String(e.fault))]);
  if (e.url) meta.push([recorded ? 'Forwarded to' : 'Delivered to', e.url]);
  if (e.error) meta.push(['Error', e.error]);
  const ws = e.websocket && typeof e.websocket === 'object' ? e.websocket : null;
  if (ws) meta.push(['WebSocket', socketEnd(ws)]);
  const req = e.request || {}, resp = e.response || {};
  $('detail').replaceChildren(
    h('div', {class: 'target'}, hook ? 'POST ' + (e.url || '') + '  (' + e.path + ')' : target(e)),
    h('dl', {class: 'meta'}, meta.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    h('h3', null, hook ? 'Webhook headers' : 'Request headers'), headerTable(req.headers),
    h('h3', null, hook ? 'Webhook body' : 'Request body'), bodyBlock(req.body),
    h('h3', null, hook ? 'Receiver answered ' : recorded ? 'Real API answered ' : ws ? 'Handshake ' : 'Response ',
      statusPill(e.status, e.error)),
    ws ? h('p', {class: 'muted'}, socketEnd(ws)) : bodyBlock(resp.body),
    ...(recorded ? [
      h('h3', null, 'Mock answered ', statusPill(e.mockStatus, 'no answer')),
      bodyBlock((e.mockResponse || {}).body),
      h('h3', null, 'Differences'), differenceList(e.differences)] : []));
}
async function openDetail(id) {
  S.selected = id;
  for (const tr of $('rows').children) tr.classList.toggle('selected', tr.dataset.id === String(id));
  $('drawer').hidden = false;
  $('d-title').textContent = 'Entry #' + id;
  $('detail').replaceChildren(h('p', {class: 'muted'}, 'Loading\u2026'));
  S.entry = null;
  let e;
  try { e = await call('GET', '/__admin/requests/' + id); }
  catch (err) {
    if (S.selected === id) {
      $('detail').replaceChildren(h('p', {class: 'muted'}, err.status === 404
        ? 'Entry #' + id + ' is no longer in the journal (reset, cleared or rotated out).' : err.message));
    }
    return;
  }
  if (S.selected !== id) return;  // another entry was clicked meanwhile
  S.entry = e;
  renderDetail(e);
}
function closeDetail() {
  S.selected = null; S.entry = null; $('drawer').hidden = true;
  for (const tr of $('rows').querySelectorAll('tr.selected')) tr.classList.remove('selected');
}

// -- polling ----------------------------------------------------------------------------------
function setStatus(text, cls) { $('status').textContent = text; $('status').className = 'live ' + cls; }
async function tick() {
  const results = await Promise.allSettled([loadClock(), loadTenants(), loadCreds()]);
  // The tenant list first: a deleted tenant's selection falls back before the rest asks.
  results.push(...await Promise.allSettled([loadJournal(), loadSummary(), loadFaults(),
                                            loadKept()]));
  const failed = results.find(r => r.status === 'rejected');
  if (S.blocked) setStatus('admin token required', 'bad');
  else if (failed) setStatus('poll failed, retrying: ' + visible(failed.reason.message), 'bad');
  else if (S.paused) setStatus('journal paused', 'paused');
  else setStatus('live', 'ok');
}
// One poll at a time, each POLL_MS after the last ended: a slow server never piles them up,
// and an action's refresh joins the next poll instead of racing it.
let timer = null, running = null, again = false;
async function refresh() {
  if (running) { again = true; return running; }
  clearTimeout(timer);
  running = (async () => {
    do { again = false; await tick(); } while (again && !S.blocked);
  })();
  try { await running; } finally {
    running = null;
    if (!S.blocked) timer = setTimeout(refresh, POLL_MS);
  }
}
function remember() {
  const q = new URLSearchParams(location.search);
  if (S.tenant) q.set('tenant', S.tenant); else q.delete('tenant');
  const s = q.toString();
  history.replaceState(null, '', location.pathname + (s ? '?' + s : ''));
}

// -- wiring -----------------------------------------------------------------------------------
const clockAct = body => act('POST', '/__admin/clock', body);
for (const b of document.querySelectorAll('[data-advance]')) {
  b.addEventListener('click', () => clockAct({advance: Number(b.dataset.advance)}));
}
$('advance-form').addEventListener('submit', ev => {
  ev.preventDefault();
  const v = $('advance-seconds').value.trim();
  if (v === '' || !Number.isFinite(Number(v))) { showError('Enter a number of seconds to advance by.'); return; }
  clockAct({advance: Number(v)});
});
$('set-form').addEventListener('submit', ev => {
  ev.preventDefault();
  const v = $('set-iso').value.trim();
  if (!v) { showError('Enter an ISO-8601 date-time, e.g. 2024-01-15T10:30:00Z.'); return; }
  clockAct({set: v});
});
$('real').addEventListener('click', () => clockAct({real: true}));
$('reset').addEventListener('click', () => {
  const body = S.tenant ? {tenant: S.tenant} : {};
  act('POST', '/__admin/reset', body, d => 'Reset ' + (d && d.reset ? d.reset.length : 0) +
      (d && d.reset && d.reset.length === 1 ? ' tenant' : ' tenants') + ': fixtures restored, journal cleared');
});
$('tenant').addEventListener('change', () => { S.tenant = $('tenant').value; remember(); loadTenants().catch(() => {}); refresh(); });
for (const id of ['f-vendor', 'f-status', 'f-kind']) $(id).addEventListener('change', () => refresh());
let typing = null;
$('f-path').addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(refresh, 250); });
$('pause').addEventListener('click', () => {
  S.paused = !S.paused;
  $('pause').textContent = S.paused ? 'Resume' : 'Pause';
  $('pause').setAttribute('aria-pressed', String(S.paused));
  refresh();
});
const rowOf = ev => ev.target.closest('tr[data-id]');
$('rows').addEventListener('click', ev => { const tr = rowOf(ev); if (tr) openDetail(Number(tr.dataset.id)); });
$('rows').addEventListener('keydown', ev => {
  const tr = rowOf(ev);
  if (!tr) return;
  if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); openDetail(Number(tr.dataset.id)); }
  else if (ev.key === 'ArrowDown' && tr.nextElementSibling) { ev.preventDefault(); tr.nextElementSibling.focus(); }
  else if (ev.key === 'ArrowUp' && tr.previousElementSibling) { ev.preventDefault(); tr.previousElementSibling.focus(); }
});
$('d-close').addEventListener('click', closeDetail);
$('d-copy').addEventListener('click', ev => { if (S.entry) copy(JSON.stringify(S.entry, null, 2), ev.currentTarget); });
$('error-close').addEventListener('click', () => showError(''));
document.addEventListener('keydown', ev => { if (ev.key === 'Escape' && !$('drawer').hidden) closeDetail(); });
setInterval(showClock, 500);
refresh();
