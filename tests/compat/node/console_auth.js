// Sign-in on a gateway with access policies: nothing is shown before signing in, a wrong key
// is refused, a Listen policy can look but its changes are refused, a Manage policy can change.
// The key never reaches sessionStorage. Usage: node console_auth.js BASE HUB LISTEN_KEY MANAGE_KEY
'use strict';

const { run, check } = require('./console_support');

const [base, hub, listenKey, manageKey] = process.argv.slice(2);

async function signIn(page, policy, key) {
  await page.fill('#policy', policy);
  await page.fill('#key', key);
  await page.keyboard.press('Enter');
}

run(base, async ({ page }) => {
  const found = {};
  await page.goto(`${base}/console#/hubs`);
  await page.waitForSelector('#signin');
  check(await page.locator('#hubs').count() === 0, 'hubs shown before sign-in');

  await signIn(page, 'listener', 'not-the-key');
  await page.waitForSelector('#signin-error:has-text("401")');
  found.wrongKey = await page.locator('#signin-error').innerText();

  await signIn(page, 'listener', listenKey);
  await page.waitForSelector(`tr[data-hub="${hub}"]`);
  const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
  check(!stored.includes(listenKey), 'the key reached sessionStorage');
  check(stored.includes('SharedAccessSignature'), 'no token in sessionStorage');
  const cookies = await page.context().cookies();
  check(cookies.length === 0, `cookies set: ${JSON.stringify(cookies)}`);
  // Listen looks...
  await page.goto(`${base}/console#/hubs/${hub}`);
  await page.waitForSelector('#events article.event');
  // ...but cannot change: the server refuses and the console says so.
  await page.goto(`${base}/console#/hubs`);
  await page.fill('#create-hub input[name=name]', `${hub}-listen`);
  await page.click('#create-hub button[type=submit]');
  await page.waitForSelector('#toast div.error:has-text("403")');
  found.listenCreate = await page.locator('#toast div.error').first().innerText();

  await page.click('#signout');
  await page.waitForSelector('#signin');
  await signIn(page, 'admin', manageKey);
  await page.waitForSelector(`tr[data-hub="${hub}"]`);
  await page.fill('#create-hub input[name=name]', `${hub}-manage`);
  await page.click('#create-hub button[type=submit]');
  await page.waitForSelector(`tr[data-hub="${hub}-manage"]`);
  found.manageCreate = `${hub}-manage`;
  return found;
}).catch((e) => { console.error(e); process.exit(1); });
