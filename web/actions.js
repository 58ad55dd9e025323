/*
 * gmq admin page: what the user does. The confirmation dialog; purging and
 * deleting queues, deleting a topic, restarting a worker, requeueing and
 * kicking dead letters; the forms that create a topic, declare a queue,
 * configure a topic, push, pop, peek, ack, touch, release and look a message
 * up. Each shows its result or its error in words, then refreshes.
 */
import { $, setText, fmtTime, el, showError, showNotice, showResultError, showResultText } from './dom.js';
import { state, refreshNow } from './state.js';
import { AuthError, api, needLogin } from './api.js';

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

/* ------------------------------------------------- confirmed actions */

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

export async function purgeQueue(topic, bk) {
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

export async function deleteQueue(topic, bk) {
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

export async function deleteTopic() {
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

export async function restartWorker(topic, oldPid) {
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

export async function requeueDead(id) {
  const d = state.dead;
  const r = await act('Requeue ' + id, () => api('requeue', { topic: d.topic, bindKey: d.bk, msgId: id }, true));
  if (r.ok)
    showNotice('Dead letter ' + id + ' is back in queue ' + d.bk + ' (' + r.value.data.requeued + ' requeued).');
  refreshNow();
}

export async function kickDead(all) {
  const d = state.dead;
  const r = await act(all ? 'Requeue all' : 'Kick', () => all
    ? api('requeue', { topic: d.topic, bindKey: d.bk }, true)
    : api('kick', { topic: d.topic, bindKey: d.bk, n: 1 }, true));
  if (r.ok)
    showNotice(all ? r.value.data.requeued + ' dead letters of ' + d.bk + ' requeued.'
                   : r.value.data.kicked + ' dead letter of ' + d.bk + ' kicked back.');
  refreshNow();
}

/* ---------------------------------------------------------------- forms */

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

export async function onPush(ev) {
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

export async function onPop(ev) {
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

export async function onPeek() {
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

export async function inflight(ev, what) {
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

export async function onLookup(ev) {
  ev.preventDefault();
  const f = formValues(ev.target), out = $('lookup-result');
  const r = await act('Look up ' + f.msgId, () => api('msg', { topic: f.topic, msgId: f.msgId }), out);
  if (r.ok)
    traceDetails(out, r.value.data);
}

export async function onConfig(ev) {
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

export async function onDeclare(ev) {
  ev.preventDefault();
  const topic = state.topic, bk = $('declare-bk').value.trim();
  const r = await act('Declare ' + topic + '/' + bk, () => api('declareQueue', { topic: topic, bindKey: bk }, true));
  if (!r.ok)
    return;
  $('declare-bk').value = '';
  showNotice('Queue ' + bk + ' declared in ' + topic + '.');
  refreshNow();
}

export async function onCreateTopic(ev) {
  ev.preventDefault();
  const t = $('create-topic').value.trim();
  const r = await act('Create topic ' + t, () => api('config', { topic: t }, true));
  if (!r.ok)
    return;
  $('create-topic').value = '';
  showNotice('Topic ' + t + ' is ready.');
  location.hash = '#topic/' + encodeURIComponent(t);
}
