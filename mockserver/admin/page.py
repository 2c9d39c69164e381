"""The sandbox page `GET /__admin/`: live journal, entry detail, state summary, faults, clock,
reset and credentials. Server-rendered once per app (the vendors' names), plain JavaScript, no
build step and nothing loaded from elsewhere, so it works offline.

Journal content is hostile (whatever a client sent), so the script builds every element from
text (`textContent`, never `innerHTML`), and a Content-Security-Policy that allows only this
page's own script and style (by hash) stops anything that would slip through anyway.
"""
from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Iterable

from starlette.responses import HTMLResponse

POLL_MS = 1500
JOURNAL_LIMIT = 200

STYLE = """
:root{--bg:#f5f6f8;--panel:#fff;--ink:#1d2330;--muted:#667085;--line:#e4e7ec;--head:#111827;
--head-ink:#e5e7eb;--accent:#4f46e5;--ok:#067647;--ok-bg:#dcfae6;--redir:#175cd3;--redir-bg:#d1e9ff;
--warn:#b54708;--warn-bg:#fef0c7;--bad:#b42318;--bad-bg:#fee4e2;--none-bg:#f2f4f7;--sel:#eef2ff;
--hook:#f4f3ff;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
@media (prefers-color-scheme:dark){:root{--bg:#0b0f17;--panel:#121826;--ink:#e4e7ec;--muted:#98a2b3;
--line:#253041;--head:#05080e;--sel:#1e2447;--hook:#191b33;--ok:#75e0a7;--ok-bg:#053321;
--redir:#84caff;--redir-bg:#102a56;--warn:#fdb022;--warn-bg:#4e1d09;--bad:#fda29b;--bad-bg:#55160c;
--none-bg:#1d2433}}
*{box-sizing:border-box}[hidden]{display:none!important}
html,body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
button,input,select{font:inherit;color:inherit}
.mono,code,pre,time{font-family:var(--mono);font-size:12.5px}
.muted{color:var(--muted)}
header{background:var(--head);color:var(--head-ink);padding:.6rem 1.2rem;display:flex;
flex-wrap:wrap;align-items:center;gap:.6rem 1.4rem;position:sticky;top:0;z-index:5}
.brand{font-weight:650;font-size:1.05rem;letter-spacing:.01em;display:flex;align-items:center;gap:.5rem}
.brand .logo{width:1.1rem;height:1.1rem;border-radius:4px;background:linear-gradient(135deg,#818cf8,#22d3ee)}
.brand small{font-weight:400;color:#9aa4b2}
header label{display:flex;align-items:center;gap:.4rem;color:#9aa4b2;font-size:12px}
header select,header input{background:#1f2937;border:1px solid #374151;border-radius:6px;
padding:.28rem .5rem;color:#f3f4f6}
header input{width:7.5rem}header input.iso{width:13.5rem}
.clock{display:flex;align-items:center;gap:.5rem;flex-wrap:wrap}
.clock time{font-size:14px;color:#fff;background:#1f2937;border-radius:6px;padding:.2rem .55rem}
.clock .label{color:#9aa4b2;font-size:12px}
.group{display:flex;gap:.3rem;align-items:center;flex-wrap:wrap}
form.inline{display:flex;gap:.3rem;margin:0}
.btn{border:1px solid var(--line);background:var(--panel);border-radius:6px;padding:.28rem .65rem;
cursor:pointer;white-space:nowrap}
.btn:hover{border-color:var(--accent)}
header .btn{background:#1f2937;border-color:#374151;color:#e5e7eb}
header .btn:hover{background:#273244;border-color:#6366f1}
.btn.danger{border-color:#b42318;color:#fff;background:#b42318}
header .btn.danger{background:#b42318;border-color:#d92d20}
header .btn.danger:hover{background:#d92d20}
.btn.small{padding:.08rem .45rem;font-size:12px}
.spacer{flex:1}
.live{display:flex;align-items:center;gap:.4rem;font-size:12px;color:#9aa4b2}
.live::before{content:"";width:.55rem;height:.55rem;border-radius:50%;background:#6b7280}
.live.ok::before{background:#17b26a;box-shadow:0 0 0 3px rgba(23,178,106,.25)}
.live.bad::before{background:#f04438}.live.paused::before{background:#f79009}
.live.bad{color:#fda29b}
.banner{margin:.8rem 1.2rem 0;padding:.55rem .8rem;border-radius:8px;display:flex;gap:.8rem;
align-items:center}
#error{background:var(--bad-bg);color:var(--bad);border:1px solid currentColor}
#notice{background:var(--ok-bg);color:var(--ok)}
.banner .btn{margin-left:auto}
main{display:grid;grid-template-columns:minmax(0,1fr) 370px;gap:1rem;padding:1rem 1.2rem 2rem;
align-items:start}
@media (max-width:1100px){main{grid-template-columns:minmax(0,1fr)}}
@media (max-width:900px){header{position:static}}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:10px;overflow:hidden}
.panel+.panel{margin-top:1rem}
.panel>h2,.phead h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;margin:0;
color:var(--muted);font-weight:650}
.panel>h2{padding:.7rem .9rem;border-bottom:1px solid var(--line)}
.phead{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem .8rem;padding:.6rem .9rem;
border-bottom:1px solid var(--line)}
.phead select,.phead input{border:1px solid var(--line);border-radius:6px;padding:.22rem .45rem;
background:var(--panel)}
.phead input{width:11rem}
.count{font-size:12px;color:var(--muted)}
.pbody{padding:.7rem .9rem}
.table-wrap{overflow:auto;max-height:calc(100vh - 12rem);min-height:10rem}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th{position:sticky;top:0;background:var(--panel);text-align:left;font-size:11.5px;
text-transform:uppercase;letter-spacing:.05em;color:var(--muted);font-weight:600;
padding:.45rem .6rem;border-bottom:1px solid var(--line);z-index:1}
td{padding:.38rem .6rem;border-bottom:1px solid var(--line);white-space:nowrap;overflow:hidden;
text-overflow:ellipsis;vertical-align:middle}
col.c-time{width:8.2rem}col.c-vendor{width:6.6rem}col.c-tenant{width:8.5rem}
col.c-method{width:5.4rem}col.c-status{width:5.2rem}col.c-ms{width:4.8rem}
@media (max-width:800px){col.c-tenant{width:0}td.tenant,th.tenant{padding:0;visibility:hidden}}
tbody tr{cursor:pointer}tbody tr:hover{background:var(--sel)}
tbody tr:focus{outline:2px solid var(--accent);outline-offset:-2px}
tbody tr.selected{background:var(--sel);box-shadow:inset 3px 0 var(--accent)}
tbody tr.hook{background:var(--hook)}tbody tr.hook td.path{font-style:italic}
tbody tr.faulted{box-shadow:inset 3px 0 #f79009}
td.num,.num{font-variant-numeric:tabular-nums;text-align:right}
.pill{display:inline-block;min-width:2.6rem;text-align:center;border-radius:999px;padding:0 .45rem;
font-family:var(--mono);font-size:12px;font-weight:600;background:var(--none-bg);color:var(--muted)}
.s2{background:var(--ok-bg);color:var(--ok)}.s3{background:var(--redir-bg);color:var(--redir)}
.s4{background:var(--warn-bg);color:var(--warn)}.s5,.serr{background:var(--bad-bg);color:var(--bad)}
.method{font-family:var(--mono);font-size:12px;font-weight:650}
.m-get{color:var(--redir)}.m-post{color:var(--ok)}.m-delete{color:var(--bad)}
.m-put,.m-patch{color:var(--warn)}
.vendor{display:inline-block;border-radius:5px;padding:0 .4rem;font-size:12px;font-weight:600;
color:hsl(var(--h,220),55%,35%);background:hsl(var(--h,220),70%,93%)}
@media (prefers-color-scheme:dark){.vendor{color:hsl(var(--h,220),70%,78%);
background:hsl(var(--h,220),40%,20%)}}
.badge{display:inline-block;font-size:11px;border-radius:4px;padding:0 .35rem;margin-left:.35rem;
font-weight:600;vertical-align:1px;background:var(--none-bg);color:var(--muted)}
.badge.hook{background:#ebe9fe;color:#5925dc}.badge.fault{background:var(--warn-bg);color:var(--warn)}
.empty{padding:2.5rem 1rem;text-align:center;color:var(--muted)}
.empty code{display:inline-block;margin-top:.5rem;background:var(--none-bg);padding:.3rem .6rem;
border-radius:6px;color:var(--ink);user-select:all}
.vcard{padding:.65rem .9rem;border-bottom:1px solid var(--line)}.vcard:last-child{border:0}
.vcard h3{margin:0 0 .4rem;font-size:13px;display:flex;align-items:center;gap:.5rem}
.stats{display:flex;flex-wrap:wrap;gap:.3rem 1.2rem}
.stat b{font-size:1.25rem;font-weight:650;font-variant-numeric:tabular-nums;margin-right:.3rem}
.stat span{color:var(--muted);font-size:12.5px}
.chips{display:flex;flex-wrap:wrap;gap:.25rem;margin-top:.4rem}
.chip{font-size:11.5px;border-radius:999px;padding:.05rem .5rem;background:var(--none-bg);
font-family:var(--mono)}
.chip b{font-weight:650;margin-left:.3rem}
.changed{animation:flash 1.6s ease-out}
@keyframes flash{0%{background:#fde68a;color:#111}100%{}}
.fault-row{display:flex;gap:.6rem;align-items:flex-start;padding:.55rem .9rem;
border-bottom:1px solid var(--line)}
.fault-row:last-child{border:0}.fault-row .what{flex:1;min-width:0;overflow-wrap:anywhere}
.fault-row .effect{font-size:12.5px;color:var(--muted)}
.cred{padding:.55rem .9rem;border-bottom:1px solid var(--line)}.cred:last-child{border:0}
.cred h3{margin:0 0 .3rem;font-size:13px;display:flex;align-items:center;gap:.5rem}
.kv{display:grid;grid-template-columns:auto minmax(0,1fr) auto;gap:.2rem .6rem;align-items:center}
.kv .k{color:var(--muted);font-size:12.5px}
.kv .v{font-family:var(--mono);font-size:12.5px;overflow-wrap:anywhere;user-select:all}
.copy.done{border-color:var(--ok);color:var(--ok)}
.offscreen{position:fixed;left:-9999px;top:0;opacity:0}
.drawer{position:fixed;top:0;right:0;bottom:0;width:min(760px,100vw);background:var(--panel);
border-left:1px solid var(--line);box-shadow:-12px 0 32px rgba(16,24,40,.18);z-index:10;
display:flex;flex-direction:column}
.dhead{display:flex;align-items:center;gap:.6rem;padding:.75rem 1rem;border-bottom:1px solid var(--line)}
.dhead h2{margin:0;font-size:15px;flex:1}
.dbody{overflow:auto;padding:.4rem 1rem 2rem}
.target{font-family:var(--mono);font-size:13px;overflow-wrap:anywhere;margin:.6rem 0;
padding:.5rem .7rem;background:var(--none-bg);border-radius:6px}
dl.meta{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2rem 1rem;margin:.6rem 0}
dl.meta dt{color:var(--muted);font-size:12.5px}dl.meta dd{margin:0;overflow-wrap:anywhere}
.dbody h3{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);
margin:1.2rem 0 .4rem;display:flex;align-items:center;gap:.5rem}
table.headers{table-layout:auto}
table.headers td{white-space:normal;overflow-wrap:anywhere;font-family:var(--mono);font-size:12.5px;
padding:.22rem .5rem}
table.headers td:first-child{color:var(--muted);width:1%;white-space:nowrap}
.redacted{background:var(--warn-bg);color:var(--warn);border-radius:4px;padding:0 .3rem}
pre{margin:0;padding:.6rem .75rem;background:var(--none-bg);border-radius:6px;overflow:auto;
max-height:26rem;white-space:pre-wrap;overflow-wrap:anywhere}
#auth{position:fixed;inset:0;background:rgba(9,12,20,.72);display:flex;align-items:center;
justify-content:center;z-index:20}
#auth .card{background:var(--panel);border-radius:12px;padding:1.4rem 1.6rem;width:min(430px,92vw);
box-shadow:0 20px 50px rgba(0,0,0,.35)}
#auth h2{margin:0 0 .4rem;font-size:1.1rem}#auth p{margin:.3rem 0 1rem;color:var(--muted)}
#auth form{display:flex;gap:.5rem}#auth input{flex:1;border:1px solid var(--line);border-radius:6px;
padding:.4rem .6rem;background:var(--panel)}
.btn.primary{background:var(--accent);border-color:var(--accent);color:#fff}
"""

