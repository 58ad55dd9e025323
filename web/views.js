/*
 * gmq admin page: rendering each view from the state (overview with its
 * rate chart, topics, one topic with its queues and config form, dead
 * letters, workers, cluster). The DOM is updated in place (rows kept by key,
 * text set only when it changed), so refreshing never flickers or disturbs
 * a form being edited.
 */
import { $, setText, fmtNum, fmtRate, fmtBytes, fmtDuration, fmtTime, fillFacts, el, button, syncRows,
         syncOptions, svg } from './dom.js';
import { REFRESH_MS, HISTORY, SPARK, DEAD_LIMIT, state, refreshNow } from './state.js';
import { purgeQueue, deleteQueue, restartWorker, requeueDead } from './actions.js';

export function render() {
  if (state.authNeeded)
    return;
  renderHeader();
  renderTopicNames();
  switch (state.view) {
  case 'overview': renderOverview(); break;
  case 'topics': renderTopics(); break;
  case 'topic': renderTopic(); break;
  case 'dead': renderDead(); break;
  case 'workers': renderWorkers(); break;
  case 'cluster': renderCluster(); break;
  default: break;
  }
}

function renderHeader() {
  const n = state.node;
  if (!n)
    return;
  setText($('hdr-node'), 'node ' + n.node_id + ' · v' + n.version + ' · ' + location.host);
  $('logout').hidden = !state.token;
}

function renderTopicNames() {
  const dl = $('topic-names');
  const names = state.topics.map((s) => s.name).sort();
  const cur = Array.from(dl.options).map((o) => o.value);
  if (cur.join('\n') === names.join('\n'))
    return;
  dl.replaceChildren(...names.map((name) => {
    const o = document.createElement('option');
    o.value = name;
    return o;
  }));
}

function totals() {
  const t = { topics: state.topics.length, queues: 0, ready: 0, in_flight: 0, delayed: 0, dead: 0,
              pushed: 0, delivered: 0, acked: 0 };
  for (const s of state.topics) {
    t.queues += s.queue_num || 0;
    t.ready += s.queue_msg_num || 0;
    t.in_flight += s.wait_ack_num || 0;
    t.delayed += s.delay_num || 0;
    t.dead += s.dead_num || 0;
    t.pushed += s.push_num || 0;
    t.delivered += s.pop_num || 0;
    t.acked += s.acked_num || 0;
  }
  return t;
}

function renderOverview() {
  const n = state.node;
  if (n) {
    const e = n.etcd || {};
    let etcd = 'standalone (no etcd_endpoints)';
    if (e.state && e.state !== 'disabled') {
      etcd = (n.etcd_registered ? 'registered as ' + e.key : e.state) + ' at ' + e.endpoint;
      if (e.last_error)
        etcd += ' (last error: ' + e.last_error + ')';
    }
    fillFacts($('node-facts'), {
      node_id: n.node_id,
      version: n.version,
      uptime: fmtDuration(n.uptime_s),
      started: fmtTime(n.started_ms),
      tcp: n.tcp_addr + (n.tcp_tls ? ' (TLS)' : ' (plain text)'),
      http: n.http_addr + (n.http_tls ? ' (TLS)' : ' (plain text)'),
      fsync: n.fsync,
      auth: n.auth ? 'on (auth_token set)' : 'off',
      etcd: etcd,
    });
  }
  if (state.statsLoaded) {
    const t = totals();
    const f = {};
    for (const k of Object.keys(t))
      f[k] = fmtNum(t[k]);
    fillFacts($('totals'), f);
  }
  const r = state.totalRates;
  for (const strong of $('rate-legend').querySelectorAll('strong[data-f]'))
    setText(strong, r ? fmtRate(r[strong.dataset.f]) : '–');
  drawChart();
}

/* the largest of 1, 2, 5 x 10^k at or above v */
function niceMax(v) {
  if (!(v > 0))
    return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10])
    if (m * p >= v)
      return m * p;
  return 10 * p;
}

