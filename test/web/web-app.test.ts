// The web app in a real browser (Debian's Chromium, driven by playwright-core, fake microphone playing a tone)
// against a real server with rtpengine: an administrator provisions two agents, a manager and a queue in the admin
// pages; the agents log in by extension and their softphones register by themselves; one calls the other from the
// dial pad and they hear each other (WebRTC's own statistics in each page); hold, hang up, wrap-up; the manager's
// wallboard follows it all live; a sipp caller reaches the queue and the agent's browser answers it; logout
// unregisters, a refresh registers again, and a killed WebSocket turns the indicator red and then green.
// Screenshots of every page at desktop and phone width are kept in test-artifacts/screenshots.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { wavFile } from '../../src/media/index.ts';
import { dominantTone, sineSamples } from '../support/audio.ts';
import { RtpSink } from '../support/rtp.ts';
import { answered, CALLER_HANGS_UP, caller, carrierCaller, type Ext, WAIT_FOR_BYE } from '../support/calls.ts';
import { launchChromium, tempDir } from '../support/browser.ts';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createUser, useTestServer } from '../support/server.ts';
import { sleep, until } from '../support/wait.ts';

const SHOTS = path.resolve('test-artifacts/screenshots');
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

type Stats = { packetsReceived: number; packetsSent: number; totalAudioEnergy: number; audioLevel: number } | null;


