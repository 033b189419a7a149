// clusterd dashboard: live rows over server-sent events, actions as plain POSTs.
// Rows are updated in place, keyed by node (and watcher), so a click is never lost to a redraw.
'use strict';
const page = document.body.dataset;
const one = (sel, root = document) => root.querySelector(sel);
let token = sessionStorage.getItem('clusterd-token') || '';
if (page.token === 'true' && !token) {
  token = prompt('clusterd http_token') || '';
  sessionStorage.setItem('clusterd-token', token);
}
const mine = (node) => !page.node || node === page.node;
const pct = (v) => v.toFixed(1) + ' %';
function bytes(v) {
  if (!v) return '-';
  if (v >= 2 ** 30) return (v / 2 ** 30).toFixed(1) + ' GiB';
  if (v >= 2 ** 20) return (v / 2 ** 20).toFixed(1) + ' MiB';
  return (v / 1024).toFixed(0) + ' KiB';
}
function spark(history) {
  if (!history.length) return '';
  const max = Math.max(1, ...history.map((h) => h[0]));
  const pts = history.map((h, i) => `${(i * 120 / 59).toFixed(1)},${(20 - h[0] / max * 18).toFixed(1)}`);
  return `<svg width="120" height="20" viewBox="0 0 120 20"><polyline fill="none" stroke="currentColor" points="${pts.join(' ')}"/></svg>`;
}
function upsert(table, template, key, cls, fields) {
  const body = one(`#${table} tbody`);
  if (!body) return;
  let row = [...body.rows].find((r) => r.dataset.key === key);
  if (!row) {
    row = one(`#${template}`).content.firstElementChild.cloneNode(true);
    row.dataset.key = key;
    const after = [...body.rows].find((r) => r.dataset.key > key);
    body.insertBefore(row, after || null);
  }
  row.className = cls;
  for (const [field, value] of Object.entries(fields)) {
    const cell = one(`[data-field="${field}"]`, row);
    if (field === 'spark') { if (cell.innerHTML !== value) cell.innerHTML = value; }
    else if (cell.textContent !== String(value)) cell.textContent = value;
  }
  return row;
}
function node(n) {
  if (!mine(n.name)) return;
  const row = upsert('nodes', 'node-row', n.name, `state-${n.state}`, {
    name: n.name, state: n.state, rtt: n.rtt_ms == null ? '-' : n.rtt_ms.toFixed(1) + ' ms',
    last_seen: n.last_seen == null ? '-' : new Date(n.last_seen * 1000).toLocaleTimeString(),
    pid: n.circusd_pid ?? '-', tags: n.tags.join(', '), cpu: pct(n.cpu), mem: bytes(n.mem_bytes), spark: spark(n.history),
  });
  if (row) one('[data-field="name"]', row).href = `/nodes/${n.name}`;
}
const procs = new Map();
function watcher(w) {
  if (!mine(w.node)) return;
  upsert('watchers', 'watcher-row', `${w.node}/${w.watcher}`, `status-${w.status || 'unknown'}`, {
    node: w.node, watcher: w.watcher, status: w.status || '?',
    processes: w.processes ?? '-', cpu: pct(w.cpu), mem: bytes(w.mem_bytes),
  });
  procs.set(w.watcher, w.pids);
  const body = one('#procs tbody');
  if (body) { // the process table has no buttons: rebuilt whole
    body.innerHTML = '';
    for (const [name, pids] of procs) for (const p of pids) {
      const tr = body.insertRow();
      for (const v of [name, p.pid, pct(p.cpu), bytes(p.mem_bytes), `${p.age.toFixed(0)} s`]) tr.insertCell().textContent = v;
    }
  }
}
function remove(r) {
  const [table, key] = r.watcher ? ['watchers', `${r.node}/${r.watcher}`] : ['nodes', r.node];
  [...(one(`#${table} tbody`)?.rows || [])].filter((row) => row.dataset.key === key).forEach((row) => row.remove());
  if (r.watcher) procs.delete(r.watcher);
}
function feed(e) {
  if (!mine(e.node)) return;
  const li = document.createElement('li');
  li.textContent = `${new Date(e.time * 1000).toLocaleTimeString()} ${e.node}${e.watcher ? ':' + e.watcher : ''} ${e.event}`;
  const list = one('#events');
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}
function connect() {
  const es = new EventSource('/api/events' + (token ? '?token=' + encodeURIComponent(token) : ''));
  const conn = one('#conn');
  es.addEventListener('snapshot', (m) => {
    const s = JSON.parse(m.data);
    conn.textContent = 'live'; conn.className = 'live';
    const nodes = new Set(s.nodes.map((n) => n.name));
    const watchers = new Set(s.watchers.map((w) => `${w.node}/${w.watcher}`));
    [...one('#nodes tbody').rows].filter((r) => !nodes.has(r.dataset.key)).forEach((r) => r.remove());
    [...one('#watchers tbody').rows].filter((r) => !watchers.has(r.dataset.key)).forEach((r) => r.remove());
    procs.clear();
    s.nodes.forEach(node); s.watchers.forEach(watcher);
    one('#events').innerHTML = ''; s.events.forEach(feed);
  });
  es.addEventListener('node', (m) => node(JSON.parse(m.data)));
  es.addEventListener('watcher', (m) => watcher(JSON.parse(m.data)));
  es.addEventListener('remove', (m) => remove(JSON.parse(m.data)));
  es.addEventListener('event', (m) => feed(JSON.parse(m.data)));
  es.onerror = () => {
    conn.textContent = 'reconnecting…'; conn.className = '';
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
  };
}
// The log pane: one watcher's output on one node, from /api/logs (history, then live lines);
// closing it ends the stream, and with it the master's subscription to that node's output.
let logStream = null;
function closeLog() {
  if (logStream) logStream.close();
  logStream = null;
  one('#log-pane').hidden = true;
  document.body.style.paddingBottom = '';
}
function openLog(node, watcher) {
  closeLog();
  const pane = one('#log-pane');
  const lines = one('#log-lines');
  one('#log-title').textContent = `${node}:${watcher}`;
  lines.textContent = '';
  pane.hidden = false;
  // The pane floats over the page's bottom: room is made so nothing stays hidden under it.
  document.body.style.paddingBottom = `${pane.offsetHeight}px`;
  const query = `node=${encodeURIComponent(node)}&watcher=${encodeURIComponent(watcher)}`;
  const url = `/api/logs?${query}` + (token ? '&token=' + encodeURIComponent(token) : '');
  const es = new EventSource(url);
  logStream = es;
  const add = (text, cls) => {
    const div = document.createElement('div');
    div.textContent = text;
    if (cls) div.className = cls;
    lines.append(div);
    while (lines.children.length > 1000) lines.firstChild.remove();
    lines.scrollTop = lines.scrollHeight;
  };
  es.addEventListener('line', (m) => {
    const l = JSON.parse(m.data);
    add(`${new Date(l.time * 1000).toLocaleTimeString()} [${l.pid ?? '-'}] ${l.line}`, l.stream);
  });
  es.addEventListener('notice', (m) => add(m.data, 'notice'));
  es.onerror = async () => {
    if (es.readyState !== EventSource.CLOSED || logStream !== es) return;
    // Refused (no log feed, unknown node): EventSource hides the reply, so ask again for it.
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const reply = await fetch(`/api/logs?${query}`, { headers }).catch(() => null);
    add(reply && reply.status !== 200 ? `HTTP ${reply.status}: ${(await reply.json()).reason}` : 'log stream ended', 'notice');
  };
}
document.addEventListener('click', async (ev) => {
  if (ev.target.closest('#log-close')) { closeLog(); return; }
  const log = ev.target.closest('button[data-log]');
  if (log) {
    const [node, watcher] = (log.closest('tr')?.dataset.key || '').split('/');
    openLog(node, watcher);
    return;
  }
  const button = ev.target.closest('button[data-action]');
  if (!button) return;
  const { action, scope } = button.dataset;
  const key = button.closest('tr')?.dataset.key || '';
  const [rowNode, rowWatcher] = key.split('/');
  let url;
  if (scope === 'node') url = `/api/nodes/${encodeURIComponent(rowNode)}/watchers/${encodeURIComponent(rowWatcher)}/${action}`;
  else if (scope === 'all') url = `/api/watchers/${encodeURIComponent(rowWatcher)}/${action}`;
  else url = `/api/watchers/${encodeURIComponent(one('#set-watcher').value.trim())}/${action}?nodes=${encodeURIComponent(one('#set-nodes').value.trim())}`;
  const out = one('#outcome');
  out.textContent = `${action}…`;
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  try {
    const reply = await fetch(url, { method: 'POST', headers });
    out.textContent = `${action}: HTTP ${reply.status}\n` + JSON.stringify(await reply.json(), null, 1);
  } catch (err) {
    out.textContent = `${action}: ${err}`;
  }
});
// A wrong token would leave the event stream retrying for ever (EventSource never shows the
// status): ask once with it, and on 401 forget it and say so, so that a reload asks again.
async function start() {
  if (page.token === 'true') {
    const probe = await fetch('/api/nodes', { headers: { Authorization: `Bearer ${token}` } }).catch(() => null);
    if (probe && probe.status === 401) {
      sessionStorage.removeItem('clusterd-token');
      const conn = one('#conn');
      conn.textContent = 'token refused: reload the page to type http_token again';
      conn.className = 'refused';
      return;
    }
  }
  connect();
}
start();