function drawChart() {
  const chart = $('rate-chart');
  /* drawn in CSS pixels of its current width: crisp lines, text of one size */
  const W = Math.max(280, Math.round(chart.getBoundingClientRect().width) || 640);
  const H = 220, L = 46, R = 8, T = 10, B = 24;
  const vb = '0 0 ' + W + ' ' + H;
  if (chart.getAttribute('viewBox') !== vb)
    chart.setAttribute('viewBox', vb);
  const span = HISTORY * REFRESH_MS;
  const h = state.history;
  let max = 0;
  for (const s of h)
    max = Math.max(max, s.push, s.deliver, s.ack);
  max = niceMax(max);
  const grid = chart.querySelector('.grid');
  if (grid.dataset.max !== max + '/' + W) {
    grid.dataset.max = max + '/' + W;
    grid.replaceChildren();
    for (let i = 0; i <= 4; i++) {
      const y = T + (H - T - B) * (1 - i / 4);
      grid.append(svg('line', { x1: L, x2: W - R, y1: y, y2: y }));
      const label = svg('text', { x: L - 6, y: y + 4, 'text-anchor': 'end' });
      label.textContent = fmtRate(max * i / 4);
      grid.append(label);
    }
    for (let m = 0; m <= 5; m++) {
      if (W < 420 && m % 2 === 1 && m !== 5)
        continue;                 /* narrow: every other minute */
      const x = L + (W - L - R) * (1 - m / 5);
      const label = svg('text', { x: x, y: H - 6, 'text-anchor': m === 0 ? 'end' : 'middle' });
      label.textContent = m === 0 ? 'now' : '−' + m + ' min';
      grid.append(label);
    }
  }
  const now = h.length ? h[h.length - 1].t : Date.now();
  const x = (t) => (L + (W - L - R) * (1 - (now - t) / span)).toFixed(1);
  const y = (v) => (T + (H - T - B) * (1 - v / max)).toFixed(1);
  for (const k of ['push', 'deliver', 'ack']) {
    const pts = h.filter((s) => now - s.t <= span).map((s) => x(s.t) + ',' + y(s[k])).join(' ');
    const line = chart.querySelector('.line.s-' + k);
    if (line.getAttribute('points') !== pts)
      line.setAttribute('points', pts);
  }
  const r = state.totalRates;
  chart.setAttribute('aria-label', 'Push, deliver and ack rates over the last 5 minutes' +
    (r ? ': now ' + fmtRate(r.push) + ', ' + fmtRate(r.deliver) + ' and ' + fmtRate(r.ack) + ' per second' : ''));
}

function topicRow(s) {
  const r = state.rates.get(s.name);
  return {
    name: s.name,
    queues: s.queue_num || 0,
    ready: s.queue_msg_num || 0,
    in_flight: s.wait_ack_num || 0,
    delayed: s.delay_num || 0,
    dead: s.dead_num || 0,
    push_rate: r ? r.push : -1,
    deliver_rate: r ? r.deliver : -1,
    ack_rate: r ? r.ack : -1,
    auto_ack: s.is_auto_ack ? 'on' : 'off',
  };
}

export function renderTopics() {
  const f = state.filter.toLowerCase();
  const rows = state.topics.map(topicRow).filter((r) => !f || r.name.toLowerCase().includes(f));
  const { key, dir } = state.sort;
  rows.sort((a, b) => {
    const x = a[key], y = b[key];
    const c = typeof x === 'string' ? x.localeCompare(y) : x - y;
    return (c || a.name.localeCompare(b.name)) * (c ? dir : 1);
  });
  for (const th of $('topics-table').querySelectorAll('th[data-sort]')) {
    if (th.dataset.sort === key)
      th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
    else
      th.removeAttribute('aria-sort');
  }
  const tbody = $('topics-table').tBodies[0];
  syncRows(tbody, rows, (r) => r.name, buildTopicRow, updateTopicRow);
  const empty = $('topics-empty');
  empty.hidden = !state.statsLoaded || state.topics.length > 0;
}

function buildTopicRow(r) {
  const tr = document.createElement('tr');
  const name = el('td');
  const a = el('a', '', r.name);
  a.href = '#topic/' + encodeURIComponent(r.name);
  name.append(a);
  tr.append(name);
  for (const k of ['queues', 'ready', 'in_flight', 'delayed', 'dead', 'push_rate', 'deliver_rate', 'ack_rate']) {
    const td = el('td', 'num');
    td.dataset.f = k;
    tr.append(td);
  }
  const sp = el('td');
  const s = svg('svg', { class: 'spark', viewBox: '0 0 100 24', preserveAspectRatio: 'none',
                         role: 'img' });
  s.append(svg('polyline', { points: '' }));
  sp.append(s);
  tr.append(sp);
  const aa = el('td');
  aa.dataset.f = 'auto_ack';
  tr.append(aa);
  return tr;
}