describe('the web app in Chromium: provisioning, softphones, a call, the wallboard, a queue call', () => {
  const dir = tempDir('switchboard-web-');
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  /** Errors the pages wrote to their consoles, or threw. */
  const consoleErrors: string[] = [];
  /** What the Content-Security-Policy refused, in any page, all along (never cleared). */
  const cspViolations: string[] = [];
  after(async () => {
    await browser?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const ctx = useTestServer('pglite', { rtpengine: 'auto' });
  const url = (p: string) => `${ctx.t.server.url}${p}`;

  let admin: Page;
  let alice: Page;
  let bob: Page;
  let manager: Page;
  const people: Record<string, { number: string; secret: string; id: string }> = {};

  async function newPage(name: string, viewport = DESKTOP): Promise<Page> {
    assert.ok(browser);
    const context = await browser.newContext({ viewport, permissions: ['microphone'] });
    contexts.push(context);
    const page = await context.newPage();
    // The browser fires securitypolicyviolation for every refusal, inline or not; the page reports each one.
    await page.addInitScript(() =>
      document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} refused ${e.blockedURI || 'inline'}`)),
    );
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${name}: ${m.text()}`);
      if (/CSP violation|Content Security Policy/.test(m.text())) cspViolations.push(`${name}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${name}: ${e.message}`));
    return page;
  }

  async function shoot(page: Page, name: string): Promise<void> {
    fs.mkdirSync(SHOTS, { recursive: true });
    const viewport = page.viewportSize() ?? DESKTOP;
    await page.screenshot({ path: path.join(SHOTS, `${name}-desktop.png`), fullPage: true });
    await page.setViewportSize(PHONE);
    // The chart follows its box's new size on the next frame.
    await sleep(300);
    await page.screenshot({ path: path.join(SHOTS, `${name}-phone.png`), fullPage: true });
    await page.setViewportSize(viewport);
  }

  const stats = (page: Page) => page.evaluate(() => (window as unknown as { switchboard: { callAudioStats(): Promise<Stats> } }).switchboard.callAudioStats());
  const phoneStatus = (page: Page) => page.getByTestId('pbx-status').first().getAttribute('data-status');
  const registered = (who: string) => ctx.t.server.telephony.location.lookup(people[who]?.id ?? '');

  async function loginByExtension(page: Page, who: string): Promise<void> {
    const p = people[who];
    assert.ok(p);
    await page.goto(url('/pbx/login'));
    await page.getByLabel('Extension').fill(p.number);
    await page.getByLabel('Password').fill(p.secret);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(url('/pbx/agent'));
  }

  before(async () => {
    const microphone = path.join(dir, 'microphone.wav');
    fs.writeFileSync(microphone, wavFile(sineSamples(700, 60), 48_000));
    browser = await launchChromium({ microphoneWav: microphone });
  });

  it('the login page paints quickly and says what is wrong with a bad password', async () => {
    const page = await newPage('login');
    const response = await page.goto(url('/pbx/login'));
    // The whole run happens under the app's strict policy: no inline script or style, nothing from elsewhere.
    const csp = response?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    await page.getByLabel('Extension').waitFor();
    // The paint entry is queued once the frame is shown, which may come a moment after the element exists.
    await page.waitForFunction(() => performance.getEntriesByType('paint').some((e) => e.name === 'first-contentful-paint'));
    const paint = await page.evaluate(() => performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')?.startTime ?? -1);
    console.log(`# first contentful paint of /pbx/login: ${Math.round(paint)} ms`);
    assert.ok(paint > 0, 'the browser reports a first contentful paint');
    await shoot(page, 'pbx-login');
    await page.getByLabel('Extension').fill('1999');
    await page.getByLabel('Password').fill('not the secret');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong extension or password.' }).waitFor();
    // A wrong password is a 401 the browser logs as a failed resource; it is the answer the test asked for.
    consoleErrors.splice(0);
  });

  it('an administrator provisions two agents, a manager and a queue in the admin pages', async () => {
    admin = await newPage('admin');
    await admin.goto(url('/login'));
    await admin.getByLabel('Email').fill(ADMIN_EMAIL);
    await admin.getByLabel('Password').fill(ADMIN_PASSWORD);
    await admin.getByRole('button', { name: 'Log in' }).click();
    await admin.waitForURL(url('/pbx/dashboard'));
    await admin.getByTestId('summary-registered').filter({ hasText: '/' }).waitFor();
    await shoot(admin, 'dashboard');

    await admin.getByRole('link', { name: 'Users' }).first().click();
    await admin.getByRole('heading', { name: 'Users and extensions' }).waitFor();
    const add = async (name: string, email: string, role: string, password?: string) => {
      await admin.getByLabel('Name').fill(name);
      await admin.getByLabel('Email').fill(email);
      await admin.getByLabel('Role').selectOption(role);
      await admin.getByLabel(/Web password/).fill(password ?? '');
      await admin.getByRole('button', { name: 'Add user' }).click();
      const shown = admin.getByTestId('secret-once');
      await shown.waitFor();
      const heading = (await shown.getByRole('heading').textContent()) ?? '';
      const number = /Extension (\d+)/.exec(heading)?.[1];
      const secret = (await shown.getByTestId('secret').textContent()) ?? '';
      assert.ok(number && secret.length >= 16, `the secret is shown once (${heading})`);
      await shown.getByRole('button', { name: 'Done' }).click();
      return { number, secret };
    };
    const a = await add('Alice Agent', 'alice@example.com', 'AGENT');
    const b = await add('Bob Agent', 'bob@example.com', 'AGENT');
    const m = await add('Mia Manager', 'mia@example.com', 'MANAGER', 'manager password');
    const users = (await ctx.t.request('GET', '/api/users', { token: ctx.token })).json() as { users: Array<{ email: string; extension: { id: string } | null }> };
    const idOf = (email: string) => users.users.find((u) => u.email === email)?.extension?.id ?? '';
    Object.assign(people, { alice: { ...a, id: idOf('alice@example.com') }, bob: { ...b, id: idOf('bob@example.com') }, mia: { ...m, id: idOf('mia@example.com') } });
    await admin.locator('tr[data-email="bob@example.com"]').waitFor();
    await shoot(admin, 'admin-users');

    await admin.getByRole('link', { name: 'Queues' }).first().click();
    await admin.getByRole('heading', { name: 'Add a queue' }).waitFor();
    await admin.getByLabel('Name').fill('Support');
    await admin.getByLabel('Number').fill('2001');
    await admin.getByLabel('Strategy').selectOption('ringall');
    await admin.getByRole('button', { name: 'Add queue' }).click();
    const queue = admin.locator('section[data-queue="2001"]');
    await queue.waitFor();
    await queue.getByLabel('Agent to add to Support').selectOption({ label: `${b.number} Bob Agent` });
    await queue.getByRole('button', { name: 'Add member' }).click();
    await queue.getByText(`${b.number} Bob Agent`).waitFor();
    await shoot(admin, 'admin-queues');

    await admin.getByRole('link', { name: 'Audit' }).first().click();
    await admin.getByTestId('audit').getByText('user.create').first().waitFor();
    await shoot(admin, 'admin-audit');
  });

  it('agents log in by extension and their softphones register by themselves (the server lists them)', async () => {
    alice = await newPage('alice');
    bob = await newPage('bob');
    await loginByExtension(alice, 'alice');
    await loginByExtension(bob, 'bob');
    for (const [page, who] of [[alice, 'alice'], [bob, 'bob']] as const) {
      await until(`${who}'s indicator turns green`, () => phoneStatus(page), (s) => s === 'connected', 20_000);
      await until(`the server lists ${who}'s registration`, () => registered(who), (b) => b.length === 1);
      assert.equal(registered(who)[0]?.transport, 'WS');
      // Registered is not yet available: the agent says when it is ready.
      await page.getByRole('button', { name: 'Available', exact: true }).click();
      await page.getByTestId('agent-status').filter({ hasText: 'Available' }).waitFor();
    }
    manager = await newPage('manager');
    await manager.goto(url('/login'));
    await manager.getByLabel('Email').fill('mia@example.com');
    await manager.getByLabel('Password').fill('manager password');
    await manager.getByRole('button', { name: 'Log in' }).click();
    await manager.waitForURL(url('/pbx/manager'));
    await manager.locator(`tr[data-agent="${people.bob?.number}"][data-status="AVAILABLE"]`).waitFor();
    await shoot(alice, 'agent');
  });

  it('Alice dials Bob from the dial pad; Bob answers from the banner; each hears the other; hold; Bob hangs up; Alice saves a disposition; the wallboard showed it live', async () => {
    const bobNumber = people.bob?.number ?? '';
    // When the server says Bob is BUSY, and when the wallboard shows it: the wallboard's delay.
    let busyAt = 0;
    const off = ctx.t.server.bus.on('agent.status.changed', (e) => {
      if (e.extensionId === people.bob?.id && e.to === 'BUSY') busyAt = Date.now();
    });
    await manager.evaluate((number) => {
      const w = window as unknown as { bobBusyAt?: number };
      new MutationObserver(() => {
        if (!w.bobBusyAt && document.querySelector(`tr[data-agent="${number}"][data-status="BUSY"]`)) w.bobBusyAt = Date.now();
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    }, bobNumber);

    await alice.getByLabel('Number').fill(bobNumber);
    await alice.getByRole('button', { name: 'Call', exact: true }).click();
    const banner = bob.getByTestId('incoming-call');
    await banner.waitFor();
    assert.match((await banner.textContent()) ?? '', new RegExp(`Incoming call from Alice Agent \\(${people.alice?.number}\\)`));
    await shoot(bob, 'agent-incoming');
    await banner.getByRole('button', { name: 'Answer' }).click();
    for (const page of [alice, bob]) await page.locator('[data-testid="active-call"][data-state="established"]').waitFor();
    await until('both timers run', () => Promise.all([alice, bob].map((p) => p.getByTestId('call-timer').textContent())), (t) => t.every((s) => /^\d+:\d\d$/.test(s ?? '')));

    for (const [page, who] of [[alice, 'Alice'], [bob, 'Bob']] as const) {
      const s = await until(`${who} receives audio`, () => stats(page), (v) => !!v && v.packetsReceived > 100 && v.totalAudioEnergy > 0, 20_000);
      assert.ok(s && s.packetsSent > 50, `${who} sends audio (${s?.packetsSent} packets)`);
    }
    await manager.locator('[data-testid="live-calls"] tr[data-status="CONNECTED"]').waitFor();
    const wallboardAt = await until('the wallboard shows Bob busy', () => manager.evaluate(() => (window as unknown as { bobBusyAt?: number }).bobBusyAt ?? 0), (v) => v > 0);
    off();
    assert.ok(busyAt > 0);
    console.log(`# wallboard shows the agent's new state ${wallboardAt - busyAt} ms after the server's event`);
    await shoot(manager, 'wallboard-call');
    await shoot(alice, 'agent-call');

    // The keypad sends DTMF (SIP INFO from JsSIP), which the server reports as the callee's digits.
    const digits: string[] = [];
    const offDtmf = ctx.t.server.bus.on('call.dtmf', (e) => void digits.push(`${e.side}:${e.digit}`));
    await bob.getByRole('button', { name: 'Keypad' }).click();
    await bob.getByRole('button', { name: 'Send tone 4' }).click();
    await bob.getByRole('button', { name: 'Send tone #' }).click();
    await until('the server hears the digits', () => digits, (d) => d.length >= 2);
    offDtmf();
    assert.deepEqual(digits, ['callee:4', 'callee:#']);

    await bob.getByRole('button', { name: 'Mute' }).click();
    await bob.getByRole('button', { name: 'Unmute' }).click();
    await bob.getByRole('button', { name: 'Mute' }).waitFor();

    await bob.getByRole('button', { name: 'Hold' }).click();
    await bob.getByRole('button', { name: 'Resume' }).waitFor();
    await manager.locator('[data-testid="live-calls"] tr[data-status="ON_HOLD"]').waitFor();
    await bob.getByRole('button', { name: 'Resume' }).click();
    await bob.getByRole('button', { name: 'Hold' }).waitFor();
    await manager.locator('[data-testid="live-calls"] tr[data-status="CONNECTED"]').waitFor();

    await bob.getByRole('button', { name: 'Hang up' }).click();
    const wrap = alice.getByTestId('wrap-up');
    await wrap.waitFor();
    await shoot(alice, 'agent-wrap-up');
    await wrap.getByLabel('Disposition').selectOption('Resolved');
    await wrap.getByLabel('Notes').fill('Asked about the invoice');
    await wrap.getByRole('button', { name: 'Save' }).click();
    await wrap.waitFor({ state: 'detached' });
    await alice.getByTestId('recent-calls').getByText('Resolved').waitFor();

    const sessions = (await ctx.t.request('GET', `/api/pbx/calls/sessions?agentId=${people.bob?.id}`, { token: ctx.token })).json() as { sessions: Array<{ disposition: string | null; notes: string | null; holdTime: number; status: string }> };
    assert.equal(sessions.sessions[0]?.status, 'COMPLETED');
    assert.equal(sessions.sessions[0]?.disposition, 'Resolved');
    assert.equal(sessions.sessions[0]?.notes, 'Asked about the invoice');
    assert.ok((sessions.sessions[0]?.holdTime ?? 0) > 0, 'the hold was counted');
    await until('the wallboard counts the call', () => manager.getByTestId('metric-answered').textContent(), (t) => t === '1');
    await manager.locator('[data-testid="live-calls"] tbody tr').waitFor({ state: 'detached' });
  });

  it('a sipp caller dials the queue: the wallboard shows it waiting, Bob\'s browser rings and answers, then the call shows connected', async () => {
    const customer = (await createUser(ctx.t, ctx.token, { name: 'Customer Line', email: 'customer@example.com' })).extension as Ext;
    // After a direct call the agent is free again, with no wrap-up (that is a queue's).
    await bob.locator('[data-testid="agent-status"]').filter({ hasText: 'Available' }).waitFor();
    const call = caller(ctx.t, customer, 2001, answered(CALLER_HANGS_UP), 3000);
    await manager.locator('[data-testid="queues-grid"] tr[data-queue="2001"][data-waiting="1"]').waitFor();
    const banner = bob.getByTestId('incoming-call');
    await banner.waitFor();
    assert.match((await banner.textContent()) ?? '', /Through a queue, dialled 2001/);
    await shoot(manager, 'wallboard-waiting');
    await banner.getByRole('button', { name: 'Answer' }).click();
    await manager.locator('[data-testid="live-calls"] tr[data-status="CONNECTED"]').waitFor();
    await manager.locator('[data-testid="queues-grid"] tr[data-queue="2001"][data-waiting="0"]').waitFor();
    const run = await call;
    assert.equal(run.code, 0, run.errors || run.output);
    await bob.getByTestId('wrap-up').getByRole('button', { name: 'Skip' }).click();
    await until('the wallboard counts both calls', () => manager.getByTestId('metric-answered').textContent(), (t) => t === '2');
    await shoot(manager, 'wallboard');
  });

  it('a carrier\'s caller on a phone number (DID) that leads to the queue: Bob\'s browser rings and answers, audio flows through rtpengine both ways, and the carrier\'s RFC 4733 digit is heard', async () => {
    await bob.locator('[data-testid="agent-status"]').filter({ hasText: 'Available' }).waitFor();
    const trunk = await ctx.t.request('POST', '/api/pbx/trunks', {
      token: ctx.token,
      body: { name: 'Carrier', auth: 'ip', servers: [{ host: '127.0.0.1', port: 5999 }], allowedAddresses: ['127.0.0.2'], keepaliveSeconds: 0 },
    });
    assert.equal(trunk.statusCode, 201, trunk.body);
    const number = await ctx.t.request('POST', '/api/pbx/numbers', { token: ctx.token, body: { number: '+14155550100', destination: { type: 'queue', number: 2001 } } });
    assert.equal(number.statusCode, 201, number.body);
    // The carrier's media endpoint: it hears what the relay sends it, and sends a 1000 Hz tone back.
    const carrierMedia = await RtpSink.open('127.0.0.2');
    try {
      const call = carrierCaller(ctx.t, '127.0.0.2', '+12125550199', '+14155550100', answered(CALLER_HANGS_UP), { talk: 8000, mediaPort: carrierMedia.port });
      const banner = bob.getByTestId('incoming-call');
      await banner.waitFor();
      assert.match((await banner.textContent()) ?? '', /\+12125550199/);
      await banner.getByRole('button', { name: 'Answer' }).click();
      await bob.locator('[data-testid="active-call"][data-state="established"]').waitFor();
      const answeredAt = Date.now();
      await until('the relay sends the carrier audio', () => carrierMedia.source, (s) => s !== undefined);
      await carrierMedia.sendTone(1000, 3);
      const s = await until('Bob hears the carrier', () => stats(bob), (v) => !!v && v.packetsReceived > 100 && v.totalAudioEnergy > 0, 20_000);
      assert.ok(s && s.packetsSent > 50, `Bob sends audio (${s?.packetsSent} packets)`);
      const heard = carrierMedia.pcmu(answeredAt + 1000, Date.now());
      assert.ok(heard.length > 8000, `the carrier received Bob's audio (${heard.length} samples)`);
      assert.equal(dominantTone(heard, 8000, [700, 1000]).frequency, 700, "the carrier hears Bob's microphone (700 Hz)");
      // The carrier's RFC 4733 digit reaches the server through the relay, as a phone's does.
      const digits: string[] = [];
      const offDtmf = ctx.t.server.bus.on('call.dtmf', (e) => void digits.push(`${e.side}:${e.digit}:${e.via}`));
      await carrierMedia.sendDtmf('5');
      await until('the server hears the carrier\'s digit', () => digits, (d) => d.length > 0);
      offDtmf();
      assert.deepEqual(digits, ['caller:5:rfc4733']);
      const run = await call;
      assert.equal(run.code, 0, run.errors || run.output);
      await bob.getByTestId('wrap-up').getByRole('button', { name: 'Skip' }).click();
    } finally {
      carrierMedia.close();
    }
  });

  it('attended transfer in the portal: Bob consults Alice about a queue caller, Alice sees who and about whom, then Bob completes and Alice has the caller', async () => {
    const customer = (await createUser(ctx.t, ctx.token, { name: 'Second Customer', email: 'customer2@example.com' })).extension as Ext;
    const queueEvents: Array<{ event: string; extensionId: string | null; data: Record<string, unknown> }> = [];
    const offQueue = ctx.t.server.bus.on('queue.event', (e) => void queueEvents.push(e));
    await bob.locator('[data-testid="agent-status"]').filter({ hasText: 'Available' }).waitFor();
    // The caller hears of no transfer (the relay re-pairs the media): it waits for Alice to hang up.
    const call = caller(ctx.t, customer, 2001, answered(WAIT_FOR_BYE));
    const banner = bob.getByTestId('incoming-call');
    await banner.waitFor();
    await banner.getByRole('button', { name: 'Answer' }).click();
    await bob.locator('[data-testid="active-call"][data-state="established"]').waitFor();

    await bob.getByLabel('Transfer to').fill(people.alice?.number ?? '');
    await bob.getByRole('button', { name: 'Consult' }).click();
    await bob.getByTestId('consultation').waitFor();
    const aliceBanner = alice.getByTestId('incoming-call');
    await aliceBanner.waitFor();
    const text = (await aliceBanner.textContent()) ?? '';
    assert.match(text, new RegExp(`Incoming call from .*${people.bob?.number}`), text);
    assert.match(text, new RegExp(`Consults you about the caller ${customer.number}`), text);
    await shoot(alice, 'agent-consulted');
    await aliceBanner.getByRole('button', { name: 'Answer' }).click();
    await alice.locator('[data-testid="active-call"][data-state="established"]').waitFor();
    const callId = ctx.t.server.telephony.calls.activeCalls.find((c) => c.consulting)?.id;
    assert.ok(callId, 'the server holds a consultation');
    await until('Alice talks with Bob', () => ctx.t.server.telephony.calls.find(callId)?.consulting?.answered, (x) => x === true);
    // Bob and Alice hear each other (the sipp caller sends no audio: what Bob receives now is Alice).
    await until('Bob hears Alice', () => stats(bob), (v) => !!v && v.packetsReceived > 50 && v.totalAudioEnergy > 0, 20_000);
    await until('Alice hears Bob', () => stats(alice), (v) => !!v && v.packetsReceived > 50 && v.totalAudioEnergy > 0, 20_000);
    await manager.locator('[data-testid="live-calls"] tr[data-status="TRANSFERRING"]').waitFor();
    await shoot(bob, 'agent-consulting');

    await bob.getByRole('button', { name: 'Complete transfer' }).click();
    // Bob is let go (a queue call: wrap-up), Alice keeps the call, now with the caller.
    await bob.getByTestId('wrap-up').waitFor();
    await until('Alice has the caller', () => ctx.t.server.telephony.calls.find(callId)?.callee?.extensionId, (x) => x === people.alice?.id);
    await alice.locator('[data-testid="active-call"][data-state="established"]').waitFor();
    await manager.locator('[data-testid="live-calls"] tr[data-status="CONNECTED"]').waitFor();
    await alice.getByRole('button', { name: 'Hang up' }).click();
    const run = await call;
    assert.equal(run.code, 0, run.errors || run.output);
    const session = (await ctx.t.request('GET', `/api/pbx/calls/sessions/${callId}`, { token: ctx.token })).json();
    assert.equal(session.status, 'COMPLETED');
    assert.equal(session.agentId, people.alice?.id, 'the session names the agent who took the transfer');
    // The queue's log says it as app_queue would: Bob's call was transferred to Alice's extension.
    offQueue();
    const transferred = queueEvents.find((e) => e.event === 'TRANSFER');
    assert.equal(transferred?.extensionId, people.bob?.id);
    assert.equal(transferred?.data.extension, people.alice?.number);
    await bob.getByTestId('wrap-up').getByRole('button', { name: 'Skip' }).click();
    const aliceWrap = alice.getByTestId('wrap-up');
    if (await aliceWrap.isVisible()) await aliceWrap.getByRole('button', { name: 'Skip' }).click();
  });

  it('logout unregisters; a refresh registers again; a killed WebSocket turns the indicator red, then green', async () => {
    await alice.getByRole('button', { name: 'Log out' }).click();
    await alice.waitForURL(url('/pbx/login'));
    await until("the server forgets Alice's registration", () => registered('alice'), (b) => b.length === 0);

    await bob.reload();
    await until("Bob's indicator is green after the refresh", () => phoneStatus(bob), (s) => s === 'connected', 20_000);
    await until("the server lists Bob's registration", () => registered('bob'), (b) => b.length >= 1);

    const flow = registered('bob').find((b) => b.flow)?.flow;
    assert.ok(flow, 'the registration is reached over its WebSocket');
    flow.close();
    await until("Bob's indicator turns red", () => phoneStatus(bob), (s) => s === 'disconnected');
    await shoot(bob, 'agent-disconnected');
    await until("Bob's indicator is green again", () => phoneStatus(bob), (s) => s === 'connected', 40_000);
    await until("the server lists Bob's registration again", () => registered('bob'), (b) => b.some((x) => x.flow && !x.flow.closed));
  });

  it('a refused microphone is explained on the agent page', async () => {
    const page = await newPage('no-microphone');
    // What the browser answers when the user blocks the microphone for the site.
    await page.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
    await loginByExtension(page, 'bob');
    const alert = page.getByRole('alert').filter({ hasText: 'The microphone is blocked' });
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /Allow it for this site in the browser's settings, then reload/);
    await shoot(page, 'agent-no-microphone');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(url('/pbx/login'));
  });

  it('Swagger UI at /docs works under its own policy', async () => {
    const page = await newPage('docs');
    await page.goto(url('/docs'));
    await page.locator('.swagger-ui .info .title').filter({ hasText: 'Switchboard API' }).waitFor();
    await page.locator('.opblock-summary-path').filter({ hasText: '/api/auth/login' }).first().waitFor();
    await page.close();
  });

  it('the Content-Security-Policy refused nothing in any page', () => {
    assert.deepEqual(cspViolations, []);
  });

  it('no page wrote an error to its console', async () => {
    await sleep(200);
    // A dropped WebSocket is reported by the browser itself; that one the test caused on purpose.
    const unexpected = consoleErrors.filter((e) => !/WebSocket connection to .* failed|ERR_CONNECTION_RESET/.test(e));
    assert.deepEqual(unexpected, []);
    for (const c of contexts) await c.close();
  });
});
