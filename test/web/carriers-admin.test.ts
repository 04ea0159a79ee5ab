// The Carriers page in a real browser (Debian's Chromium, driven by playwright-core) against a real server: an
// administrator connects a carrier from the UI alone. An ip trunk is created and listed with its live state light
// (in words), which follows the engine without a reload: up while a stand-in carrier answers its OPTIONS, then down
// with its last error as text once the trunk is switched to a transport nobody listens on. A phone number leads to
// an extension, an outbound route with a pattern is created after a bad pattern is refused with the parser's reason
// next to the patterns field, routes are reordered, and the dial policy is changed. A registration trunk whose
// server does not resolve is refused with the message next to its host field; once created, its password is never
// shown and is kept when the field is left empty. Deleting a trunk a route uses is refused with the server's
// message. At 390 px nothing scrolls sideways, and a manager reads everything but changes nothing.
// Screenshots of every tab at desktop and phone width are kept in test-artifacts/screenshots.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { wavFile } from '../../src/media/index.ts';
import { sineSamples } from '../support/audio.ts';
import { launchChromium, tempDir } from '../support/browser.ts';
import { freePort } from '../support/process.ts';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createUser, useTestServer } from '../support/server.ts';
import { sleep, until } from '../support/wait.ts';

const SHOTS = path.resolve('test-artifacts/screenshots');
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const TRUNK_PASSWORD = 'Carrier-Secret-4711';

interface TrunkBody {
  id: string;
  name: string;
  auth: string;
  servers: Array<{ host: string; port: number; transport: string }>;
  allowedAddresses: string[];
  hasPassword: boolean;
  username: string | null;
  status: { state: string; lastError: string | null };
}

/**
 * A stand-in carrier on a UDP port: answers every OPTIONS with 200 OK (the keepalive a carrier answers) and counts
 * them, so the test knows the engine probes the trunk the page created.
 */
async function optionsAnswerer(port: number): Promise<{ socket: dgram.Socket; probes: () => number }> {
  const socket = dgram.createSocket('udp4');
  let probes = 0;
  socket.on('message', (msg, from) => {
    const text = msg.toString('utf8');
    if (!text.startsWith('OPTIONS ')) return;
    probes++;
    const copied = text.split('\r\n').filter((l) => /^(via|v|from|f|call-id|i|cseq):/i.test(l));
    const to = text.split('\r\n').find((l) => /^(to|t):/i.test(l)) ?? 'To: <sip:keepalive@127.0.0.1>';
    const reply = ['SIP/2.0 200 OK', ...copied, /;tag=/.test(to) ? to : `${to};tag=carrier`, 'Content-Length: 0', '', ''].join('\r\n');
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', () => resolve()));
  return { socket, probes: () => probes };
}

/** The text a screen reader reads with a field: what its aria-describedby names (its error, then its hint). */
const description = (field: Locator) =>
  field.evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' | '),
  );