function updateTopicRow(tr, r) {
  for (const td of tr.querySelectorAll('td[data-f]')) {
    const k = td.dataset.f;
    const v = r[k];
    setText(td, k.endsWith('_rate') ? (v < 0 ? '–' : fmtRate(v)) : k === 'auto_ack' ? v : fmtNum(v));
  }
  const a = state.spark.get(r.name) || [];
  const s = tr.querySelector('svg.spark');
  const max = Math.max(1, ...a);
  const pts = a.map((v, i) => (100 * (i + SPARK - a.length) / (SPARK - 1)).toFixed(1) + ',' +
                              (22 - 20 * v / max).toFixed(1)).join(' ');
  const pl = s.firstChild;
  if (pl.getAttribute('points') !== pts)
    pl.setAttribute('points', pts);
  s.setAttribute('aria-label', 'ready messages of ' + r.name + ', last 2 minutes: from ' +
                 (a.length ? a[0] : 0) + ' to ' + (a.length ? a[a.length - 1] : 0) + ', at most ' +
                 Math.max(0, ...a));
}

function renderTopic() {
  const name = state.topic;
  setText($('topic-title'), 'Topic ' + name);
  const s = state.topicByName.get(name);
  const missing = $('topic-missing');
  if (!s) {
    $('topic-body').hidden = state.statsLoaded;
    missing.hidden = !state.statsLoaded;
    setText(missing, 'Topic ' + name + ' does not exist on this node, or its worker does not answer ' +
            '(see Workers).');
    return;
  }
  missing.hidden = true;
  $('topic-body').hidden = false;
  const q = s.queues || [];
  const sum = (k) => q.reduce((a, x) => a + (x[k] || 0), 0);
  fillFacts($('topic-facts'), {
    ready: fmtNum(s.queue_msg_num), in_flight: fmtNum(s.wait_ack_num), delayed: fmtNum(s.delay_num),
    dead: fmtNum(s.dead_num), pushed: fmtNum(s.push_num), delivered: fmtNum(s.pop_num),
    acked: fmtNum(s.acked_num), timed_out: fmtNum(s.timeout_num !== undefined ? s.timeout_num : sum('timed_out')),
    auto_ack: s.is_auto_ack ? 'on' : 'off',
    mode: { 1: '1 (exact)', 2: '2 (regex)', 3: '3 (topic wildcards)' }[s.mode] || s.mode,
    ttr: s.msg_ttr !== undefined ? s.msg_ttr + ' s' : '–',
    retry: s.msg_retry, bytes: fmtBytes(s.bytes_on_disk), start_time: s.start_time,
  });
  syncRows($('queues-table').tBodies[0], q, (x) => x.bind_key, buildQueueRow, updateQueueRow);
  fillConfig(s, false);
}

function buildQueueRow(x) {
  const tr = document.createElement('tr');
  tr.append(el('td', '', x.bind_key));
  for (const k of ['ready', 'in_flight', 'delayed', 'dead', 'pushed', 'popped', 'acked', 'timed_out']) {
    const td = el('td', 'num');
    td.dataset.f = k;
    tr.append(td);
  }
  const td = el('td');
  const box = el('div', 'row-actions');
  const bk = x.bind_key;
  box.append(
    button('Purge…', 'small danger-btn', () => purgeQueue(state.topic, bk)),
    button('Delete…', 'small danger-btn', () => deleteQueue(state.topic, bk)),
    button('Dead letters', 'small', () => {
      state.dead.topic = state.topic;
      state.dead.bk = bk;
      state.dead.items = null;
      location.hash = '#dead';
    }));
  for (const b of box.children)
    b.setAttribute('aria-label', b.textContent.replace('…', '') + ' queue ' + bk);
  td.append(box);
  tr.append(td);
  return tr;
}

function updateQueueRow(tr, x) {
  for (const td of tr.querySelectorAll('td[data-f]'))
    setText(td, fmtNum(x[td.dataset.f]));
}

/* the config form shows the topic's settings, unless the user is editing it */
export function fillConfig(s, force) {
  const form = $('config-form');
  if (!force && state.configFor === s.name && (state.configDirty || form.contains(document.activeElement)))
    return;
  $('cfg-autoack').value = s.is_auto_ack ? '1' : '0';
  $('cfg-mode').value = String(s.mode || 1);
  $('cfg-ttr').value = s.msg_ttr !== undefined ? s.msg_ttr : '';
  $('cfg-retry').value = s.msg_retry !== undefined ? s.msg_retry : '';
  state.configFor = s.name;
  state.configDirty = false;
}

