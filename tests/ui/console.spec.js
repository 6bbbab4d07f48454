// The console's user journeys in a real browser: log in, add a provider and get an answer
// through it, watch the request arrive in live logs, give a virtual key a budget and watch its
// bar move, roll back a configuration version — plus the other pages, dark mode, a phone-sized
// screen, the keyboard, and errors that say why. Every page's screenshot goes to docs/ui/.

const {test, expect} = require('@playwright/test');
const path = require('node:path');

const GW = process.env.HEIMDALL_URL;
const MOCK = process.env.MOCK_URL;
const ADMIN = process.env.HEIMDALL_ADMIN;
const PASSWORD = process.env.HEIMDALL_PASSWORD;
const SHOTS = path.join(__dirname, '..', '..', 'docs', 'ui');
const PROVIDER_SECRET = 'sk-console-secret-7788';

async function shot(page, name) {
  // Passing notices are left out: they belong to the moment, not to the page.
  await page.screenshot({path: path.join(SHOTS, `${name}.png`), style: '.notices { display: none; }'});
}

/** A chat completion through the gateway; returns {status, requestId, body}. */
async function chat(content, headers = {}) {
  const res = await fetch(`${GW}/v1/chat/completions`, {
    method: 'POST',
    headers: {'content-type': 'application/json', ...headers},
    body: JSON.stringify({model: 'mock/gpt-4o-mini', messages: [{role: 'user', content}]}),
  });
  return {status: res.status, requestId: res.headers.get('x-request-id'), body: await res.json()};
}

test.describe.configure({mode: 'serial'});

let page;
let vkValue;

test.beforeAll(async ({browser}) => {
  page = await browser.newPage();
  page.on('pageerror', (e) => {
    throw new Error(`script error on the page: ${e.message}`);
  });
});

test.afterAll(async () => {
  await page.close();
});

test('log in: a wrong password is refused with a reason, the right one opens the dashboard', async () => {
  const res = await page.goto('/');
  expect(res.headers()['content-security-policy']).toContain("script-src 'self'");
  await expect(page.getByRole('heading', {name: 'Log in to Heimdall'})).toBeVisible();
  await shot(page, 'login');
  await page.getByLabel('Username').fill(ADMIN);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', {name: 'Log in'}).click();
  await expect(page.getByRole('alert')).toContainText('Wrong username or password');
  // The management API refuses a browser without the session.
  expect((await page.request.get('/api/providers')).status()).toBe(401);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', {name: 'Log in'}).click();
  await expect(page.getByRole('heading', {name: 'Dashboard'})).toBeVisible();
  await expect(page.getByRole('button', {name: 'Log out'})).toBeVisible();
});

test('add a provider through the page, then a chat answer comes through it', async () => {
  await page.getByRole('link', {name: 'Providers'}).click();
  await expect(page.getByText('No providers yet')).toBeVisible();
  await page.getByRole('button', {name: 'Add provider'}).click();
  await page.getByLabel('Name', {exact: true}).fill('mock');
  await page.getByLabel('Type').selectOption('openai');
  await page.getByLabel('Base URL').fill(MOCK);
  await page.getByLabel('Key name').fill('console-key');
  await page.getByLabel('Key secret').fill(PROVIDER_SECRET);
  await page.locator('form').getByRole('button', {name: 'Add provider'}).click();
  const card = page.locator('article[data-provider="mock"]');
  await expect(card).toBeVisible();
  await expect(card.getByText('serving')).toBeVisible();
  // The secret is shown only as its last four characters.
  await expect(card.getByText('****7788')).toBeVisible();
  await expect(page.locator('body')).not.toContainText(PROVIDER_SECRET);

  const r = await chat('hello through the console');
  expect(r.status).toBe(200);
  expect(r.body.choices[0].message.content).toContain('mock provider');

  // Test the key against the provider.
  await card.getByRole('button', {name: 'Test'}).click();
  await expect(card.locator('.test-result')).toContainText('works');

  // A failing action says why: the same provider again is a conflict.
  await page.getByRole('button', {name: 'Add provider'}).first().click();
  await page.getByLabel('Name', {exact: true}).fill('mock');
  await page.getByLabel('Type').selectOption('openai');
  await page.locator('form').getByRole('button', {name: 'Add provider'}).click();
  await expect(page.locator('form .form-error')).toContainText(/exists.*HTTP 409/);
  await page.getByRole('button', {name: 'Add provider'}).first().click();
  await shot(page, 'providers');
});

test('live logs: a new request is on the page within 1 s, and its detail opens', async () => {
  await page.getByRole('link', {name: 'Logs'}).click();
  await expect(page.locator('.live-state')).toHaveText('live');
  const sent = Date.now();
  const r = await chat(`live log check ${sent}`);
  expect(r.status).toBe(200);
  const row = page.locator(`tr[data-id="${r.requestId}"]`);
  await expect(row).toBeVisible({timeout: 1000});
  console.log(`live log: the request was on the page ${Date.now() - sent} ms after it was sent`);
  await shot(page, 'logs');
  // Keyboard: focus the row, Enter opens the detail, Escape closes it.
  await row.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await expect(dialog.getByRole('heading', {name: /Request/})).toBeVisible();
  await expect(dialog).toContainText('console-key');
  await expect(dialog).toContainText(`live log check ${sent}`);
  await shot(page, 'log-detail');
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  // A filter that excludes the provider hides the next live request.
  await page.getByLabel('Provider').fill('nobody');
  await page.getByRole('button', {name: 'Apply'}).click();
  const hidden = await chat(`filtered out ${Date.now()}`);
  await page.waitForTimeout(500);
  await expect(page.locator(`tr[data-id="${hidden.requestId}"]`)).toHaveCount(0);
  await page.getByRole('button', {name: 'Clear'}).click();
});

