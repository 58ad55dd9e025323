/*
 * gmq admin page: what the page knows (the node, its topics, the rates it
 * computed, the view and the choices made in it), the constants more than
 * one module uses, and the refresh schedule: the tick app.js sets reads the
 * node and renders, every REFRESH_MS and at once after an action.
 */
import { $, setText } from './dom.js';

export const REFRESH_MS = 2000;
export const HISTORY = 150;          /* rate chart samples: 5 minutes at 2 s */
export const SPARK = 60;             /* sparkline samples: 2 minutes */
export const DEAD_LIMIT = 100;
export const TOKEN_KEY = 'gmq.admin.token';

export const state = {
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

/* ------------------------------------------------------------- refresh */

let tick = null, timer = null, busy = false, again = false;

/* the function refreshNow runs: app.js's tick (set once, at start) */
export function setTick(fn) {
  tick = fn;
}

export function refreshNow() {
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

/* no refresh until the next refreshNow (the page asks for a token) */
export function stopRefresh() {
  clearTimeout(timer);
}

export function showPollError(errs) {
  const p = $('poll-error');
  const text = 'Refresh failed: ' + errs.map((e) => e.message).join('; ') +
               ' (retrying every ' + REFRESH_MS / 1000 + ' s)';
  setText(p, text);
  p.hidden = false;
}
