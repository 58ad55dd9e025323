/*
 * gmq admin page: the node's HTTP API (docs/http-api.md) and its token.
 * api() reads (GET) or acts (POST with a form body) and rejects with the
 * error in words; a 401 is an AuthError, on which needLogin clears every
 * datum from the page and asks for a token, kept in the tab's sessionStorage.
 */
import { $, setText, showNotice, showOnly } from './dom.js';
import { TOKEN_KEY, state, refreshNow, stopRefresh } from './state.js';

class ApiError extends Error {}
export class AuthError extends Error {}

/* ------------------------------------------------------------------ API */

/* GET (reads) or POST with a form body (everything that changes state);
 * resolves to the {code, data, msg} answer, rejects with the error in words */
export async function api(path, params, post) {
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

/* ---------------------------------------------------------------- login */

export function needLogin(msg) {
  const hadToken = !!state.token;
  state.authNeeded = true;
  stopRefresh();
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

/* true when the node took the token: the caller shows the view */
export async function login(ev) {
  ev.preventDefault();
  const input = $('login-token');
  const token = input.value.trim();
  if (!token)
    return false;
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
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  input.value = '';
  state.authNeeded = false;
  $('nav').hidden = false;
  $('logout').hidden = false;
  return true;
}

export function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = '';
  $('logout').hidden = true;
  showNotice('The token is forgotten in this tab.');
  refreshNow();
}
