#!/usr/bin/env node
/*
 * web_flow.js - drives Debian's chromium (playwright-core, no downloaded
 * browser) through gmq's admin page on a running node, the way a person
 * would: every view, the topic config form, push/pop/ack/lookup, a dead
 * letter kicked back, a worker restart, the cluster view. Any console error
 * or page error fails the run. Started by tests/integration/test_web.py.
 *
 *   node web_flow.js --url http://127.0.0.1:PORT/ --profile DIR --shots DIR
 *                    --topic NAME --queue BK [--token T] [--peer-pid PID]
 *
 * The topic and its queue exist already (made through the API by the test).
 * --token: the node has auth_token set; the page must ask for it first.
 * An https:// URL is a node with http_tls (a test CA: NODE_EXTRA_CA_CERTS for
 * this script's own checks; the browser ignores certificate errors).
 * --peer-pid: a second node registered in etcd; the cluster view must show
 * it, then see it leave once it is stopped (SIGTERM by PID).
 * Exit status 0 when every step passed, 1 otherwise.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const TIMEOUT = 30000;      /* every wait is for a condition; this is only the ceiling */

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--'))
      throw new Error('unexpected argument ' + k);
    a[k.slice(2)] = argv[++i];
  }
  for (const k of ['url', 'profile', 'shots', 'topic', 'queue'])
    if (!a[k])
      throw new Error('missing --' + k);
  return a;
}

const args = parseArgs(process.argv.slice(2));
const base = args.url.endsWith('/') ? args.url : args.url + '/';
const T = args.topic, Q = args.queue;
const consoleErrors = [];
let allowed401 = false;    /* only while signed out: the page's first requests get 401 */

function log(msg) {
  process.stdout.write('web_flow: ' + msg + '\n');
}

/* the node's API, straight from here (to check what the page did) */
async function nodeApi(p, params) {
  const q = new URLSearchParams(params || {}).toString();
  const headers = args.token ? { Authorization: 'Bearer ' + args.token } : {};
  const res = await fetch(base + p + (q ? '?' + q : ''), { headers });
  const doc = await res.json();
  if (doc.code !== 0)
    throw new Error('/' + p + ': ' + doc.msg);
  return doc.data;
}