test('create a virtual key with a budget; its usage bar moves as it is used', async () => {
  await page.getByRole('link', {name: 'Virtual keys'}).click();
  await page.getByRole('button', {name: 'New virtual key'}).click();
  await page.getByLabel('Name', {exact: true}).fill('console app');
  await page.getByLabel('Budget (USD)').fill('0.05');
  await page.getByLabel('Budget resets every').selectOption('1d');
  await page.getByLabel('Requests', {exact: true}).fill('100');
  await page.getByRole('button', {name: 'Create virtual key'}).click();
  await expect(page.getByText('shown this once')).toBeVisible();
  vkValue = (await page.locator('code.secret-once').textContent()).trim();
  expect(vkValue).toMatch(/^sk-bf-/);
  await page.getByRole('button', {name: 'Done'}).click();
  const bar = page.getByRole('meter', {name: /Budget/}).first();
  await expect(bar).toHaveAttribute('aria-valuenow', '0');
  for (let i = 0; i < 3; i++) {
    const r = await chat(`spend ${i} ${Date.now()}`, {authorization: `Bearer ${vkValue}`});
    expect(r.status).toBe(200);
  }
  await expect.poll(async () => Number(await bar.getAttribute('aria-valuenow')), {timeout: 8000}).toBeGreaterThan(0);
  const requests = page.getByRole('meter', {name: /Requests per/}).first();
  // Each chat is two model turns (the gateway runs the MCP echo tool the mock asks for, then
  // asks again), and the rate limit counts every turn.
  await expect.poll(async () => Number(await requests.getAttribute('aria-valuenow')), {timeout: 8000}).toBe(6);
  await shot(page, 'virtual-keys');
});

test('roll back a configuration version: the preview shows the change, then it is applied', async () => {
  await page.getByRole('link', {name: 'Config'}).click();
  const rows = page.locator('table.versions tbody tr');
  await expect(rows.first()).toContainText('current');
  // The version before the virtual key was created.
  const versions = await (await page.request.get('/api/config/versions')).json();
  const before = versions.versions.find((v) => v.summary.includes('providers') || v.summary.includes('mock'));
  expect(before).toBeTruthy();
  await page.locator(`tr[data-version="${before.version}"]`).getByRole('button', {name: 'Diff'}).click();
  await expect(page.getByRole('dialog')).toContainText('Changes from the version before');
  await shot(page, 'config-diff');
  await page.keyboard.press('Escape');
  await page.locator(`tr[data-version="${before.version}"]`).getByRole('button', {name: 'Roll back'}).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('governance');
  await dialog.getByRole('button', {name: `Roll back to version ${before.version}`}).click();
  await expect(page.getByRole('status').last()).toContainText('Rolled back');
  await expect(rows.first()).toHaveAttribute('data-version', String(versions.current + 1));
  await expect(rows.first()).toContainText('current');
  await shot(page, 'config');
  // The virtual key is gone with the rollback.
  const keys = await (await page.request.get('/api/governance/virtual-keys')).json();
  expect(keys.virtual_keys.map((k) => k.name)).not.toContain('console app');
  await page.getByRole('link', {name: 'Virtual keys'}).click();
  await expect(page.getByText('No virtual keys yet.')).toBeVisible();
  await page.getByRole('link', {name: 'Config'}).click();
  const now = await (await page.request.get('/api/config/versions')).json();
  expect(now.current).toBe(versions.current + 1);
});

test('dashboard, cache and MCP pages show live state', async () => {
  await page.getByRole('link', {name: 'Dashboard'}).click();
  await expect(page.locator('.stat').first()).toContainText('Requests');
  await expect(page.locator('svg.chart').first()).toBeVisible();
  await expect(page.locator('table')).toContainText('mock');
  await shot(page, 'dashboard');

  await page.getByRole('link', {name: 'Cache'}).click();
  await expect(page.getByText('memory backend')).toBeVisible();
  await shot(page, 'cache');

  await page.getByRole('link', {name: 'MCP'}).click();
  const client = page.locator('article[data-client="everything"]');
  await expect(client.getByText('connected', {exact: true})).toBeVisible({timeout: 20000});
  await expect(client).toContainText('echo');
  await shot(page, 'mcp');
});

test('dark theme, and a 390 px wide screen with the menu', async () => {
  await page.getByRole('link', {name: 'Dashboard'}).click();
  await page.getByRole('button', {name: /Colour theme/}).click(); // system → light
  await page.getByRole('button', {name: /Colour theme/}).click(); // light → dark
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await expect(page.locator('svg.chart').first()).toBeVisible();
  await shot(page, 'dashboard-dark');
  await page.setViewportSize({width: 390, height: 844});
  await expect(page.getByRole('link', {name: 'Logs'})).toBeHidden();
  await page.getByRole('button', {name: 'Menu'}).click();
  await page.getByRole('link', {name: 'Virtual keys'}).click();
  await expect(page.getByRole('heading', {name: /Virtual keys/}).first()).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await shot(page, 'mobile');
  await page.setViewportSize({width: 1280, height: 860});
});

test('logging out ends the session', async () => {
  await page.getByRole('button', {name: 'Log out'}).click();
  await expect(page.getByRole('heading', {name: 'Log in to Heimdall'})).toBeVisible();
  expect((await page.request.get('/api/providers')).status()).toBe(401);
});
