// The Groups pages with a live Kafka consumer group: its state, protocol, member and assigned
// partitions from the coordinator, its lag, and a reset that the server refuses while the
// member is in the group. Usage: node console_groups.js BASE_URL GROUP HUB
'use strict';

const { run, check } = require('./console_support');

const [base, group, hub] = process.argv.slice(2);

run(base, async ({ page }) => {
  await page.goto(`${base}/console#/groups`);
  const row = page.locator('#groups tbody tr', { hasText: group });
  await row.waitFor();
  const cells = await row.locator('td').allInnerTexts();
  check(cells[2] === 'Stable' && cells[3] === hub, `groups row: ${cells}`);
  await row.locator('a').click();
  await page.waitForSelector('#group-members');
  const state = await page.locator('#group-state').innerText();
  check(state === 'Stable', `state ${state}`);
  const member = (await page.locator('#group-members tbody tr').allInnerTexts()).join('\n');
  check(member.includes('console-test-client') && member.includes(`${hub}: 0, 1`), `member: ${member}`);
  const lag = await page.locator('#group-lag').innerText();
  // The reset is refused while the member is in the group.
  await page.selectOption('#reset-form select[name=to]', 'earliest');
  await page.click('#reset-form button[type=submit]');
  await page.waitForSelector('dialog#confirm[open]');
  await page.keyboard.press('Tab'); // from Cancel (focused first) to Reset
  await page.keyboard.press('Enter');
  await page.waitForSelector('#toast div.error:has-text("409")');
  return { state, lag, member };
}).catch((e) => { console.error(e); process.exit(1); });
