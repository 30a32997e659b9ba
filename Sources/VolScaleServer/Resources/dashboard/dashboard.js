const params = new URLSearchParams(location.search);
const key = params.get('key') || '';
const headers = {'Authorization': 'Bearer ' + key};
let assets = [], current = params.get('asset') || null, whatIf = params.get('page') === 'what-if', accountsPage = params.get('page') === 'accounts', accountId = params.get('account');
const series = {};
async function api(path, opts) {
  const r = await fetch(path, Object.assign({headers}, opts || {}));
  if (!r.ok) throw new Error((await r.json()).error?.message || r.statusText);
  return r.json();
}
function pct(x, d) { return x == null ? '–' : (100 * x).toFixed(d ?? 3) + '%'; }
function chart(points, color, fmt) {
  const w = 400, h = 160, l = 46, r = 6, t = 8, b = 18;
  if (!points.length) return '<p class="muted">no data yet</p>';
  const xs = points.map(p => p[0]), ys = points.map(p => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const X = x => l + (w - l - r) * (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5);
  const Y = y => t + (h - t - b) * (y1 > y0 ? 1 - (y - y0) / (y1 - y0) : 0.5);
  let s = `<svg viewBox="0 0 ${w} ${h}" width="100%">`;
  for (let k = 0; k <= 3; k++) { const v = y0 + (y1 - y0) * k / 3; s += `<line x1="${l}" x2="${w - r}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eceef2"/><text x="${l - 4}" y="${Y(v) + 3}" text-anchor="end">${fmt(v)}</text>`; }
  s += `<text x="${l}" y="${h - 4}">${new Date(x0).toISOString().slice(0, 10)}</text><text x="${w - r}" y="${h - 4}" text-anchor="end">${new Date(x1).toISOString().slice(0, 10)}</text>`;
  const step = Math.max(1, Math.floor(points.length / 600));
  const pts = points.filter((_, i) => i % step === 0 || i === points.length - 1).map(p => X(p[0]).toFixed(1) + ',' + Y(p[1]).toFixed(1)).join(' ');
  return s + `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts}"/></svg>`;
}
// one expiry's fitted SVI smile (implied volatility against log-moneyness k = ln(K/F)) over its quotes' bid-ask bars
function smile(e) {
  const w = 300, h = 150, l = 40, r = 6, t = 8, b = 18;
  const ks = (e.quotes || []).map(q => Math.log(q.strike / e.forward));
  const k0 = Math.min(...ks, -0.1) - 0.03, k1 = Math.max(...ks, 0.1) + 0.03;
  const iv = k => { const d = k - e.svi.m; const wv = e.svi.a + e.svi.b * (e.svi.rho * d + Math.sqrt(d * d + e.svi.sigma * e.svi.sigma)); return Math.sqrt(Math.max(wv, 0) / e.years); };
  const curve = Array.from({length: 81}, (_, i) => { const k = k0 + (k1 - k0) * i / 80; return [k, iv(k)]; });
  const two = (e.quotes || []).filter(q => q.bid != null && q.ask != null);
  const vals = curve.map(c => c[1]).concat(two.flatMap(q => [q.bid, q.ask]));
  const y0 = Math.max(0, Math.min(...vals) * 0.9), y1 = Math.max(...vals) * 1.05;
  const X = k => l + (w - l - r) * (k - k0) / (k1 - k0), Y = v => t + (h - t - b) * (1 - (v - y0) / (y1 - y0));
  let s = `<svg viewBox="0 0 ${w} ${h}" width="100%">`;
  for (let j = 0; j <= 3; j++) { const v = y0 + (y1 - y0) * j / 3; s += `<line x1="${l}" x2="${w - r}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eceef2"/><text x="${l - 4}" y="${Y(v) + 3}" text-anchor="end">${(100 * v).toFixed(0)}%</text>`; }
  s += `<text x="${l}" y="${h - 4}">k ${k0.toFixed(2)}</text><text x="${w - r}" y="${h - 4}" text-anchor="end">${k1.toFixed(2)}</text>`;
  for (const q of two) { const k = Math.log(q.strike / e.forward); s += `<line x1="${X(k)}" x2="${X(k)}" y1="${Y(q.bid)}" y2="${Y(q.ask)}" stroke="#9aa3b5" stroke-width="3"/>`; }
  s += `<polyline fill="none" stroke="#2563eb" stroke-width="1.6" points="${curve.map(c => X(c[0]).toFixed(1) + ',' + Y(c[1]).toFixed(1)).join(' ')}"/></svg>`;
  return `<div><h3>${e.expiry.slice(0, 10)} · ${(e.years * 365).toFixed(1)} days</h3>${s}<p class="muted">${e.twoSided} two-sided quotes, ${e.withinBidAsk == null ? '–' : (100 * e.withinBidAsk).toFixed(0) + '%'} fitted inside bid-ask</p></div>`;
}
function surfaceCard(sf) {
  if (!sf) return '';
  return `<div class="card"><h3>Implied volatility surface (latest chain, ${new Date(sf.asOf).toISOString().slice(0, 16)}Z): 30-day model-free index ${pct(sf.impliedVolatility, 1)}, ${sf.arbitrageFree ? 'no static arbitrage' : 'ARBITRAGE in the fit'}</h3>
   <div class="grid">${sf.expiries.map(smile).join('')}</div></div>`;
}
function nav() {
  document.getElementById('nav').innerHTML = assets.map(a => `<a class="${!whatIf && !accountsPage && a.asset === current ? 'on' : ''}" onclick="show('${a.asset}')">${a.asset}</a>`).join('') +
    `<a class="${accountsPage ? 'on' : ''}" onclick="showAccounts()">Accounts</a>` +
    `<a class="${whatIf ? 'on' : ''}" onclick="showWhatIf()">What-if margin</a>`;
}
async function render() {
  nav();
  if (whatIf) return renderWhatIf();
  if (accountsPage) return renderAccounts();
  const a = await api('/v1/assets/' + current);
  const s = series[current] || [];
  const rates = s.rates || [];
  document.getElementById('main').innerHTML = `
  <div class="card"><h2>${a.asset} <span class="${a.status === 'stable' ? 'stable' : 'unstable'}">${a.status}</span>${a.owner ? ` <span class="muted">owned by ${esc(a.owner)}${a.ownerAddress ? ' at ' + esc(a.ownerAddress) : ''}</span>` : ''}</h2>
   <table><tr><th>price</th><th>stable price</th><th>asset / liability valuation</th><th>volatility (per bar)</th><th>implied (annualised)</th><th>bars</th><th>model</th></tr>
   <tr><td>${a.price?.toFixed(5) ?? '–'}</td><td>${a.stablePrice?.toFixed(5) ?? '–'}</td><td>${a.assetPrice?.toFixed(5) ?? '–'} / ${a.liabilityPrice?.toFixed(5) ?? '–'}</td><td>${pct(a.volatility)}</td><td title="${a.impliedAsOf ? 'chain of ' + new Date(a.impliedAsOf).toISOString() : 'no option chain'}">${pct(a.impliedVolatility, 1)}</td><td>${a.bars}</td><td class="muted">${a.model}</td></tr></table></div>
  <div class="grid">
   <div class="card"><h3>Price</h3>${chart(s.prices || [], '#2563eb', v => v.toPrecision(5))}</div>
   <div class="card"><h3>Volatility per bar</h3>${chart(s.vol || [], '#6b4fbb', v => pct(v, 2))}</div>
   <div class="card"><h3>Initial margin rate (long)</h3>${chart(rates, '#d97706', v => pct(v, 1))}</div>
   <div class="card"><h3>Collateral haircut (long)</h3>${chart(s.haircuts || [], '#0f766e', v => pct(v, 1))}</div>
  </div>
  <div class="grid">
   <div class="card" style="grid-column: span 2"><h3>Current parameter set and why</h3><table><tr><th>side</th><th>initial</th><th>maintenance</th><th title="collateral haircut: long = a balance held, short = a borrowed one">haircut</th><th>at price</th><th>set by</th><th>seq</th></tr>
    ${a.rates.map(r => `<tr><td>${r.side}</td><td>${pct(r.new)}</td><td>${pct(r.maintenance)}</td><td>${pct(r.haircut)}</td><td>${r.price?.toPrecision(7) ?? '–'}</td><td>${r.setBy}</td><td>${r.sequence}</td></tr>`).join('')}</table></div>
   <div class="card"><h3>Price sources</h3><table><tr><th>source</th><th>last price</th></tr>
    ${Object.entries(a.sources).map(([k, v]) => `<tr><td>${k}</td><td>${v.toPrecision(7)}</td></tr>`).join('')}</table></div>
   <div class="card"><h3>Live events</h3>${feedHTML()}</div>
  </div>${surfaceCard(s.surface)}`;
}
// the last events of the stream: parameter sets, price status, account status changes
const feed = [];
let rerender;
function feedHTML() {
  return feed.length === 0 ? '<p id="feed" class="muted">waiting for events…</p>' :
    `<table id="feed">${feed.map(e => `<tr><td class="muted">${esc(e.when)}</td><td class="${e.cls || ''}">${esc(e.text)}</td></tr>`).join('')}</table>`;
}
function pushFeed(e) {
  feed.unshift(e);
  if (feed.length > 12) feed.pop();
  const el = document.getElementById('feed');
  if (el) el.outerHTML = feedHTML();
}
// every asset's parameter set: rates and haircuts side by side
async function venueCard() {
  const rates = await api('/v1/rates');
  const by = {};
  for (const r of rates) if (r.asset !== 'policy') (by[r.asset] = by[r.asset] || {})[r.side] = r;
  return `<div class="card"><h2>Parameter sets</h2><table id="venue"><tr><th>asset</th><th>price</th><th>status</th><th>initial long / short</th><th>maintenance long / short</th><th>haircut held / borrowed</th><th>seq</th></tr>
    ${assets.map(a => { const l = (by[a.asset] || {}).long, s = (by[a.asset] || {}).short; return `<tr><td>${esc(a.asset)}</td><td>${l?.price?.toPrecision(7) ?? '–'}</td><td class="${a.status === 'stable' ? 'stable' : 'unstable'}">${a.status}</td>
      <td>${pct(l?.new, 2)} / ${pct(s?.new, 2)}</td><td>${pct(l?.maintenance, 2)} / ${pct(s?.maintenance, 2)}</td><td>${pct(l?.haircut, 2)} / ${pct(s?.haircut, 2)}</td><td>${s?.sequence ?? '–'}</td></tr>`; }).join('')}</table></div>`;
}
function esc(t) { return String(t).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c])); }
function money(x) { return x == null ? '–' : x.toLocaleString('en-US', {maximumFractionDigits: 2}); }
function tree(e) {
  const kids = (e.children || []).map(tree).join('');
  return `<li><b>${esc(e.label)}</b>${e.value != null ? ' ' + money(e.value) : ''}${e.detail ? ` <span class="muted">${esc(e.detail)}</span>` : ''}${kids ? `<ul>${kids}</ul>` : ''}</li>`;
}
const statusClass = s => s === 'healthy' ? 'stable' : 'unstable';
async function renderAccounts() {
  const main = document.getElementById('main');
  const page = await api('/v1/accounts?limit=1000');
  const rows = await Promise.all(page.accounts.map(async a => {
    try { return {a, m: await api('/v1/accounts/' + encodeURIComponent(a.id) + '/margin')}; } catch (e) { return {a, error: e.message}; }
  }));
  let detail = '';
  if (accountId) {
    try {
      const m = await api('/v1/accounts/' + encodeURIComponent(accountId) + '/margin?explain=true');
      const h = await api('/v1/accounts/' + encodeURIComponent(accountId) + '/history?limit=20');
      detail = `<div class="card" id="account-detail"><h2>${esc(accountId)} <span class="${statusClass(m.status)}">${esc(m.status)}</span></h2>
        <ul class="tree">${tree(m.explanation)}</ul>
        <h3>History</h3><table><tr><th>when</th><th>change</th><th>version</th><th>by</th></tr>
        ${h.map(e => `<tr><td>${new Date(e.time).toISOString().replace('T', ' ').slice(0, 19)}</td><td>${e.kind}${e.detail ? ': ' + esc(e.detail) : ''}</td><td>${e.version}</td><td>${esc(e.by)}</td></tr>`).join('')}</table></div>`;
    } catch (e) { detail = `<div class="card"><p class="unstable">${esc(e.message)}</p></div>`; }
  }
  assets = await api('/v1/assets');
  const venue = await venueCard();
  main.innerHTML = venue + `<div class="card"><h2>Accounts</h2><table id="accounts"><tr><th>account</th><th>mode</th><th>equity</th><th>initial margin</th><th>maintenance</th><th title="maintenance margin / equity: 100% or more is liquidatable">margin ratio</th><th>status</th></tr>
    ${rows.map(({a, m, error}) => error ? `<tr><td>${esc(a.id)}</td><td colspan="6" class="unstable">${esc(error)}</td></tr>` :
      `<tr><td><a href="#" onclick="showAccount('${encodeURIComponent(a.id)}');return false">${esc(a.id)}</a></td><td>${m.mode}</td><td>${money(m.equity)}</td><td>${money(m.initialMargin)}</td><td>${money(m.maintenanceMargin)}</td><td>${m.marginRatio == null ? '–' : pct(m.marginRatio, 1)}</td><td class="${statusClass(m.status)}">${m.status}</td></tr>`).join('')}
    </table>${page.next ? '<p class="muted">first 1,000 accounts shown</p>' : ''}</div>${detail}<div class="card"><h3>Live events</h3>${feedHTML()}</div>`;
}
window.showAccounts = () => { accountsPage = true; whatIf = false; accountId = null; render(); };
window.showAccount = id => { accountsPage = true; whatIf = false; accountId = decodeURIComponent(id); render(); };
function renderWhatIf() {
  document.getElementById('main').innerHTML = `<div class="card"><h2>What-if margin</h2>
  <p class="muted">Paste an account (JSON). Mode: <select id="mode"><option>standard</option><option>portfolio</option></select></p>
  <textarea id="acct">{"collateral": {"USD": 60000},\n "positions": [{"instrument": "BTC-PERP", "quantity": 5, "entryPrice": 60500},\n               {"instrument": "ETH-PERP", "quantity": -100, "entryPrice": 2950}]}</textarea>
  <p><button onclick="runWhatIf()">Compute margin</button></p><div id="result"></div></div>`;
}
async function runWhatIf() {
  const out = document.getElementById('result');
  try {
    const body = JSON.parse(document.getElementById('acct').value);
    body.mode = document.getElementById('mode').value; body.explain = true;
    const r = await api('/v1/margin/what-if', {method: 'POST', body: JSON.stringify(body)});
    out.innerHTML = `<table><tr><th>equity</th><th>initial</th><th>maintenance</th><th>free</th><th>status</th></tr>
      <tr><td>${r.equity.toFixed(2)}</td><td>${r.initialMargin.toFixed(2)}</td><td>${r.maintenanceMargin.toFixed(2)}</td><td>${r.freeCollateral.toFixed(2)}</td><td>${r.status}</td></tr></table>
      <pre>${JSON.stringify(r.explanation, null, 1)}</pre>`;
  } catch (e) { out.innerHTML = `<p class="unstable">${e.message}</p>`; }
}
async function load(asset) {
  const h = await api('/v1/assets/' + asset + '/history');
  const r = await api('/v1/rates/' + asset + '/history?limit=4000');
  series[asset] = {prices: h.map(p => [p.t, p.price]), vol: h.filter(p => p.sigma != null).map(p => [p.t, p.sigma]),
                   rates: r.filter(p => p.side === 'long').map(p => [p.time, p.new]),
                   haircuts: r.filter(p => p.side === 'long' && p.haircut != null).map(p => [p.time, p.haircut]),
                   surface: await api('/v1/assets/' + asset + '/surface').catch(() => null)};
}
window.show = async a => { current = a; whatIf = false; accountsPage = false; if (!series[a]) await load(a); render(); };
window.showWhatIf = () => { whatIf = true; accountsPage = false; render(); };
(async () => {
  try {
    assets = await api('/v1/assets');
    current = current || assets[0]?.asset;
    await load(current);
    render();
    if (params.get('stream') === '0') return; // static view (headless screenshots)
    const es = new EventSource('/v1/stream?key=' + encodeURIComponent(key));
    es.addEventListener('publication', ev => {
      const p = JSON.parse(ev.data);
      document.getElementById('live').textContent = 'live · seq ' + p.sequence;
      const s = series[p.asset];
      if (s && p.side === 'long') { s.rates.push([p.time, p.new]); if (p.haircut != null) s.haircuts.push([p.time, p.haircut]); }
      if (p.side === 'short') pushFeed({when: 'seq ' + p.sequence, text: `${p.asset} ${pct(p.new, 2)} initial, haircut ${pct(p.haircut, 2)} at ${p.price?.toPrecision(6) ?? '–'}`});
      if (p.asset === current && !whatIf && !accountsPage && p.side === 'short') {
        api('/v1/assets/' + p.asset + '/history').then(h => { if (s) { s.prices = h.map(q => [q.t, q.price]); s.vol = h.filter(q => q.sigma != null).map(q => [q.t, q.sigma]); } render(); });
      }
    });
    es.addEventListener('status', ev => {
      const e = JSON.parse(ev.data);
      document.getElementById('live').textContent = `status: ${e.asset} ${e.status}`;
      pushFeed({when: new Date(e.time).toISOString().slice(11, 19), text: `${e.asset} is ${e.status}`, cls: e.status === 'stable' ? 'stable' : 'unstable'});
    });
    es.addEventListener('account', ev => {
      const e = JSON.parse(ev.data);
      pushFeed({when: 'seq ' + e.sequence, text: `account ${e.account}: ${e.old ?? '–'} → ${e.new}` + (e.marginRatio != null ? ` (ratio ${pct(e.marginRatio, 1)})` : ''), cls: statusClass(e.new)});
      if (accountsPage) { clearTimeout(rerender); rerender = setTimeout(render, 500); }
    });
  } catch (e) {
    document.getElementById('main').innerHTML = `<div class="card"><p class="unstable">${e.message}</p><p>Open this page with ?key=YOUR_READ_KEY (printed by volscale serve).</p></div>`;
  }
})();
