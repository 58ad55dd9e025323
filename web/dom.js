/*
 * gmq admin page: DOM and formatting helpers, with no state and no requests.
 * Elements by id, the view shown, text set only when it changed, numbers,
 * sizes, times and durations, table rows and select options kept in place by
 * key, SVG elements, and the error, notice and form-result messages. Every
 * text from the node is set with textContent, never parsed as HTML.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

export const $ = (id) => document.getElementById(id);

export function showOnly(view) {
  for (const s of document.querySelectorAll('main > .view'))
    s.hidden = s.id !== 'view-' + view;
}

/* ------------------------------------------------------------- messages */

export function showError(text) {
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

export function showNotice(text) {
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

export function showResultError(out, text) {
  out.replaceChildren();
  const p = document.createElement('p');
  p.className = 'inline-error';
  p.setAttribute('role', 'alert');
  p.textContent = text;
  out.append(p);
}

export function showResultText(out, text) {
  out.replaceChildren();
  const p = document.createElement('p');
  p.textContent = text;
  out.append(p);
}

/* ----------------------------------------------------------- formatting */

export function setText(el, text) {
  text = String(text);
  if (el.textContent !== text)
    el.textContent = text;
}

export function fmtNum(n) {
  return n === undefined || n === null ? '–' : Number(n).toLocaleString('en-US');
}

export function fmtRate(r) {
  if (r === undefined || r === null)
    return '–';
  return r < 10 ? r.toFixed(1) : Math.round(r).toLocaleString('en-US');
}

export function fmtBytes(n) {
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

export function fmtDuration(s) {
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

export function fmtTime(ms) {
  if (!ms)
    return '–';
  const d = new Date(Number(ms));
  return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
         pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
}

export function fillFacts(dl, values) {
  for (const dd of dl.querySelectorAll('dd[data-f]')) {
    const v = values[dd.dataset.f];
    setText(dd, v === undefined || v === null ? '–' : v);
  }
}

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls)
    e.className = cls;
  if (text !== undefined)
    e.textContent = text;
  return e;
}

export function button(text, cls, onClick) {
  const b = el('button', cls, text);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

/* keep tbody's rows in the order of items: a row per key, built once,
 * updated in place; rows whose key is gone are removed */
export function syncRows(tbody, items, keyOf, build, update) {
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

export function syncOptions(select, values, labels) {
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

export function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {}))
    e.setAttribute(k, v);
  return e;
}