export function renderDead() {
  const d = state.dead;
  const before = d.topic + '/' + d.bk;
  const names = state.topics.map((s) => s.name).sort();
  if (!d.topic && names.length)
    d.topic = names[0];
  syncOptions($('dead-topic'), names);
  if (names.includes(d.topic))
    $('dead-topic').value = d.topic;
  const s = state.topicByName.get(d.topic);
  const bks = s && s.queues ? s.queues.map((q) => q.bind_key) : [];
  if (!bks.includes(d.bk))
    d.bk = bks.length ? bks[0] : '';
  const labels = s && s.queues ? s.queues.map((q) => q.bind_key + ' (' + q.dead + ' dead)') : [];
  syncOptions($('dead-bk'), bks, labels);
  if (d.bk)
    $('dead-bk').value = d.bk;
  if (d.topic + '/' + d.bk !== before && d.topic && d.bk) {
    d.items = null;
    refreshNow();               /* a queue was chosen for the user: list it now */
  }
  const q = s && s.queues ? s.queues.find((x) => x.bind_key === d.bk) : null;
  const items = Array.isArray(d.items) ? d.items : [];
  let summary = 'No topic yet.';
  if (s && !q)
    summary = 'Topic ' + d.topic + ' has no queue.';
  else if (q)
    summary = q.dead + ' dead letter' + (q.dead === 1 ? '' : 's') + ' in queue ' + d.bk + ' of topic ' +
              d.topic + (q.dead > DEAD_LIMIT ? ' (the oldest ' + DEAD_LIMIT + ' are listed)' : '') + '.';
  setText($('dead-summary'), summary);
  $('kick-one').disabled = $('kick-all').disabled = !q;
  syncRows($('dead-table').tBodies[0], d.items ? items : [], (m) => m.id, buildDeadRow, updateDeadRow);
  $('dead-empty').hidden = !(Array.isArray(d.items) && items.length === 0 && q);
}

function buildDeadRow(m) {
  const tr = document.createElement('tr');
  tr.append(el('td', '', m.id));
  const rc = el('td', 'num');
  rc.dataset.f = 'retry_count';
  const pushed = el('td');
  pushed.dataset.f = 'pushed';
  const body = el('td', 'wrap');
  body.dataset.f = 'body';
  const act = el('td');
  const id = m.id;
  const b = button('Requeue', 'small', () => requeueDead(id));
  b.setAttribute('aria-label', 'Requeue dead letter ' + id);
  act.append(b);
  tr.append(rc, pushed, body, act);
  return tr;
}

function updateDeadRow(tr, m) {
  setText(tr.querySelector('[data-f="retry_count"]'), m.retry_count);
  setText(tr.querySelector('[data-f="pushed"]'), fmtTime(m.pushed_at));
  const body = String(m.body);
  setText(tr.querySelector('[data-f="body"]'), body.length > 200 ? body.slice(0, 200) + '…' : body);
}

function renderWorkers() {
  const ws = Array.isArray(state.workers) ? state.workers : [];
  const procs = new Map();
  const ds = state.dstats;
  if (ds && Array.isArray(ds.processes))
    for (const p of ds.processes)
      procs.set(p.pid, p);
  const now = state.node ? state.node.now_ms : Date.now();
  const rows = ws.map((w) => ({ w: w, p: procs.get(w.pid), up: w.pid > 0 && w.started_ms ? (now - w.started_ms) / 1000 : -1 }));
  rows.sort((a, b) => a.w.topic.localeCompare(b.w.topic) || a.w.pid - b.w.pid);
  syncRows($('workers-table').tBodies[0], rows, (r) => r.w.topic + ':' + r.w.pid, buildWorkerRow, updateWorkerRow);
  $('workers-empty').hidden = !(state.workers && ws.length === 0);
  const m = ds && Array.isArray(ds.processes) ? ds.processes.find((p) => p.role === 'master') : null;
  setText($('master-proc'), m ? 'Master: pid ' + m.pid + ', RSS ' + fmtBytes(m.rss_bytes) + ', ' + m.fds +
          ' open descriptors, CPU ' + m.cpu_seconds + ' s; ' + ds.connections + ' client connections, loop lag ' +
          ds.loop_lag_ms + ' ms.' : '');
}

