/*
 * gmq admin page. Reads the node's HTTP API (docs/http-api.md) every 2 s and
 * calls it for actions; plain JavaScript modules, no framework, no outside
 * origin. This one is the entry: a refresh's tick (the reads, the rates
 * computed from the counters), routing by URL fragment, and the start that
 * wires the page's controls. The others: dom.js (DOM and formatting
 * helpers), state.js (the state and the refresh schedule), api.js (requests
 * and the token), views.js (rendering), actions.js (what the user does).
 */
import { $, setText, fmtTime, showOnly } from './dom.js';
import { DEAD_LIMIT, HISTORY, SPARK, state, setTick, refreshNow, showPollError } from './state.js';
import { AuthError, api, needLogin, login, logout } from './api.js';
import { render, renderTopics, renderDead, fillConfig } from './views.js';
import { deleteTopic, kickDead, onPush, onPop, onPeek, inflight, onLookup, onConfig, onDeclare,
         onCreateTopic } from './actions.js';

const RATE_MIN_GAP_MS = 1500; /* counters closer than this give no rate */
const VIEWS = ['overview', 'topics', 'topic', 'messages', 'dead', 'workers', 'cluster'];

/* ------------------------------------------------------------- refresh */

/* one refresh (state.js runs it): the reads the view needs, then render */
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

/* ---------------------------------------------------------------- start */

function start() {
  setTick(tick);
  window.addEventListener('hashchange', route);
  document.querySelector('.skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    $('main').focus();
  });
  $('login-form').addEventListener('submit', async (ev) => {
    if (await login(ev))
      route();
  });
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
