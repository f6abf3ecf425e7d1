// The hub page in a real browser: records written over Kafka, AMQP and HTTP with their
// decoded properties, a consumer group's lag, an event sent from the form, and creating, changing and
// deleting a hub from the console. Usage: node console_hub.js BASE_URL HUB GROUP LAG NEW_HUB
'use strict';

const { run, check, screenshot } = require('./console_support');

const [base, hub, group, lag, newHub] = process.argv.slice(2);

run(base, async ({ page }) => {
  const found = {};
  await page.goto(`${base}/`);
  check(page.url() === `${base}/console`, `GET / ended at ${page.url()}`);
  await page.waitForSelector('#listeners');
  const listeners = await page.locator('#listeners tbody tr').allInnerTexts();
  check(listeners.length === 3 && ['kafka', 'amqp', 'http'].every((p) => listeners.some((l) => l.startsWith(p))), `listeners: ${listeners}`);
  found.storage = await page.locator('[data-card=storage] .value').innerText();
  await page.waitForSelector('svg.chart polyline');
  await screenshot(page, 'overview');

  await page.goto(`${base}/console#/hubs/${hub}`);
  await page.waitForSelector('#events article.event');
  // Lag of the Kafka group that committed part of partition 0.
  const shownLag = await page.locator(`[data-lag="${group}"]`).innerText();
  check(shownLag === lag, `group ${group}: lag shown ${shownLag}, expected ${lag}`);
  found.lag = shownLag;
  const events = page.locator('#events article.event');
  const texts = await events.allInnerTexts();
  const all = texts.join('\n');
  for (const needle of ['"from": "kafka"', 'from amqp', 'from http', 'k-kafka', 'pk-amqp', 'pk-http']) {
    check(all.includes(needle), `events do not show ${needle}:\n${all}`);
  }
  // AMQP: application properties with their types, properties section fields.
  const amqp = events.filter({ hasText: 'pk-amqp' });
  const rows = await amqp.locator('table.headers tbody tr').allInnerTexts();
  const props = await amqp.locator('table.props tbody tr').allInnerTexts();
  const row = (list, name) => (list.find((r) => r.startsWith(`${name}\t`)) || '').split('\t');
  check(row(rows, 'count')[1] === 'int' && row(rows, 'count')[2] === '7', `count: ${rows}`);
  check(row(rows, 'ratio')[1] === 'double' && row(rows, 'ratio')[2] === '1.5', `ratio: ${rows}`);
  check(row(rows, 'flag')[1] === 'boolean' && row(rows, 'flag')[2] === 'true', `flag: ${rows}`);
  check(row(rows, 'name')[1] === 'string' && row(rows, 'name')[2] === 'amqp-name', `name: ${rows}`);
  check(row(props, 'message-id')[2] === 'm-amqp', `message-id: ${props}`);
  check(row(props, 'content-type')[1] === 'symbol' && row(props, 'content-type')[2] === 'application/json', `content-type: ${props}`);
  // Kafka: raw header bytes; HTTP: user property and broker properties as text headers.
  const kafka = events.filter({ hasText: 'k-kafka' });
  check(row(await kafka.locator('table.headers tbody tr').allInnerTexts(), 'trace')[2] === '0x0001', 'kafka header trace');
  const http = events.filter({ hasText: 'pk-http' });
  const httpRows = await http.locator('table.headers tbody tr').allInnerTexts();
  check(row(httpRows, 'alert')[2] === 'strong wind' && row(httpRows, 'message-id')[2] === 'm-http', `http headers: ${httpRows}`);
  // Body views: pretty JSON, then hex.
  const body = kafka.locator('pre.body');
  check((await body.innerText()).includes('"from": "kafka"'), `pretty JSON: ${await body.innerText()}`);
  await kafka.locator('button[data-mode=hex]').click();
  check((await body.innerText()).startsWith('000000  7b'), `hex: ${await body.innerText()}`);
  found.events = texts.length;
  await screenshot(page, 'hub');

  // Send from the form, to partition 0, with a property; the keyboard submits it.
  await page.fill('#send-form textarea[name=body]', 'from the console');
  await page.selectOption('#send-form select[name=partition]', '0');
  await page.fill('#send-form input[name=prop-name]', 'origin');
  await page.fill('#send-form input[name=prop-value]', 'console');
  await page.focus('#send-form button[type=submit]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#toast div:has-text("Event sent")');
  await page.waitForSelector('#events article.event:has-text("from the console")');

  // Create a hub on the Hubs page, find it with the filter, delete it with confirmation.
  await page.goto(`${base}/console#/hubs`);
  await page.fill('#create-hub input[name=name]', newHub);
  await page.fill('#create-hub input[name=partitions]', '2');
  await page.click('#create-hub button[type=submit]');
  await page.waitForSelector(`tr[data-hub="${newHub}"]`);
  const created = await page.request.get(`${base}/${newHub}`);
  check(created.status() === 200 && (await created.json()).partition_count === 2, `created hub: ${created.status()}`);
  // Change it on its page: one more partition, retention of one hour.
  await page.click(`tr[data-hub="${newHub}"] a`);
  await page.waitForSelector('#hub-settings');
  await page.fill('#hub-settings input[name=partitions]', '3');
  await page.fill('#hub-settings input[name=retention_ms]', '3600000');
  await page.click('#hub-settings button[type=submit]');
  await page.waitForSelector('#toast div:has-text("Saved")');
  const changed = await (await page.request.get(`${base}/${newHub}`)).json();
  check(changed.partition_count === 3 && changed.retention_ms === 3600000, `changed hub: ${JSON.stringify(changed)}`);
  await page.goto(`${base}/console#/hubs`);
  await page.waitForSelector(`tr[data-hub="${newHub}"]`);
  await page.fill('#hub-filter', newHub);
  check(await page.locator('#hubs tbody tr').count() === 1, 'filter leaves one row');
  await page.click(`tr[data-hub="${newHub}"] button.danger`);
  await page.waitForSelector('dialog#confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForSelector(`tr[data-hub="${newHub}"]`, { state: 'detached' });
  const gone = await page.request.get(`${base}/${newHub}`);
  check(gone.status() === 404, `deleted hub still answers ${gone.status()}`);
  found.createdAndDeleted = newHub;
  return found;
}).catch((e) => { console.error(e); process.exit(1); });