describe('the Carriers page in Chromium: trunks, phone numbers, outbound routes and the dial policy from the UI alone', () => {
  const dir = tempDir('switchboard-carriers-');
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const consoleErrors: string[] = [];
  let carrier: Awaited<ReturnType<typeof optionsAnswerer>> | undefined;
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    carrier?.socket.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const ctx = useTestServer('pglite');
  const url = (p: string) => `${ctx.t.server.url}${p}`;
  const api = async <T>(p: string): Promise<T> => (await ctx.t.request('GET', p, { token: ctx.token })).json() as T;
  const trunkNamed = async (name: string) => (await api<{ trunks: TrunkBody[] }>('/api/pbx/trunks')).trunks.find((t) => t.name === name);

  let admin: Page;
  let carrierPort = 0;
  let alice = { number: 0, name: 'Alice Agent' };

  async function newPage(name: string): Promise<Page> {
    assert.ok(browser);
    const context = await browser.newContext({ viewport: DESKTOP });
    contexts.push(context);
    const page = await context.newPage();
    // The pages run under the app's strict Content-Security-Policy; a refusal would be logged, and the last test fails on it.
    await page.addInitScript(() =>
      document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} refused ${e.blockedURI || 'inline'}`)),
    );
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${name}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${name}: ${e.message}`));
    // Deleting asks for confirmation; the test says yes.
    page.on('dialog', (d) => void d.accept());
    return page;
  }

  async function login(page: Page, email: string, password: string, home: string): Promise<void> {
    await page.goto(url('/login'));
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(url(home));
  }

  async function shoot(page: Page, name: string): Promise<void> {
    fs.mkdirSync(SHOTS, { recursive: true });
    const viewport = page.viewportSize() ?? DESKTOP;
    await page.screenshot({ path: path.join(SHOTS, `${name}-desktop.png`), fullPage: true });
    await page.setViewportSize(PHONE);
    await sleep(200);
    await page.screenshot({ path: path.join(SHOTS, `${name}-phone.png`), fullPage: true });
    await page.setViewportSize(viewport);
  }

  const tab = (page: Page, name: string) => page.getByRole('tab', { name, exact: true }).click();

  before(async () => {
    const microphone = path.join(dir, 'microphone.wav');
    fs.writeFileSync(microphone, wavFile(sineSamples(700, 1), 48_000));
    browser = await launchChromium({ microphoneWav: microphone });
    carrierPort = await freePort();
    carrier = await optionsAnswerer(carrierPort);
    const created = await createUser(ctx.t, ctx.token, { name: alice.name, email: 'alice@example.com' });
    alice = { ...alice, number: created.extension?.number ?? 0 };
  });

  it('an administrator opens Carriers from the navigation; with nothing yet, each tab says what to do next', async () => {
    admin = await newPage('admin');
    await login(admin, ADMIN_EMAIL, ADMIN_PASSWORD, '/pbx/dashboard');
    await admin.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Carriers' }).click();
    await admin.waitForURL(url('/pbx/admin/carriers'));
    await admin.getByRole('heading', { name: 'Carriers', exact: true }).waitFor();
    assert.equal(await admin.getByTestId('trunks-empty').textContent(), 'No carrier yet: add the SIP trunk your provider gave you.');
    // With no trunk, the form is open from the start: there is nothing else to do on this tab.
    await admin.getByRole('heading', { name: 'Add a trunk' }).waitFor();
    await tab(admin, 'Phone numbers');
    await admin.waitForURL(url('/pbx/admin/carriers?tab=numbers'));
    assert.match((await admin.getByTestId('numbers-empty').textContent()) ?? '', /add a trunk first/);
    await tab(admin, 'Outbound routes');
    assert.match((await admin.getByTestId('routes-empty').textContent()) ?? '', /add a trunk first/);
    await shoot(admin, 'carriers-empty');
    await tab(admin, 'Trunks');
  });

  it('creates an ip trunk; it is listed with a state light in words that follows the engine without a reload, its last error as text', async () => {
    const form = admin.getByRole('region', { name: 'Add a trunk' });
    await form.getByLabel('Name', { exact: true }).fill('Carrier One');
    const server = form.getByRole('group', { name: /^Server 1/ });
    await server.getByLabel('Host', { exact: true }).fill('127.0.0.1');
    await server.getByLabel('Port', { exact: true }).fill(String(carrierPort));
    await server.getByLabel('Transport').selectOption('udp');
    await form.getByLabel(/^IP address: the carrier sends calls/).check();
    await form.getByLabel('Allowed addresses, one per line').fill('127.0.0.2');
    await form.getByLabel('Keepalive (seconds)').fill('5');
    await form.getByRole('button', { name: 'Add trunk', exact: true }).click();

    const card = admin.locator('li[data-trunk="Carrier One"]');
    await card.waitFor();
    await admin.getByRole('status').filter({ hasText: 'Trunk Carrier One added.' }).waitFor();
    const stored = await trunkNamed('Carrier One');
    assert.equal(stored?.auth, 'ip');
    assert.deepEqual(stored?.servers, [{ host: '127.0.0.1', port: carrierPort, transport: 'udp' }]);
    assert.deepEqual(stored?.allowedAddresses, ['127.0.0.2']);
    await until('the engine probes the new trunk', () => carrier?.probes() ?? 0, (n) => n >= 1);
    const light = card.getByTestId('trunk-state');
    await card.locator('[data-testid="trunk-state"][data-state="up"]').waitFor();
    assert.equal(await light.locator('.light').textContent(), 'Up');
    assert.match((await light.textContent()) ?? '', /Its servers answer/);
    assert.match((await card.textContent()) ?? '', /IP: calls from 127\.0\.0\.2/);
    await shoot(admin, 'carriers-trunk-up');

    // The list asks again every few seconds by itself (react-query's refetchInterval), not only after a change.
    let listed = 0;
    const count = (r: { url(): string; method(): string }) => {
      if (r.method() === 'GET' && r.url().endsWith('/api/pbx/trunks')) listed++;
    };
    admin.on('request', count);
    await sleep(7000);
    admin.off('request', count);
    assert.ok(listed >= 2, `the trunks were asked for ${listed} times in 7 s`);

    // Over TCP nobody listens on that port: the engine marks the trunk down, and the light says so with the reason.
    await card.getByRole('button', { name: 'Edit' }).click();
    const edit = admin.getByRole('region', { name: 'Edit trunk Carrier One' });
    await edit.getByRole('group', { name: /^Server 1/ }).getByLabel('Transport').selectOption('tcp');
    await edit.getByRole('button', { name: 'Save trunk' }).click();
    await admin.getByRole('status').filter({ hasText: 'Trunk Carrier One saved.' }).waitFor();
    await card.locator('[data-testid="trunk-state"][data-state="down"]').waitFor({ timeout: 15_000 });
    assert.equal(await light.locator('.light').textContent(), 'Down');
    assert.match((await light.textContent()) ?? '', /No server answers: calls skip this trunk/);
    assert.equal(await card.getByTestId('trunk-last-error').textContent(), 'Last error: connection refused');
    assert.equal((await trunkNamed('Carrier One'))?.servers[0]?.transport, 'tcp');
    await shoot(admin, 'carriers-trunk-down');
  });

  it('adds a phone number that leads to an extension chosen from the tenant\'s own', async () => {
    await tab(admin, 'Phone numbers');
    const form = admin.getByRole('region', { name: 'Add a phone number' });
    await form.getByLabel('Phone number').fill('+1 415 555 0100');
    await form.getByLabel('Calls go to').selectOption({ label: 'An extension' });
    await form.getByLabel('Extension', { exact: true }).selectOption({ label: `${alice.number} ${alice.name}` });
    await form.getByLabel('Arrives on').selectOption({ label: 'Carrier One' });
    await form.getByLabel('Description').fill('Main line');
    await form.getByRole('button', { name: 'Add number' }).click();
    const row = admin.locator('tr[data-number="+14155550100"]');
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', new RegExp(`Extension ${alice.number} ${alice.name}.*Carrier One.*Main line`));
    const numbers = await api<{ numbers: Array<{ number: string; destination: unknown; trunkId: string | null }> }>('/api/pbx/numbers');
    assert.deepEqual(numbers.numbers[0]?.destination, { type: 'extension', number: alice.number });
    assert.equal(numbers.numbers[0]?.trunkId, (await trunkNamed('Carrier One'))?.id);
    await shoot(admin, 'carriers-numbers');
  });

  it('adds an outbound route: a bad pattern is refused with the parser\'s reason next to the patterns field; routes are reordered', async () => {
    await tab(admin, 'Outbound routes');
    const form = admin.getByRole('region', { name: 'Add an outbound route' });
    await form.getByLabel('Route name').fill('US national');
    const patterns = form.getByLabel('Dial patterns, one per line');
    await patterns.fill('_NXXNXXXXXX\n_1[2');
    await form.getByLabel('Trunk 1 (tried first)').selectOption({ label: 'Carrier One' });
    await form.getByLabel('Caller ID', { exact: true }).fill('+14155550100');
    await form.getByRole('button', { name: 'Add route' }).click();
    await form.getByRole('alert').filter({ hasText: 'Not saved: see the message next to the field above.' }).waitFor();
    assert.equal(await patterns.getAttribute('aria-invalid'), 'true');
    const said = await description(patterns);
    assert.match(said, /^'_1\[2': unclosed '\['/, said);
    await shoot(admin, 'carriers-route-refused');

    await patterns.fill('_NXXNXXXXXX\n_1NXXNXXXXXX');
    await form.getByRole('button', { name: 'Add route' }).click();
    const route = admin.locator('li[data-route="US national"]');
    await route.waitFor();
    assert.match((await route.textContent()) ?? '', /_NXXNXXXXXX_1NXXNXXXXXX.*Carrier One.*\+14155550100/);
    assert.equal(await patterns.count(), 0, 'the form closes once saved');

    await admin.getByRole('button', { name: 'Add a route' }).click();
    const second = admin.getByRole('region', { name: 'Add an outbound route' });
    await second.getByLabel('Route name').fill('Emergency');
    await second.getByLabel('Dial patterns, one per line').fill('911');
    await second.getByRole('button', { name: 'Add route' }).click();
    await admin.locator('li[data-route="Emergency"]').waitFor();
    await admin.getByRole('button', { name: 'Move Emergency up' }).click();
    await until('Emergency is tried first', () => admin.locator('li[data-route]').first().getAttribute('data-route'), (n) => n === 'Emergency');
    const routes = await api<{ routes: Array<{ name: string; patterns: string[]; trunkIds: string[]; callerId: string | null }> }>('/api/pbx/outbound-routes');
    assert.deepEqual(routes.routes.map((r) => r.name), ['Emergency', 'US national']);
    assert.deepEqual(routes.routes[1]?.patterns, ['_NXXNXXXXXX', '_1NXXNXXXXXX']);
    assert.equal(routes.routes[1]?.callerId, '+14155550100');
  });

  it('changes the dial policy: agents may call abroad, and the tenant takes 5 external calls at once', async () => {
    const policy = admin.getByTestId('dial-policy');
    const agents = policy.getByRole('group', { name: 'Agents may dial' });
    // The server's defaults, as shown: international and premium off for every role.
    assert.equal(await agents.getByLabel('international', { exact: true }).isChecked(), false);
    assert.equal(await agents.getByLabel('premium rate', { exact: true }).isChecked(), false);
    assert.equal(await agents.getByLabel('national', { exact: true }).isChecked(), true);
    await agents.getByLabel('international', { exact: true }).check();
    await policy.getByLabel('Max external calls at once').fill('5');
    await policy.getByRole('button', { name: 'Save dial policy' }).click();
    await policy.getByRole('status').filter({ hasText: 'Dial policy saved.' }).waitFor();
    const saved = await api<{ maxExternalCalls: number; classes: Record<string, string[]> }>('/api/pbx/dial-policy');
    assert.equal(saved.maxExternalCalls, 5);
    assert.deepEqual(saved.classes.AGENT, ['emergency', 'internal', 'tollfree', 'national', 'mobile', 'international']);
    assert.deepEqual(saved.classes.MANAGER, ['emergency', 'internal', 'tollfree', 'national', 'mobile']);
    await shoot(admin, 'carriers-routes');
  });

  it('a registration trunk whose server does not resolve is refused with the message next to the host field; once created, its password is never shown and is kept', async () => {
    await tab(admin, 'Trunks');
    await admin.getByRole('button', { name: 'Add a trunk' }).click();
    const form = admin.getByRole('region', { name: 'Add a trunk' });
    await form.getByLabel('Name', { exact: true }).fill('Carrier Two');
    await form.getByLabel(/^Registration: we register/).check();
    const host = form.getByRole('group', { name: /^Server 1/ }).getByLabel('Host', { exact: true });
    await host.fill('no-such-host.invalid');
    await form.getByLabel('Username', { exact: true }).fill('acct-1001');
    await form.getByLabel('Password', { exact: true }).fill(TRUNK_PASSWORD);
    await form.getByRole('button', { name: 'Add trunk', exact: true }).click();
    await form.getByRole('alert').waitFor({ timeout: 10_000 });
    assert.equal(await host.getAttribute('aria-invalid'), 'true');
    const said = await description(host);
    assert.match(said, /^'no-such-host\.invalid' does not resolve/, said);
    await shoot(admin, 'carriers-host-refused');

    // An IP address needs no lookup; nobody answers there, and the light says what the registration does.
    await host.fill('127.0.0.1');
    await form.getByRole('group', { name: /^Server 1/ }).getByLabel('Port', { exact: true }).fill(String(await freePort()));
    await form.getByRole('button', { name: 'Add trunk', exact: true }).click();
    const card = admin.locator('li[data-trunk="Carrier Two"]');
    await card.waitFor();
    assert.match((await card.getByTestId('trunk-state').getAttribute('data-state')) ?? '', /^(registering|failed|unknown|down)$/);
    assert.match((await card.textContent()) ?? '', /registration as acct-1001.*password stored/);

    await card.getByRole('button', { name: 'Edit' }).click();
    const edit = admin.getByRole('region', { name: 'Edit trunk Carrier Two' });
    const password = edit.getByLabel('Password', { exact: true });
    assert.equal(await password.inputValue(), '', 'the stored password is never put back in the page');
    assert.equal(await password.getAttribute('placeholder'), 'stored (leave empty to keep)');
    assert.ok(!(await admin.content()).includes(TRUNK_PASSWORD));
    await edit.getByLabel('Max calls at once').fill('10');
    await edit.getByRole('button', { name: 'Save trunk' }).click();
    await admin.getByRole('status').filter({ hasText: 'Trunk Carrier Two saved.' }).waitFor();
    const stored = await trunkNamed('Carrier Two');
    assert.equal(stored?.hasPassword, true, 'an empty password field keeps the stored one');
    assert.equal(stored?.username, 'acct-1001');
  });

  it('deleting a trunk an outbound route uses is refused, and the page says why (409)', async () => {
    const card = admin.locator('li[data-trunk="Carrier One"]');
    await card.getByRole('button', { name: 'Delete' }).click();
    const alert = admin.getByRole('alert').filter({ hasText: "The trunk is used by the outbound routes 'Emergency', 'US national'" });
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /take it out of them first/);
    assert.ok(await trunkNamed('Carrier One'), 'the trunk is still there');
    // The one no route uses goes.
    await admin.locator('li[data-trunk="Carrier Two"]').getByRole('button', { name: 'Delete' }).click();
    await admin.locator('li[data-trunk="Carrier Two"]').waitFor({ state: 'detached' });
  });

  it('at 390 px wide no tab scrolls sideways', async () => {
    await admin.setViewportSize(PHONE);
    for (const name of ['Trunks', 'Phone numbers', 'Outbound routes']) {
      await tab(admin, name);
      await admin.getByRole('tabpanel').waitFor();
      await sleep(100);
      const [scroll, client] = await admin.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      assert.ok(scroll <= client, `${name}: the page is ${scroll} px wide in a ${client} px window`);
    }
    // The trunk form, the widest thing here, fits too.
    await tab(admin, 'Trunks');
    await admin.getByRole('button', { name: 'Add a trunk' }).click();
    const [scroll, client] = await admin.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(scroll <= client, `the trunk form is ${scroll} px wide in a ${client} px window`);
    await admin.setViewportSize(DESKTOP);
    await shoot(admin, 'carriers-trunks');
    await admin.getByRole('button', { name: 'Cancel' }).click();
    await tab(admin, 'Phone numbers');
    await shoot(admin, 'carriers-numbers-list');
  });

  it('a manager reads trunks, numbers and routes but is offered no change, and no dial policy', async () => {
    await createUser(ctx.t, ctx.token, { name: 'Mia Manager', email: 'mia@example.com', role: 'MANAGER', password: 'manager password', withExtension: false });
    const manager = await newPage('manager');
    await login(manager, 'mia@example.com', 'manager password', '/pbx/manager');
    await manager.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Carriers' }).click();
    const card = manager.locator('li[data-trunk="Carrier One"]');
    await card.getByTestId('trunk-state').waitFor();
    assert.equal(await manager.getByRole('button', { name: /Add a trunk|Edit|Delete/ }).count(), 0);
    await tab(manager, 'Phone numbers');
    await manager.locator('tr[data-number="+14155550100"]').waitFor();
    assert.equal(await manager.getByRole('button', { name: /Edit|Remove|Add a number/ }).count(), 0);
    await tab(manager, 'Outbound routes');
    await manager.locator('li[data-route="US national"]').waitFor();
    assert.equal(await manager.getByRole('button', { name: /Move|Edit|Delete|Add a route/ }).count(), 0);
    assert.equal(await manager.getByTestId('dial-policy').count(), 0);
  });

  it('no page wrote an error to its console, but for the refusals the test asked for', async () => {
    await sleep(200);
    // A 400 or a 409 is logged by the browser as a failed resource: those are the answers the test provoked.
    const unexpected = consoleErrors.filter((e) => !/the server responded with a status of (400|409)/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
