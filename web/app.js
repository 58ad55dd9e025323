/*
 * gmq admin page. Reads the node's HTTP API (docs/http-api.md) every 2 s and
 * calls it for actions; plain JavaScript, no framework, no outside origin.
 * The DOM is updated in place (rows kept by key, text set only when it
 * changed), so refreshing never flickers or disturbs a form being edited.
 * Every text from the node is set with textContent, never parsed as HTML.
 */
(function () {
  'use strict';

  const REFRESH_MS = 2000;
  const HISTORY = 150;          /* rate chart samples: 5 minutes at 2 s */
  const SPARK = 60;             /* sparkline samples: 2 minutes */
  const RATE_MIN_GAP_MS = 1500; /* counters closer than this give no rate */
  const DEAD_LIMIT = 100;
  const TOKEN_KEY = 'gmq.admin.token';
  const VIEWS = ['overview', 'topics', 'topic', 'messages', 'dead', 'workers', 'cluster'];
  const SVG_NS = 'http://www.w3.org/2000/svg';

  class ApiError extends Error {}
  class AuthError extends Error {}

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    authNeeded: false,
    view: 'overview',
    topic: null,
    node: null,
    topics: [],
    topicByName: new Map(),
    statsLoaded: false,
    prev: null,                  /* {t, c: Map name -> {push, pop, ack}} */
    rates: new Map(),            /* name -> {push, deliver, ack} per second */
    totalRates: null,
    history: [],                 /* {t, push, deliver, ack} */
    spark: new Map(),            /* name -> [ready, ...] */
    sort: { key: 'name', dir: 1 },
    filter: '',
    workers: null,
    dstats: null,
    cluster: null,
    dead: { topic: '', bk: '', items: null },
    configFor: null,
    configDirty: false,
  };

  const $ = (id) => document.getElementById(id);

  /* ------------------------------------------------------------------ API */

  /* GET (reads) or POST with a form body (everything that changes state);
   * resolves to the {code, data, msg} answer, rejects with the error in words */
  async function api(path, params, post) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {}))
      if (v !== undefined && v !== null && v !== '')
        q.append(k, String(v));
    const init = { method: post ? 'POST' : 'GET', headers: {}, cache: 'no-store', credentials: 'omit' };
    let url = path;                         /* relative: the same node, http or https */
    if (post)
      init.body = q;
    else if (q.toString())
      url += '?' + q.toString();
    if (state.token)
      init.headers.Authorization = 'Bearer ' + state.token;
    let res, text;
    try {
      res = await fetch(url, init);
      text = await res.text();
    } catch (e) {
      throw new ApiError('network error: the node at ' + location.host + ' cannot be reached (' +
                         e.message + ')');
    }
    let doc = null;
    try { doc = JSON.parse(text); } catch (e) { doc = null; }
    if (res.status === 401)
      throw new AuthError(doc && doc.msg ? doc.msg : 'the node asks for a token (HTTP 401)');
    if (!doc || typeof doc !== 'object')
      throw new ApiError('/' + path + ': unexpected answer (HTTP ' + res.status + '): ' + text.slice(0, 200));
    if (doc.code !== 0)
      throw new ApiError(doc.msg || ('/' + path + ' failed (HTTP ' + res.status + ')'));
    return doc;
  }

  /* run an action; its error goes to `out` (a form's result) or the list at the top */
  async function act(what, fn, out) {
    try {
      return { ok: true, value: await fn() };
    } catch (e) {
      if (e instanceof AuthError) {
        needLogin(e.message);
      } else if (out) {
        showResultError(out, what + ': ' + e.message);
      } else {
        showError(what + ': ' + e.message);
      }
      return { ok: false };
    }
  }

  /* ------------------------------------------------------------- messages */

  function showError(text) {
    const ul = $('errors');
    const li = document.createElement('li');
    li.className = 'error';
    const span = document.createElement('span');
    span.className = 'text';
    span.textContent = text;
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'small';
    b.textContent = 'Dismiss';
    b.setAttribute('aria-label', 'Dismiss: ' + text);
    b.addEventListener('click', () => li.remove());
    li.append(span, b);
    li.setAttribute('role', 'alert');
    ul.prepend(li);
    while (ul.children.length > 6)
      ul.lastElementChild.remove();
  }

  function showNotice(text) {
    const ul = $('notices');
    const li = document.createElement('li');
    li.className = 'ok';
    const span = document.createElement('span');
    span.className = 'text';
    span.textContent = text;
    li.append(span);
    ul.prepend(li);
    while (ul.children.length > 4)
      ul.lastElementChild.remove();
    setTimeout(() => li.remove(), 8000);
  }

  function showResultError(out, text) {
    out.replaceChildren();
    const p = document.createElement('p');
    p.className = 'inline-error';
    p.setAttribute('role', 'alert');
    p.textContent = text;
    out.append(p);
  }

  function showResultText(out, text) {
    out.replaceChildren();
    const p = document.createElement('p');
    p.textContent = text;
    out.append(p);
  }

  function showPollError(errs) {
    const p = $('poll-error');
    const text = 'Refresh failed: ' + errs.map((e) => e.message).join('; ') +
                 ' (retrying every ' + REFRESH_MS / 1000 + ' s)';
    setText(p, text);
    p.hidden = false;
  }

  /* ----------------------------------------------------------- formatting */

  function setText(el, text) {
    text = String(text);
    if (el.textContent !== text)
      el.textContent = text;
  }

  function fmtNum(n) {
    return n === undefined || n === null ? '–' : Number(n).toLocaleString('en-US');
  }

  function fmtRate(r) {
    if (r === undefined || r === null)
      return '–';
    return r < 10 ? r.toFixed(1) : Math.round(r).toLocaleString('en-US');
  }

  function fmtBytes(n) {
    if (n === undefined || n === null)
      return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
  }

  function fmtDuration(s) {
    if (s === undefined || s === null || s < 0)
      return '–';
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + m + 'm';
    if (m > 0) return m + 'm ' + (s % 60) + 's';
    return s + 's';
  }

  function pad(n) {
    return String(n).padStart(2, '0');
  }

  function fmtTime(ms) {
    if (!ms)
      return '–';
    const d = new Date(Number(ms));
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
           pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function fillFacts(dl, values) {
    for (const dd of dl.querySelectorAll('dd[data-f]')) {
      const v = values[dd.dataset.f];
      setText(dd, v === undefined || v === null ? '–' : v);
    }
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls)
      e.className = cls;
    if (text !== undefined)
      e.textContent = text;
    return e;
  }

  function button(text, cls, onClick) {
    const b = el('button', cls, text);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }

  /* keep tbody's rows in the order of items: a row per key, built once,
   * updated in place; rows whose key is gone are removed */
  function syncRows(tbody, items, keyOf, build, update) {
    const old = new Map();
    for (const tr of Array.from(tbody.rows))
      old.set(tr.dataset.key, tr);
    let prev = null;
    for (const it of items) {
      const k = keyOf(it);
      let tr = old.get(k);
      if (tr) {
        old.delete(k);
      } else {
        tr = build(it);
        tr.dataset.key = k;
      }
      update(tr, it);
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (tr !== want)
        tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const tr of old.values())
      tr.remove();
  }

  function syncOptions(select, values, labels) {
    const cur = Array.from(select.options).map((o) => o.value);
    if (cur.length === values.length && cur.every((v, i) => v === values[i])) {
      values.forEach((v, i) => { if (labels) setText(select.options[i], labels[i]); });
      return;
    }
    const keep = select.value;
    select.replaceChildren(...values.map((v, i) => {
      const o = document.createElement('option');
      o.value = v;
      o.textContent = labels ? labels[i] : v;
      return o;
    }));
    if (values.includes(keep))
      select.value = keep;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {}))
      e.setAttribute(k, v);
    return e;
  }

  /* ------------------------------------------------------------- refresh */

  let timer = null, busy = false, again = false;

  function refreshNow() {
    if (busy) {
      again = true;
      return;
    }
    clearTimeout(timer);
    busy = true;
    tick().catch((e) => showPollError([e])).finally(() => {
      busy = false;
      if (again) {
        again = false;
        refreshNow();
      } else if (!state.authNeeded) {
        timer = setTimeout(refreshNow, REFRESH_MS);
      }
    });
  }

  async function tick() {
    if (state.authNeeded)
      return;
    const v = state.view;
    const want = { node: api('node'), stats: api('getAllTopicStat') };
    if (v === 'workers') {
      want.workers = api('debug/workers');
      want.dstats = api('debug/stats');
    }
    if (v === 'cluster')
      want.cluster = api('cluster/nodes');
    const dead = state.dead;
    const deadSel = dead.topic + '/' + dead.bk;
    if (v === 'dead' && dead.topic && dead.bk)
      want.dead = api('listDead', { topic: dead.topic, bindKey: dead.bk, limit: DEAD_LIMIT });
    const keys = Object.keys(want);
    const settled = await Promise.allSettled(keys.map((k) => want[k]));
    const got = {}, errs = [];
    settled.forEach((r, i) => {
      if (r.status === 'fulfilled')
        got[keys[i]] = r.value.data;
      else
        errs.push(r.reason);
    });
    const auth = errs.find((e) => e instanceof AuthError);
    if (auth) {
      needLogin(auth.message);
      return;
    }
    const now = Date.now();
    if (got.node)
      state.node = got.node;
    if (got.stats)
      applyStats(got.stats, now);
    if ('workers' in got)
      state.workers = got.workers;
    if ('dstats' in got)
      state.dstats = got.dstats;
    if ('cluster' in got)
      state.cluster = got.cluster;
    if ('dead' in got && dead.topic + '/' + dead.bk === deadSel)   /* not another queue's list */
      dead.items = got.dead;
    if (errs.length) {
      showPollError(errs);
    } else {
      $('poll-error').hidden = true;
    }
    setText($('refresh-state'), (errs.length ? 'refresh failed ' : 'updated ') + fmtTime(now).slice(11));
    render();
  }

  function applyStats(list, t) {
    state.statsLoaded = true;
    state.topics = Array.isArray(list) ? list : [];
    state.topicByName = new Map(state.topics.map((s) => [s.name, s]));
    const cur = new Map();
    for (const s of state.topics)
      cur.set(s.name, { push: s.push_num || 0, pop: s.pop_num || 0, ack: s.acked_num || 0 });
    const p = state.prev;
    if (p && t - p.t >= RATE_MIN_GAP_MS) {
      const dt = (t - p.t) / 1000;
      const total = { t: t, push: 0, deliver: 0, ack: 0 };
      const rates = new Map();
      for (const [name, c] of cur) {
        const o = p.c.get(name);
        /* a topic new since, or whose counters went back (deleted and made again): no rate yet */
        const r = { push: 0, deliver: 0, ack: 0 };
        if (o) {
          r.push = Math.max(0, c.push - o.push) / dt;
          r.deliver = Math.max(0, c.pop - o.pop) / dt;
          r.ack = Math.max(0, c.ack - o.ack) / dt;
        }
        rates.set(name, r);
        total.push += r.push;
        total.deliver += r.deliver;
        total.ack += r.ack;
      }
      state.rates = rates;
      state.totalRates = total;
      state.history.push(total);
      while (state.history.length > HISTORY)
        state.history.shift();
      state.prev = { t: t, c: cur };
    } else if (!p) {
      state.prev = { t: t, c: cur };
    }
    for (const s of state.topics) {
      let a = state.spark.get(s.name);
      if (!a) {
        a = [];
        state.spark.set(s.name, a);
      }
      a.push(s.queue_msg_num || 0);
      while (a.length > SPARK)
        a.shift();
    }
    for (const name of Array.from(state.spark.keys()))
      if (!state.topicByName.has(name))
        state.spark.delete(name);
  }

  /* ------------------------------------------------------------- routing */

  function parseHash() {
    let h = location.hash.replace(/^#/, '');
    try { h = decodeURIComponent(h); } catch (e) { h = ''; }
    if (h.startsWith('topic/') && h.length > 6)
      return { view: 'topic', topic: h.slice(6) };
    if (VIEWS.includes(h) && h !== 'topic')
      return { view: h, topic: null };
    return { view: 'overview', topic: null };
  }

  function showOnly(view) {
    for (const s of document.querySelectorAll('main > .view'))
      s.hidden = s.id !== 'view-' + view;
  }

  function route() {
    const r = parseHash();
    const changedTopic = r.topic !== state.topic;
    state.view = r.view;
    state.topic = r.topic;
    if (changedTopic) {
      state.configFor = null;
      state.configDirty = false;
    }
    const navView = r.view === 'topic' ? 'topics' : r.view;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.view === navView)
        a.setAttribute('aria-current', 'page');
      else
        a.removeAttribute('aria-current');
    }
    document.title = 'gmq admin · ' + (r.view === 'topic' ? 'topic ' + r.topic : r.view);
    if (state.authNeeded) {
      showOnly('login');
      return;
    }
    showOnly(r.view);
    render();
    refreshNow();
  }

  /* ---------------------------------------------------------------- login */

  function needLogin(msg) {
    const hadToken = !!state.token;
    state.authNeeded = true;
    clearTimeout(timer);
    /* nothing from the node stays on the page */
    state.node = null;
    state.topics = [];
    state.topicByName = new Map();
    state.statsLoaded = false;
    state.workers = state.dstats = state.cluster = null;
    state.dead.items = null;
    state.prev = null;
    state.history = [];
    state.spark = new Map();
    for (const tb of document.querySelectorAll('main table tbody'))
      tb.replaceChildren();
    for (const r of document.querySelectorAll('main .result'))
      r.replaceChildren();
    for (const dd of document.querySelectorAll('main dd[data-f]'))
      dd.textContent = '–';
    $('poll-error').hidden = true;
    $('nav').hidden = true;
    $('logout').hidden = true;
    setText($('hdr-node'), 'sign-in needed');
    setText($('refresh-state'), '');
    const le = $('login-error');
    if (hadToken) {
      state.token = '';
      sessionStorage.removeItem(TOKEN_KEY);
      le.textContent = 'The node refused the token: ' + msg;
      le.hidden = false;
    }
    showOnly('login');
    $('login-token').focus();
  }

  async function login(ev) {
    ev.preventDefault();
    const input = $('login-token');
    const token = input.value.trim();
    if (!token)
      return;
    state.token = token;
    const le = $('login-error');
    le.hidden = true;
    try {
      await api('node');
    } catch (e) {
      if (e instanceof AuthError) {
        state.token = '';
        le.textContent = 'The node refused the token: ' + e.message;
      } else {
        le.textContent = 'Cannot check the token: ' + e.message;
      }
      le.hidden = false;
      input.select();
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    input.value = '';
    state.authNeeded = false;
    $('nav').hidden = false;
    $('logout').hidden = false;
    route();
  }

  function logout() {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = '';
    $('logout').hidden = true;
    showNotice('The token is forgotten in this tab.');
    refreshNow();
  }

  /* ------------------------------------------------------------ rendering */

  function render() {
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

  function renderTopics() {
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
  function fillConfig(s, force) {
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

  function renderDead() {
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

  /* -------------------------------------------------------------- actions */

  const dlg = () => $('confirm');

  /* resolves to null (cancelled) or {force} */
  function confirmAction(title, text, opts) {
    opts = opts || {};
    const d = dlg();
    return new Promise((resolve) => {
      if (d.open)
        d.close('cancel');
      setText($('confirm-title'), title);
      setText($('confirm-text'), text);
      setText($('confirm-ok'), opts.ok || 'Confirm');
      $('confirm-force-field').hidden = !opts.force;
      $('confirm-force').checked = false;
      d.returnValue = '';
      d.addEventListener('close', () => {
        resolve(d.returnValue === 'ok' ? { force: $('confirm-force').checked } : null);
      }, { once: true });
      d.showModal();
      $('confirm-cancel').focus();
    });
  }

  async function purgeQueue(topic, bk) {
    const c = await confirmAction('Purge queue ' + bk + '?', 'Every ready and delayed message of queue ' + bk +
      ' in topic ' + topic + ' is dropped. Its dead letters and the binding stay.', { force: true, ok: 'Purge' });
    if (!c)
      return;
    const r = await act('Purge ' + topic + '/' + bk, () =>
      api('purgeQueue', { topic: topic, bindKey: bk, force: c.force ? 1 : 0 }, true));
    if (r.ok)
      showNotice('Queue ' + bk + ' of ' + topic + ' purged: ' + r.value.data.purged + ' messages dropped.');
    refreshNow();
  }

  async function deleteQueue(topic, bk) {
    const c = await confirmAction('Delete queue ' + bk + '?', 'Queue ' + bk + ' of topic ' + topic +
      ' and its dead-letter queue are deleted with every message in them.', { force: true, ok: 'Delete' });
    if (!c)
      return;
    const r = await act('Delete ' + topic + '/' + bk, () =>
      api('deleteQueue', { topic: topic, bindKey: bk, force: c.force ? 1 : 0 }, true));
    if (r.ok)
      showNotice('Queue ' + bk + ' of ' + topic + ' deleted with ' + r.value.data.deleted + ' messages.');
    refreshNow();
  }

  async function deleteTopic() {
    const topic = state.topic;
    const c = await confirmAction('Delete topic ' + topic + '?', 'Topic ' + topic + ', its queues and every ' +
      'message in them are deleted from this node. This cannot be undone.', { force: true, ok: 'Delete topic' });
    if (!c)
      return;
    const r = await act('Delete topic ' + topic, () =>
      api('deleteTopic', { topic: topic, force: c.force ? 1 : 0 }, true));
    if (r.ok) {
      showNotice('Topic ' + topic + ' deleted.');
      location.hash = '#topics';
    }
    refreshNow();
  }

  async function restartWorker(topic, oldPid) {
    const c = await confirmAction('Restart the worker of ' + topic + '?', 'The worker (pid ' + oldPid +
      ') finishes its batch, syncs and exits; a fresh one then opens the topic from disk. Messages delivered ' +
      'and not acked become ready again.', { ok: 'Restart' });
    if (!c)
      return;
    const r = await act('Restart the worker of ' + topic, async () => {
      await api('exitTopic', { topic: topic }, true);
      await api('getTopicStat', { topic: topic });          /* the next request starts a fresh worker */
      const ws = (await api('debug/workers')).data;
      const w = ws.find((x) => x.topic === topic && x.pid !== oldPid && x.state === 'ready');
      return w ? w.pid : null;
    });
    if (r.ok)
      showNotice('Worker of ' + topic + ' restarted: pid ' + oldPid + ' → ' + (r.value || 'starting') + '.');
    refreshNow();
  }

  async function requeueDead(id) {
    const d = state.dead;
    const r = await act('Requeue ' + id, () => api('requeue', { topic: d.topic, bindKey: d.bk, msgId: id }, true));
    if (r.ok)
      showNotice('Dead letter ' + id + ' is back in queue ' + d.bk + ' (' + r.value.data.requeued + ' requeued).');
    refreshNow();
  }

  async function kickDead(all) {
    const d = state.dead;
    const r = await act(all ? 'Requeue all' : 'Kick', () => all
      ? api('requeue', { topic: d.topic, bindKey: d.bk }, true)
      : api('kick', { topic: d.topic, bindKey: d.bk, n: 1 }, true));
    if (r.ok)
      showNotice(all ? r.value.data.requeued + ' dead letters of ' + d.bk + ' requeued.'
                     : r.value.data.kicked + ' dead letter of ' + d.bk + ' kicked back.');
    refreshNow();
  }

  function formValues(form) {
    const o = {};
    for (const [k, v] of new FormData(form).entries())
      o[k] = typeof v === 'string' ? v.trim() : v;
    return o;
  }

  function messageDetails(out, m, title) {
    out.replaceChildren();
    out.append(el('p', '', title));
    const dl = el('dl', 'facts');
    const add = (k, v) => { dl.append(el('dt', '', k), el('dd', '', String(v))); };
    add('Message id', m.id);
    if (m.state !== undefined) add('State', m.state);
    add('Retries', m.retry_count);
    if (m.pushed_at !== undefined) add('Pushed', fmtTime(m.pushed_at));
    if (m.due_at) add('Due', fmtTime(m.due_at));
    if (m.truncated) add('Length', m.len + ' bytes (body cut)');
    out.append(dl);
    const pre = el('pre', '', m.body);
    pre.setAttribute('aria-label', 'Body');
    out.append(pre);
  }

  function traceDetails(out, m) {
    out.replaceChildren();
    const parts = Array.isArray(m.queues) ? m.queues : [m];
    out.append(el('p', '', 'Message ' + m.id + (parts.length > 1 ? ', in ' + parts.length + ' queues:' : ':')));
    for (const q of parts) {
      const dl = el('dl', 'facts');
      dl.dataset.queue = q.queue;
      const add = (k, v) => { dl.append(el('dt', '', k), el('dd', '', String(v))); };
      add('Queue', q.queue + (q.dead ? ' (dead letters)' : ''));
      add('State', q.dead ? 'dead' + (q.state === 'in_flight' ? ', delivered by /dead' : '') : q.state);
      add('Retries', q.retry_count);
      add('Pushed', fmtTime(q.pushed_at));
      add('Due', fmtTime(q.due_at));
      add('Last delivered', fmtTime(q.delivered_at));
      add('Stored at', 'segment ' + q.segment + ', offset ' + q.offset + ', ' + q.len + ' bytes');
      out.append(dl);
    }
  }

  /* a form's topic fields start with the last topic used, when empty */
  function rememberTopic(t) {
    for (const id of ['push-topic', 'pop-topic', 'if-topic', 'lk-topic'])
      if (!$(id).value)
        $(id).value = t;
  }

  async function onPush(ev) {
    ev.preventDefault();
    const f = formValues(ev.target), out = $('push-result');
    const msg = { topic: f.topic, body: $('push-body').value, route_key: f.route_key,
                  delay: f.delay ? Number(f.delay) : 0 };
    const r = await act('Push', () => api('push', { data: JSON.stringify(msg) }, true), out);
    if (!r.ok)
      return;
    const id = r.value.data.msgId;
    showResultText(out, 'Pushed to ' + f.topic + ': message id ' + id + '.');
    out.dataset.msgId = id;
    rememberTopic(f.topic);
    $('lk-topic').value = f.topic;
    $('lk-id').value = id;
    refreshNow();
  }

  async function onPop(ev) {
    ev.preventDefault();
    const f = formValues($('pop-form')), out = $('pop-result');
    const r = await act('Pop', () => api('pop', { topic: f.topic, bindKey: f.bindKey }, true), out);
    if (!r.ok)
      return;
    const m = r.value.data;
    messageDetails(out, m, 'Delivered from ' + f.topic + '/' + f.bindKey + ':');
    out.dataset.msgId = m.id;
    $('if-topic').value = f.topic;
    $('if-bk').value = f.bindKey;
    $('if-id').value = m.id;
    $('lk-topic').value = f.topic;
    $('lk-id').value = m.id;
    rememberTopic(f.topic);
    refreshNow();
  }

  async function onPeek() {
    const form = $('pop-form');
    if (!form.reportValidity())
      return;
    const f = formValues(form), out = $('pop-result');
    const r = await act('Peek', () => api('peek', { topic: f.topic, bindKey: f.bindKey, state: f.state }), out);
    if (!r.ok)
      return;
    messageDetails(out, r.value.data, 'Next ' + f.state + ' message of ' + f.topic + '/' + f.bindKey +
                   ' (not delivered):');
    $('lk-topic').value = f.topic;
    $('lk-id').value = r.value.data.id;
  }

  async function inflight(ev, what) {
    if (ev)
      ev.preventDefault();
    const form = $('inflight-form');
    if (!form.reportValidity())
      return;
    const f = formValues(form), out = $('inflight-result');
    const p = { topic: f.topic, bindKey: f.bindKey, msgId: f.msgId };
    if (what === 'release')
      p.delay = f.delay || 0;
    const r = await act(what[0].toUpperCase() + what.slice(1) + ' ' + f.msgId, () => api(what, p, true), out);
    if (!r.ok)
      return;
    if (what === 'ack')
      showResultText(out, 'Message ' + f.msgId + ' acked: ' + r.value.msg + '.');
    else if (what === 'touch')
      showResultText(out, 'Message ' + f.msgId + ' touched: not redelivered before ' +
                     fmtTime(r.value.data.deadline) + '.');
    else
      showResultText(out, 'Message ' + f.msgId + ' released' + (Number(p.delay) > 0 ? ', ready again in ' +
                     p.delay + ' s.' : ': ready again now.'));
    refreshNow();
  }

  async function onLookup(ev) {
    ev.preventDefault();
    const f = formValues(ev.target), out = $('lookup-result');
    const r = await act('Look up ' + f.msgId, () => api('msg', { topic: f.topic, msgId: f.msgId }), out);
    if (r.ok)
      traceDetails(out, r.value.data);
  }

  async function onConfig(ev) {
    ev.preventDefault();
    const topic = state.topic;
    const f = formValues(ev.target);
    const r = await act('Configure ' + topic, () => api('config', { topic: topic, isAutoAck: f.isAutoAck,
      mode: f.mode, msgTTR: f.msgTTR, msgRetry: f.msgRetry }, true));
    if (!r.ok)
      return;
    state.configDirty = false;
    state.configFor = null;      /* show what the node now has */
    showNotice('Configuration of ' + topic + ' saved: auto-ack ' + (f.isAutoAck === '1' ? 'on' : 'off') +
               ', mode ' + f.mode + ', TTR ' + f.msgTTR + ' s, ' + f.msgRetry + ' retries.');
    refreshNow();
  }

  async function onDeclare(ev) {
    ev.preventDefault();
    const topic = state.topic, bk = $('declare-bk').value.trim();
    const r = await act('Declare ' + topic + '/' + bk, () => api('declareQueue', { topic: topic, bindKey: bk }, true));
    if (!r.ok)
      return;
    $('declare-bk').value = '';
    showNotice('Queue ' + bk + ' declared in ' + topic + '.');
    refreshNow();
  }

  async function onCreateTopic(ev) {
    ev.preventDefault();
    const t = $('create-topic').value.trim();
    const r = await act('Create topic ' + t, () => api('config', { topic: t }, true));
    if (!r.ok)
      return;
    $('create-topic').value = '';
    showNotice('Topic ' + t + ' is ready.');
    location.hash = '#topic/' + encodeURIComponent(t);
  }

  /* ---------------------------------------------------------------- start */

  function start() {
    window.addEventListener('hashchange', route);
    document.querySelector('.skip').addEventListener('click', (ev) => {
      ev.preventDefault();
      $('main').focus();
    });
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('topic-filter').addEventListener('input', (ev) => {
      state.filter = ev.target.value.trim();
      renderTopics();
    });
    for (const th of $('topics-table').querySelectorAll('th[data-sort]')) {
      th.querySelector('button').addEventListener('click', () => {
        const k = th.dataset.sort;
        if (state.sort.key === k)
          state.sort.dir = -state.sort.dir;
        else
          state.sort = { key: k, dir: k === 'name' || k === 'auto_ack' ? 1 : -1 };
        renderTopics();
      });
    }
    $('create-topic-form').addEventListener('submit', onCreateTopic);
    $('config-form').addEventListener('submit', onConfig);
    $('config-form').addEventListener('input', () => { state.configDirty = true; });
    $('cfg-reset').addEventListener('click', () => {
      const s = state.topicByName.get(state.topic);
      if (s)
        fillConfig(s, true);
    });
    $('declare-form').addEventListener('submit', onDeclare);
    $('delete-topic').addEventListener('click', deleteTopic);
    $('push-form').addEventListener('submit', onPush);
    $('pop-form').addEventListener('submit', onPop);
    $('peek-btn').addEventListener('click', onPeek);
    $('inflight-form').addEventListener('submit', (ev) => inflight(ev, 'ack'));
    $('touch-btn').addEventListener('click', () => inflight(null, 'touch'));
    $('release-btn').addEventListener('click', () => inflight(null, 'release'));
    $('lookup-form').addEventListener('submit', onLookup);
    $('dead-topic').addEventListener('change', (ev) => {
      state.dead.topic = ev.target.value;
      state.dead.bk = '';
      state.dead.items = null;
      renderDead();
      refreshNow();
    });
    $('dead-bk').addEventListener('change', (ev) => {
      state.dead.bk = ev.target.value;
      state.dead.items = null;
      renderDead();
      refreshNow();
    });
    $('dead-form').addEventListener('submit', (ev) => ev.preventDefault());
    $('kick-one').addEventListener('click', () => kickDead(false));
    $('kick-all').addEventListener('click', () => kickDead(true));
    let resize = 0;
    window.addEventListener('resize', () => {
      if (!resize)                          /* the chart follows its width */
        resize = requestAnimationFrame(() => { resize = 0; render(); });
    });
    route();
  }

  start();
})();