function buildWorkerRow(r) {
  const tr = document.createElement('tr');
  const topic = el('td');
  const a = el('a', '', r.w.topic);
  a.href = '#topic/' + encodeURIComponent(r.w.topic);
  topic.append(a);
  tr.append(topic);
  for (const [k, cls] of [['pid', 'num'], ['state', ''], ['restarts', 'num'], ['last_exit', 'wrap'],
                          ['uptime', 'num'], ['rss', 'num']]) {
    const td = el('td', cls);
    td.dataset.f = k;
    tr.append(td);
  }
  const act = el('td');
  const t = r.w.topic, pid = r.w.pid;
  const b = button('Restart…', 'small danger-btn', () => restartWorker(t, pid));
  b.setAttribute('aria-label', 'Restart the worker of topic ' + t);
  act.append(b);
  tr.append(act);
  return tr;
}

function updateWorkerRow(tr, r) {
  const w = r.w;
  const v = {
    pid: w.pid > 0 ? w.pid : '–', state: w.state, restarts: w.restarts, last_exit: w.last_exit || '–',
    uptime: fmtDuration(r.up), rss: r.p ? fmtBytes(r.p.rss_bytes) : '–',
  };
  for (const td of tr.querySelectorAll('td[data-f]'))
    setText(td, v[td.dataset.f]);
  tr.querySelector('button').disabled = w.state === 'stopping' || w.state === 'stopped';
}

function renderCluster() {
  const c = state.cluster;
  const st = $('cluster-state');
  if (!c) {
    setText(st, 'Reading the registrations from etcd…');
    return;
  }
  if (c.etcd === 'disabled') {
    setText(st, 'This node runs standalone: etcd_endpoints is empty, so there is no cluster to show.');
    $('cluster-wrap').hidden = true;
    return;
  }
  $('cluster-wrap').hidden = false;
  const nodes = (c.nodes || []).slice().sort((a, b) => Number(a.node_id) - Number(b.node_id) ||
                                                 a.key.localeCompare(b.key));
  setText(st, nodes.length + ' node' + (nodes.length === 1 ? '' : 's') + ' registered in etcd (revision ' +
          c.revision + '); this node is ' + c.etcd + ' as ' + c.self + '.');
  syncRows($('cluster-table').tBodies[0], nodes, (n) => n.key, buildNodeRow, updateNodeRow);
}

function buildNodeRow() {
  const tr = document.createElement('tr');
  for (const [k, cls] of [['node_id', 'num'], ['tcp_addr', ''], ['http_addr', ''], ['weight', 'num'],
                          ['version', ''], ['started_at', ''], ['lease', 'num'], ['health', '']]) {
    const td = el('td', cls);
    td.dataset.f = k;
    tr.append(td);
  }
  const a = el('a');
  a.rel = 'noopener noreferrer';
  a.target = '_blank';
  tr.querySelector('[data-f="http_addr"]').append(a);
  const badge = el('span', 'badge');
  tr.querySelector('[data-f="health"]').append(badge);
  return tr;
}

function updateNodeRow(tr, n) {
  setText(tr.querySelector('[data-f="node_id"]'), n.node_id + (n.self ? ' (this node)' : ''));
  setText(tr.querySelector('[data-f="tcp_addr"]'), n.tcp_addr || '–');
  const a = tr.querySelector('[data-f="http_addr"] a');
  setText(a, n.http_addr || '–');
  const href = n.http_addr ? location.protocol + '//' + n.http_addr + '/' : '';
  if (a.getAttribute('href') !== href)
    a.setAttribute('href', href);
  setText(tr.querySelector('[data-f="weight"]'), n.weight);
  setText(tr.querySelector('[data-f="version"]'), n.version || '–');
  setText(tr.querySelector('[data-f="started_at"]'), n.started_at || n.join_time || '–');
  setText(tr.querySelector('[data-f="lease"]'), n.ttl === null || n.ttl === undefined ? '–' :
          n.ttl + ' of ' + n.granted_ttl + ' s');
  const badge = tr.querySelector('.badge');
  setText(badge, n.health);
  const cls = 'badge ' + (n.health === 'up' ? 'good' : n.health === 'late' || n.health === 'no lease' ? 'warn' : 'bad');
  if (badge.className !== cls)
    badge.className = cls;
}