BODY = """<header>
 <div class="brand"><span class="logo"></span>mockserver <small>sandbox</small></div>
 <label>Tenant <select id="tenant" aria-label="Tenant"><option value="">All tenants</option></select></label>
 <div class="clock">
  <span class="label">Mock clock</span><time id="clock">&hellip;</time>
  <span id="clockmode" class="badge"></span>
 </div>
 <div class="group" aria-label="Clock controls">
  <button class="btn" type="button" data-advance="60">+1 min</button>
  <button class="btn" type="button" data-advance="3600">+1 h</button>
  <button class="btn" type="button" data-advance="86400">+1 day</button>
  <form class="inline" id="advance-form"><input id="advance-seconds" type="number" step="any"
   placeholder="seconds" aria-label="Seconds to advance"><button class="btn" type="submit">Advance</button></form>
  <form class="inline" id="set-form"><input id="set-iso" class="iso" type="text"
   placeholder="2024-01-15T10:30:00Z" aria-label="Set the clock to (ISO-8601)"><button class="btn" type="submit">Set</button></form>
  <button class="btn" type="button" id="real">Real time</button>
 </div>
 <span class="spacer"></span>
 <span id="status" class="live">connecting&hellip;</span>
 <button class="btn danger" type="button" id="reset">Reset all tenants</button>
</header>
<div id="error" class="banner" role="alert" hidden><span id="error-text"></span>
 <button class="btn small" type="button" id="error-close">Dismiss</button></div>
<div id="notice" class="banner" role="status" hidden></div>
<main>
 <section class="panel" aria-label="Journal">
  <div class="phead">
   <h2>Journal</h2><span class="count" id="count"></span><span class="spacer"></span>
   <select id="f-vendor" aria-label="Vendor"><option value="">All vendors</option>{vendor_options}</select>
   <select id="f-status" aria-label="Status"><option value="">Any status</option>
    <option value="2xx">2xx</option><option value="3xx">3xx</option><option value="4xx">4xx</option>
    <option value="5xx">5xx</option>{status_options}</select>
   <select id="f-kind" aria-label="Kind"><option value="">Requests &amp; webhooks</option>
    <option value="request">Requests</option><option value="webhook">Webhooks</option></select>
   <input id="f-path" type="search" placeholder="path, e.g. /connections*" aria-label="Path">
   <button class="btn" type="button" id="pause" aria-pressed="false">Pause</button>
  </div>
  <div class="table-wrap"><table>
   <colgroup><col class="c-time"><col class="c-vendor"><col class="c-tenant"><col class="c-method">
    <col><col class="c-status"><col class="c-ms"></colgroup>
   <thead><tr><th>Time</th><th>Vendor</th><th class="tenant">Tenant</th><th>Method</th><th>Path</th>
    <th>Status</th><th class="num">ms</th></tr></thead>
   <tbody id="rows"></tbody></table>
   <div id="empty" class="empty" hidden></div></div>
 </section>
 <aside>
  <section class="panel" aria-label="State"><h2>State &middot; <span id="summary-tenant">default</span></h2>
   <div id="summary"><div class="pbody muted">Loading&hellip;</div></div></section>
  <section class="panel" aria-label="Active faults"><h2>Active faults</h2>
   <div id="faults"><div class="pbody muted">Loading&hellip;</div></div></section>
  <section class="panel" aria-label="Sandbox credentials"><h2>Credentials &middot; default tenant</h2>
   <div id="creds"><div class="pbody muted">Loading&hellip;</div></div></section>
 </aside>
</main>
<div id="drawer" class="drawer" role="dialog" aria-label="Journal entry" hidden>
 <div class="dhead"><h2 id="d-title">Entry</h2>
  <button class="btn small" type="button" id="d-copy">Copy JSON</button>
  <button class="btn small" type="button" id="d-close" aria-label="Close">Close</button></div>
 <div class="dbody" id="detail"></div>
</div>
<div id="auth" hidden><div class="card">
 <h2 id="auth-title">This sandbox needs its admin token</h2>
 <p>The server runs with <code>--admin-token</code>. Enter the token to open the sandbox; the page
 sends it as <code>X-Admin-Token</code>.</p>
 <form method="get" action=""><input name="token" type="password" autocomplete="off"
  aria-label="Admin token" placeholder="admin token" required><button class="btn primary"
  type="submit">Open sandbox</button></form></div></div>
"""