async function waitApi(what, fn) {
  const deadline = Date.now() + TIMEOUT;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last)
        return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline)
      throw new Error('timed out waiting for ' + what + ' (last: ' + JSON.stringify(last) + ')');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main() {
  fs.mkdirSync(args.shots, { recursive: true });
  const ctx = await chromium.launchPersistentContext(args.profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    /* an https node has a test CA's certificate; the browser is not told the CA */
    ignoreHTTPSErrors: base.startsWith('https:'),
  });
  let page;
  let step = 'start';
  try {
    page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(TIMEOUT);
    page.on('console', (m) => {
      if (m.type() !== 'error')
        return;
      if (allowed401 && /status of 401/.test(m.text()))
        return;
      consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push('page error: ' + e.message));
    const shot = async (name) => {
      await page.screenshot({ path: path.join(args.shots, name + '.png'), fullPage: true });
    };
    const run = async (name, fn) => {
      step = name;
      log(name);
      await fn();
      if (consoleErrors.length)
        throw new Error('console error: ' + consoleErrors.join(' | '));
    };
    const nav = async (view) => {
      await page.click('#nav a[data-view="' + view + '"]');
      await page.waitForSelector('#view-' + view + ':not([hidden])');
    };
    const textOf = (sel) => page.locator(sel).first().innerText();
    const waitText = (sel, re) => page.waitForFunction(([s, src, flags]) => {
      const e = document.querySelector(s);
      return e && new RegExp(src, flags).test(e.textContent);
    }, [sel, re.source, re.flags]);

    if (args.token) {
      await run('signed out: only the token prompt, no data', async () => {
        allowed401 = true;
        await page.goto(base + '#topics');
        await page.waitForSelector('#view-login:not([hidden])');
        if (!(await page.locator('#nav').isHidden()))
          throw new Error('the navigation is shown before sign-in');
        const rows = await page.locator('main table tbody tr').count();
        const body = await page.locator('body').innerText();
        if (rows !== 0 || body.includes(T))
          throw new Error('data is shown without the token: ' + rows + ' rows');
        if (!(await page.locator('label[for="login-token"]').isVisible()))
          throw new Error('the token field has no visible label');
        await shot('login');
        await page.fill('#login-token', 'not-the-token');
        await page.press('#login-token', 'Enter');
        await waitText('#login-error', /refused the token/);
        if ((await page.locator('main table tbody tr').count()) !== 0)
          throw new Error('data is shown after a wrong token');
        await page.fill('#login-token', args.token);
        await page.click('#login-form button[type="submit"]');
        await page.waitForSelector('#view-topics:not([hidden])');
        allowed401 = false;
      });
    } else {
      await run('load the page', async () => {
        await page.goto(base + '#topics');
        await page.waitForSelector('#view-topics:not([hidden])');
      });
    }

    await run('topics: the topic made through the API is listed', async () => {
      await page.waitForSelector('#topics-table tbody tr[data-key="' + T + '"]');
      await waitText('#topics-table tbody tr[data-key="' + T + '"] td[data-f="queues"]', /^1$/);
      await page.fill('#topic-filter', 'no-such-topic-here');
      await page.waitForSelector('#topics-table tbody tr', { state: 'detached' });
      await page.fill('#topic-filter', T.slice(0, 3));
      await page.waitForSelector('#topics-table tbody tr[data-key="' + T + '"]');
      await page.click('#topics-table th[data-sort="ready"] button');
      await page.waitForSelector('#topics-table th[data-sort="ready"][aria-sort="descending"]');
      await shot('topics');
    });

    await run('topic: change its config with the form', async () => {
      await page.click('#topics-table tbody tr[data-key="' + T + '"] a');
      await page.waitForSelector('#view-topic:not([hidden])');
      if ((await page.evaluate(() => location.hash)) !== '#topic/' + T)
        throw new Error('the topic view has no URL of its own');
      await page.waitForSelector('#queues-table tbody tr[data-key="' + Q + '"]');
      await page.selectOption('#cfg-autoack', '0');
      await page.selectOption('#cfg-mode', '1');
      await page.fill('#cfg-ttr', '7');
      await page.fill('#cfg-retry', '3');
      await page.click('#config-form button[type="submit"]');
      await waitText('#notices', /Configuration of .* saved/);
      await waitText('#topic-facts dd[data-f="ttr"]', /^7 s$/);
      const s = await nodeApi('getTopicStat', { topic: T });
      if (s.msg_ttr !== 7 || s.msg_retry !== 3 || s.is_auto_ack !== false || s.mode !== 1)
        throw new Error('the node did not get the config: ' + JSON.stringify(s));
      await page.reload();
      await page.waitForSelector('#view-topic:not([hidden])');
      await waitText('#topic-title', new RegExp('Topic ' + T));
      await waitText('#topic-facts dd[data-f="retry"]', /^3$/);
      await shot('topic');
    });

    let id;
    await run('messages: push, look up, pop, look up, ack, look up', async () => {
      await nav('messages');
      await page.fill('#push-topic', T);
      await page.fill('#push-rk', Q);
      await page.fill('#push-body', 'hello from the browser <b>not bold</b>');
      await page.click('#push-form button[type="submit"]');
      await waitText('#push-result', /message id \d+/);
      id = (await textOf('#push-result')).match(/message id (\d+)/)[1];
      await page.click('#lookup-form button[type="submit"]');
      await waitText('#lookup-result', /State\s*ready/);
      await page.fill('#pop-topic', T);
      await page.fill('#pop-bk', Q);
      await page.click('#pop-btn');
      await waitText('#pop-result', /hello from the browser <b>not bold<\/b>/);
      if (!(await textOf('#pop-result')).includes(id))
        throw new Error('popped another message than ' + id);
      if (await page.locator('#pop-result b').count())
        throw new Error('a message body was parsed as HTML');
      await page.click('#lookup-form button[type="submit"]');
      await waitText('#lookup-result', /State\s*in_flight/);
      await waitText('#lookup-result', /Last delivered\s*\d{4}-/);
      if ((await page.inputValue('#if-id')) !== id)
        throw new Error('the ack form was not filled with the popped message');
      await page.click('#ack-btn');
      await waitText('#inflight-result', new RegExp('Message ' + id + ' acked'));
      await page.click('#lookup-form button[type="submit"]');
      await waitText('#lookup-result .inline-error', new RegExp('msgId:' + id + ' is not exist'));
      await shot('messages');
    });

    await run('messages: touch and release a delivered message; errors are shown in words', async () => {
      await page.fill('#push-body', 'second');
      await page.click('#push-form button[type="submit"]');
      await waitText('#push-result', /message id \d+/);
      await page.click('#pop-btn');
      await waitText('#pop-result', /second/);
      await page.click('#touch-btn');
      await waitText('#inflight-result', /touched: not redelivered before \d{4}-/);
      await page.click('#release-btn');
      await waitText('#inflight-result', /released: ready again now/);
      await page.click('#release-btn');    /* not in flight any more: the node says so */
      await waitText('#inflight-result .inline-error', /is not in flight/);
      await page.fill('#pop-bk', 'no-such-queue');
      await page.click('#peek-btn');
      await waitText('#pop-result .inline-error', /can't match queue|not associated/);
      await page.fill('#pop-bk', Q);
      await page.click('#peek-btn');
      await waitText('#pop-result', /second/);
      await page.click('#pop-btn');
      await waitText('#pop-result', /Delivered from/);
      await page.click('#ack-btn');
      await waitText('#inflight-result', /acked/);
    });

    await run('dead letters: two messages die (TTR 1 s, no retry) and are kicked back', async () => {
      await page.goto(base + '#topic/' + T);
      await page.waitForSelector('#queues-table tbody tr[data-key="' + Q + '"]');
      await page.fill('#cfg-ttr', '1');
      await page.fill('#cfg-retry', '0');
      await page.click('#config-form button[type="submit"]');
      await waitText('#topic-facts dd[data-f="ttr"]', /^1 s$/);
      await nav('messages');
      for (const b of ['doomed one', 'doomed two']) {
        await page.fill('#push-topic', T);
        await page.fill('#push-rk', Q);
        await page.fill('#push-body', b);
        await page.click('#push-form button[type="submit"]');
        await waitText('#push-result', /message id/);
        await page.fill('#pop-topic', T);
        await page.fill('#pop-bk', Q);
        await page.click('#pop-btn');
        await waitText('#pop-result', new RegExp(b));
      }
      await waitApi('2 dead letters', async () => {
        const s = await nodeApi('getTopicStat', { topic: T });
        return s.queues.find((q) => q.bind_key === Q).dead === 2;
      });
      await nav('dead');
      await page.selectOption('#dead-topic', T);
      await page.selectOption('#dead-bk', Q);
      await page.waitForFunction(() => document.querySelectorAll('#dead-table tbody tr').length === 2);
      await waitText('#dead-summary', /^2 dead letters/);
      await shot('dead');
      const first = await page.locator('#dead-table tbody tr').first().getAttribute('data-key');
      await page.click('#dead-table tbody tr[data-key="' + first + '"] button');
      await waitText('#notices', new RegExp('Dead letter ' + first + ' is back'));
      await page.waitForFunction(() => document.querySelectorAll('#dead-table tbody tr').length === 1);
      await page.click('#kick-one');
      await waitText('#notices', /1 dead letter of .* kicked back/);
      await page.waitForSelector('#dead-empty:not([hidden])');
      const s = await nodeApi('getTopicStat', { topic: T });
      const q = s.queues.find((x) => x.bind_key === Q);
      if (q.dead !== 0 || q.ready !== 2)
        throw new Error('after the kicks the queue has ' + JSON.stringify(q));
    });

    await run('topic: purge asks first (cancel keeps the messages, confirm drops them)', async () => {
      await page.goto(base + '#topic/' + T);
      const purge = '#queues-table tbody tr[data-key="' + Q + '"] button:has-text("Purge")';
      await page.click(purge);
      await page.waitForSelector('#confirm[open]');
      await page.keyboard.press('Escape');
      await page.waitForSelector('#confirm:not([open])', { state: 'attached' });
      let q = (await nodeApi('getTopicStat', { topic: T })).queues.find((x) => x.bind_key === Q);
      if (q.ready !== 2)
        throw new Error('a cancelled purge dropped messages');
      await page.click(purge);
      await page.waitForSelector('#confirm[open]');
      await shot('confirm');
      await page.click('#confirm-ok');
      await waitText('#notices', /purged: 2 messages dropped/);
      q = (await nodeApi('getTopicStat', { topic: T })).queues.find((x) => x.bind_key === Q);
      if (q.ready !== 0)
        throw new Error('the purge left ' + q.ready);
    });

    await run('topics: create a topic, declare and delete a queue, delete the topic', async () => {
      const t2 = T + '-scratch';
      await nav('topics');
      await page.fill('#create-topic', t2);
      await page.click('#create-topic-form button[type="submit"]');
      await page.waitForSelector('#view-topic:not([hidden])');
      await waitText('#topic-title', new RegExp('Topic ' + t2));
      await page.fill('#declare-bk', 'extra');
      await page.click('#declare-form button[type="submit"]');
      await page.waitForSelector('#queues-table tbody tr[data-key="extra"]');
      await page.click('#queues-table tbody tr[data-key="extra"] button:has-text("Delete")');
      await page.click('#confirm-ok');
      await page.waitForSelector('#queues-table tbody tr[data-key="extra"]', { state: 'detached' });
      await page.click('#delete-topic');
      await page.waitForSelector('#confirm[open]');
      await page.click('#confirm-ok');
      await page.waitForSelector('#view-topics:not([hidden])');
      await waitText('#notices', new RegExp('Topic ' + t2 + ' deleted'));
      await page.waitForSelector('#topics-table tbody tr[data-key="' + t2 + '"]', { state: 'detached' });
    });

    await run('workers: restart one, see the pid change', async () => {
      /* by keyboard: focus the nav link and press Enter */
      await page.focus('#nav a[data-view="workers"]');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#view-workers:not([hidden])');
      const row = '#workers-table tbody tr[data-key^="' + T + ':"]';
      await page.waitForSelector(row);
      await waitText(row + ' td[data-f="rss"]', /B$/);
      const oldKey = await page.locator(row).first().getAttribute('data-key');
      const oldPid = Number(oldKey.split(':')[1]);
      await shot('workers');
      await page.click(row + ' button');
      await page.waitForSelector('#confirm[open]');
      await page.click('#confirm-ok');
      await waitText('#notices', new RegExp('Worker of ' + T + ' restarted: pid ' + oldPid + ' → \\d+'));
      const newPid = Number((await textOf('#notices')).match(/→ (\d+)/)[1]);
      if (!(newPid > 0) || newPid === oldPid)
        throw new Error('no new pid: ' + newPid);
      await page.waitForSelector('#workers-table tbody tr[data-key="' + T + ':' + newPid + '"]');
      await page.waitForSelector('#workers-table tbody tr[data-key="' + oldKey + '"]', { state: 'detached' });
      await waitText('#workers-table tbody tr[data-key="' + T + ':' + newPid + '"] td[data-f="state"]', /^ready$/);
      const ws = await nodeApi('debug/workers');
      if (!ws.some((w) => w.topic === T && w.pid === newPid))
        throw new Error('the node does not know pid ' + newPid);
      await shot('workers-restarted');
    });

    await run('cluster', async () => {
      await nav('cluster');
      if (!args['peer-pid']) {
        await waitText('#cluster-state', /standalone/);
        await shot('cluster');
        return;
      }
      await page.waitForSelector('#cluster-table tbody tr[data-key="/gmq/node-1"]');
      await page.waitForSelector('#cluster-table tbody tr[data-key="/gmq/node-2"]');
      await waitText('#cluster-table tbody tr[data-key="/gmq/node-1"] td[data-f="node_id"]', /this node/);
      await waitText('#cluster-table tbody tr[data-key="/gmq/node-2"] td[data-f="health"]', /^up$/);
      await shot('cluster');
      process.kill(Number(args['peer-pid']), 'SIGTERM');
      await page.waitForSelector('#cluster-table tbody tr[data-key="/gmq/node-2"]', { state: 'detached' });
      await waitText('#cluster-state', /^1 node registered/);
    });

    await run('overview: node facts, totals and the rate chart', async () => {
      await nav('overview');
      await waitText('#node-facts dd[data-f="node_id"]', /^1$/);
      await waitText('#node-facts dd[data-f="auth"]', args.token ? /^on/ : /^off/);
      await waitText('#totals dd[data-f="topics"]', /^\d+$/);
      await page.waitForFunction(() => {
        const p = document.querySelector('#rate-chart .line.s-push').getAttribute('points');
        return p && p.split(' ').length >= 2;
      });
      await shot('overview');
    });

    await run('narrow (phone) screen: nothing wider than the screen', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      for (const v of ['overview', 'topics', 'messages', 'workers']) {
        await nav(v);
        await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
        if (v === 'overview')     /* the chart is drawn for the width it has */
          await page.waitForFunction(() => {
            const c = document.getElementById('rate-chart');
            return c.getAttribute('viewBox').split(' ')[2] === String(Math.round(c.getBoundingClientRect().width));
          });
        await shot(v + '-phone');
      }
      await page.setViewportSize({ width: 1280, height: 900 });
    });

    await run('every form field has a label', async () => {
      const unlabeled = await page.evaluate(() => Array.from(document.querySelectorAll('input, select, textarea'))
        .filter((e) => !e.labels || e.labels.length === 0).map((e) => e.id || e.name));
      if (unlabeled.length)
        throw new Error('fields without a <label>: ' + unlabeled.join(', '));
    });

    if (args.token) {
      await run('forget the token: back to the prompt, no data left', async () => {
        allowed401 = true;
        await page.click('#logout');
        await page.waitForSelector('#view-login:not([hidden])');
        if ((await page.locator('main table tbody tr').count()) !== 0)
          throw new Error('data is left on the page');
        allowed401 = false;
      });
    }
    log('all steps passed');
    return 0;
  } catch (e) {
    log('FAILED at "' + step + '": ' + (e && e.stack ? e.stack : e));
    if (consoleErrors.length)
      log('console errors: ' + consoleErrors.join(' | '));
    if (page) {
      try {
        const texts = await page.evaluate(() => Array.from(document.querySelectorAll(
          '#poll-error:not([hidden]), #errors li, .inline-error:not([hidden])')).map((x) => x.textContent));
        if (texts.length)
          log('errors shown on the page: ' + texts.join(' | '));
        await page.screenshot({ path: path.join(args.shots, 'failure.png'), fullPage: true });
      } catch (e2) {
        log('no failure screenshot: ' + e2.message);
      }
    }
    return 1;
  } finally {
    await ctx.close();
  }
}

main().then((rc) => process.exit(rc), (e) => {
  log('FAILED: ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
