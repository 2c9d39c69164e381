"""The sandbox page: live journal, tenants, reset and clock controls. One static document."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mockserver sandbox</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;font-family:monospace}
.bad{color:#b00}.ok{color:#070}button{margin-right:.5rem}
section{margin-bottom:1.2rem}#error:empty{display:none}
#error{background:#fee;border:1px solid #b00;padding:.4rem .6rem}
</style></head><body>
<h1>mockserver sandbox</h1>
<section><span id="status">loading ...</span></section>
<section id="error" class="bad" role="alert"></section>
<section><b>Clock:</b> <span id="clock"></span>
 <button onclick="clk({advance:3600})">+1 h</button>
 <button onclick="clk({advance:86400})">+1 day</button>
 <button onclick="clk({real:true})">real time</button>
 <button onclick="act('/__admin/reset',{})">Reset all tenants</button></section>
<section><b>Tenants:</b> <span id="tenants"></span></section>
<section><b>Journal</b> (newest first, <span id="total"></span> entries)
<table><thead><tr><th>time</th><th>tenant</th><th>vendor</th><th>method</th><th>path</th>
<th>status</th><th>ms</th></tr></thead><tbody id="rows"></tbody></table></section>
<script>
const tok = new URLSearchParams(location.search).get('token');
const hdr = tok ? {'X-Admin-Token': tok, 'Content-Type': 'application/json'}
                : {'Content-Type': 'application/json'};
const $ = id => document.getElementById(id);
const esc = s => String(s ?? '').replace(/[&<>]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
// Every admin call: a network error or a non-2xx answer throws, with the server's own message.
async function call(path, body) {
  const init = body === undefined ? {headers: hdr}
                                  : {method: 'POST', headers: hdr, body: JSON.stringify(body)};
  const what = (body === undefined ? 'GET ' : 'POST ') + path;
  let r;
  try { r = await fetch(path, init); }
  catch (e) { throw new Error(what + ': network error (' + e.message + ')'); }
  let data = null;
  try { data = await r.json(); } catch (e) { /* not JSON: reported by status below */ }
  if (!r.ok) throw new Error(what + ': ' + r.status + ' ' +
                             (data && data.error ? data.error : r.statusText));
  return data;
}
// A button's action: a failure stays visible until the next action succeeds.
async function act(path, body) {
  try { await call(path, body); $('error').textContent = ''; }
  catch (e) { $('error').textContent = e.message; }
  await poll();
}
const clk = b => act('/__admin/clock', b);
// frozen: the instant it stands at; real: the offset that advances added.
function clockText(c) {
  if (c.mode === 'frozen') return 'frozen at ' + c.now;
  const off = Math.round((Number(c.offsetSeconds) || 0) * 1000) / 1000;
  return c.now + ' (real time' + (off ? (off > 0 ? ' +' : ' ') + off + ' s' : '') + ')';
}
async function load() {
  const c = await call('/__admin/clock');
  $('clock').textContent = clockText(c);
  const t = await call('/__admin/tenants');
  $('tenants').textContent = t.tenants.map(x => x.id).join(', ');
  // The summary has no headers or bodies, so polling stays cheap with a full journal.
  const j = await call('/__admin/requests?summary=1&limit=200');
  $('total').textContent = j.total;
  $('rows').innerHTML = j.requests.map(r =>
    '<tr><td>' + esc(r.time) + '</td><td>' + esc(r.tenant) + '</td><td>' + esc(r.vendor) +
    (r.kind === 'webhook' ? ' (webhook)' : '') + '</td><td>' + esc(r.method) + '</td><td>' +
    esc(r.kind === 'webhook' ? r.url : r.path + (r.query ? '?' + r.query : '')) +
    '</td><td class="' + (r.status && r.status < 400 ? 'ok' : 'bad') + '">' +
    esc(r.status ?? r.error) + '</td><td>' + esc(r.durationMs) + '</td></tr>').join('');
}
// Never throws: one failed poll (server restarting, say) must not stop the refreshing.
async function poll() {
  try {
    await load();
    $('status').textContent = 'live, refreshing every 2 s';
    $('status').className = 'ok';
  } catch (e) {
    $('status').textContent = 'poll failed, retrying in 2 s: ' + e.message;
    $('status').className = 'bad';
  }
}
// A timeout after each poll, not setInterval: a slow poll never overlaps the next.
function loop() { poll().finally(() => setTimeout(loop, 2000)); }
loop();
</script></body></html>
"""