SCRIPT = r"""
'use strict';
const params = new URLSearchParams(location.search);
// ?poll=ms refreshes faster or slower than every __POLL_MS__ ms (from 200 ms to a minute).
const POLL_MS = Math.min(60000, Math.max(200, Number(params.get('poll')) || __POLL_MS__));
const LIMIT = __LIMIT__;
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
function row(r) {
  const hook = r.kind === 'webhook', where = target(r);
  return h('tr', {tabindex: '0', data: {id: String(r.id)},
                  class: [hook && 'hook', r.fault && 'faulted', r.id === S.selected && 'selected']
                    .filter(Boolean).join(' ')},
    h('td', {class: 'mono', title: r.time}, shortTime(r.time)),
    h('td', null, vendorChip(r.vendor)),
    h('td', {class: 'tenant mono', title: r.tenant}, r.tenant ?? '\u2014'),
    h('td', null, h('span', {class: methodClass(r.method)}, r.method)),
    h('td', {class: 'path mono', title: where},
      hook && h('span', {class: 'badge hook', title: 'a webhook the mock delivered'}, 'webhook'),
      r.fault && h('span', {class: 'badge fault', title: 'answered by fault ' + r.fault}, 'fault ' + r.fault),
      ' ', where),
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
function renderDetail(e) {
  const hook = e.kind === 'webhook';
  $('d-title').replaceChildren(h('span', {class: methodClass(e.method)}, e.method), ' ',
    statusPill(e.status, e.error), ' ', hook ? 'Webhook #' : 'Request #', String(e.id));
  const meta = [['Time', e.time], ['Vendor', vendorChip(e.vendor)], ['Tenant', e.tenant ?? '\u2014'],
    ['Kind', e.kind], ['Duration', fmtMs(e.durationMs) + ' ms']];
  if (e.fault) meta.push(['Fault', h('span', {class: 'badge fault'}, String(e.fault))]);
  if (e.url) meta.push(['Delivered to', e.url]);
  if (e.error) meta.push(['Error', e.error]);
  const req = e.request || {}, resp = e.response || {};
  $('detail').replaceChildren(
    h('div', {class: 'target'}, hook ? 'POST ' + (e.url || '') + '  (' + e.path + ')' : target(e)),
    h('dl', {class: 'meta'}, meta.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    h('h3', null, hook ? 'Webhook headers' : 'Request headers'), headerTable(req.headers),
    h('h3', null, hook ? 'Webhook body' : 'Request body'), bodyBlock(req.body),
    h('h3', null, hook ? 'Receiver answered ' : 'Response ', statusPill(e.status, e.error)),
    bodyBlock(resp.body));
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
  results.push(...await Promise.allSettled([loadJournal(), loadSummary(), loadFaults()]));
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
""".replace("__POLL_MS__", str(POLL_MS)).replace("__LIMIT__", str(JOURNAL_LIMIT))

STATUS_CODES = (200, 201, 204, 302, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503)
FAVICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
           "%3Crect width='16' height='16' rx='4' fill='%234f46e5'/%3E%3C/svg%3E")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# Only this page's own script and style run; connections go to this server only.
CSP = ("default-src 'none'; script-src " + _sha256(SCRIPT) + "; style-src " + _sha256(STYLE) +
       "; connect-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")


def render(vendors: Iterable[str]) -> str:
    """The page for these vendors (the journal's vendor filter)."""
    options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in vendors)
    statuses = "".join(f'<option value="{c}">{c}</option>' for c in STATUS_CODES)
    body = BODY.replace("{vendor_options}", options).replace("{status_options}", statuses)
    return ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="referrer" content="no-referrer">\n'
            f'<title>mockserver sandbox</title>\n<link rel="icon" href="{FAVICON}">\n'
            f'<style>{STYLE}</style>\n</head><body>\n{body}<script>{SCRIPT}</script>\n'
            '</body></html>\n')


def page_response(html: str, status: int = 200) -> HTMLResponse:
    # The token may sit in the page's URL (?token=): no referrer carries it elsewhere, and no
    # cache keeps the page.
    return HTMLResponse(html, status, headers={
        "Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
