"""The sandbox page: live journal, tenants, reset and clock controls. One static document."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mockserver sandbox</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;font-family:monospace}
.bad{color:#b00}.ok{color:#070}button{margin-right:.5rem}
section{margin-bottom:1.2rem}
</style></head><body>
<h1>mockserver sandbox</h1>
<section><b>Clock:</b> <span id="clock"></span>
 <button onclick="clk({advance:3600})">+1 h</button>
 <button onclick="clk({advance:86400})">+1 day</button>
 <button onclick="clk({real:true})">real time</button>
 <button onclick="post('/__admin/reset',{}).then(load)">Reset all tenants</button></section>
<section><b>Tenants:</b> <span id="tenants"></span></section>
<section><b>Journal</b> (newest first, <span id="total"></span> entries)
<table><thead><tr><th>time</th><th>tenant</th><th>vendor</th><th>method</th><th>path</th>
<th>status</th><th>ms</th></tr></thead><tbody id="rows"></tbody></table></section>
<script>
const tok = new URLSearchParams(location.search).get('token');
const hdr = tok ? {'X-Admin-Token': tok, 'Content-Type': 'application/json'}
                : {'Content-Type': 'application/json'};
const get = p => fetch(p, {headers: hdr}).then(r => r.json());
const post = (p, b) => fetch(p, {method: 'POST', headers: hdr, body: JSON.stringify(b)});
const clk = b => post('/__admin/clock', b).then(load);
const esc = s => String(s ?? '').replace(/[&<>]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
async function load() {
  const c = await get('/__admin/clock');
  document.getElementById('clock').textContent = c.now + ' (' + c.mode + ')';
  const t = await get('/__admin/tenants');
  document.getElementById('tenants').textContent = t.tenants.map(x => x.id).join(', ');
  const j = await get('/__admin/requests?limit=200');
  document.getElementById('total').textContent = j.total;
  document.getElementById('rows').innerHTML = j.requests.map(r =>
    '<tr><td>' + esc(r.time) + '</td><td>' + esc(r.tenant) + '</td><td>' + esc(r.vendor) +
    (r.kind === 'webhook' ? ' (webhook)' : '') + '</td><td>' + esc(r.method) + '</td><td>' +
    esc(r.kind === 'webhook' ? r.url : r.path + (r.query ? '?' + r.query : '')) +
    '</td><td class="' + (r.status && r.status < 400 ? 'ok' : 'bad') + '">' +
    esc(r.status ?? r.error) + '</td><td>' + esc(r.durationMs) + '</td></tr>').join('');
}
load(); setInterval(load, 2000);
</script></body></html>
"""
