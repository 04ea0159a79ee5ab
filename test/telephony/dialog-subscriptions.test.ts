// Busy-lamp keys: the dialog event package (RFC 4235) over SIP-specific event notification (RFC 6665), with sipp as
// the subscriber, the caller and the callee. A SUBSCRIBE is challenged like an INVITE (407), accepted with 200 and
// an immediate NOTIFY; the watched extension ringing, answering and hanging up is told as early, confirmed and
// terminated dialogs; refreshes and unsubscriptions come in the subscription's dialog; one not refreshed ends with
// a final NOTIFY. JsSIP subscribes over WebSocket as a browser would. Another tenant's subscriber, an unknown event
// package, a too brief expiry and one subscription too many are refused; MESSAGE and PUBLISH stay 405.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../support/process.ts';
import { DIALOG_INFO } from '../../src/telephony/dialog-subscriptions.ts';
import { createUser, type TestServer, useTestServer } from '../support/server.ts';
import { authField, runSipp, type SippRun } from '../support/sipp.ts';
import { jssipUa } from '../support/jssip.ts';
import { agent, answered, CALLER_HANGS_UP, callee, caller, type Ext, registerAt } from '../support/calls.ts';

/** The challenge (407) answered: the same SUBSCRIBE again with Proxy-Authorization. */
const AUTHENTICATED = `
  <recv response="407" auth="true" />
  <send retrans="500">
    <![CDATA[
      SUBSCRIBE sip:[field2]@[$target] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:[field0]@[$domain]>;tag=[pid]SIPpTag30[call_number]
      To: <sip:[field2]@[$target]>
      Call-ID: [call_id]
      CSeq: 2 SUBSCRIBE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      [field1]
      Event: @EVENT@
      Accept: application/dialog-info+xml
      Expires: @EXPIRES@
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>`;

/** The 200 that accepts the subscription: its To (with the notifier's tag) and its Contact are kept for the dialog. */
const ACCEPTED = `
  <recv response="200" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="subto" />
      <ereg regexp="([0-9]+)" search_in="hdr" header="Expires:" check_it="true" assign_to="granted,grantedseconds" />
      <log message="accepted for [$grantedseconds] s ([$granted]) to [$subto]" />
    </action>
  </recv>`;

/** A NOTIFY, logged with its Subscription-State and answered 200; the test reads its body from sipp's trace. */
function notified(label: string): string {
  return `
  <recv request="NOTIFY">
    <action>
      <ereg regexp=".*" search_in="hdr" header="Subscription-State:" check_it="true" assign_to="substate" />
      <ereg regexp=".*" search_in="hdr" header="Event:" check_it="true" assign_to="event" />
      <log message="notify ${label}: state [$substate] event [$event]" />
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>`;
}

/** A SUBSCRIBE in the subscription's dialog (a refresh, or with 0 an unsubscription) and its 200. */
function resubscribe(cseq: number, expires: number): string {
  return `
  <send retrans="500">
    <![CDATA[
      SUBSCRIBE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:[field0]@[$domain]>;tag=[pid]SIPpTag30[call_number]
      To:[$subto]
      Call-ID: [call_id]
      CSeq: ${cseq} SUBSCRIBE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Event: dialog
      Expires: ${expires}
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200">
    <action>
      <ereg regexp="([0-9]+)" search_in="hdr" header="Expires:" check_it="true" assign_to="again,againseconds" />
      <log message="refreshed for [$againseconds] s ([$again])" />
    </action>
  </recv>`;
}

/** The final status of a refused SUBSCRIBE, with the header it must carry. */
function refused(status: number, header?: string): string {
  const check = header ? `<action><ereg regexp="${header}" search_in="msg" check_it="true" assign_to="carried" /><log message="carried [$carried]" /></action>` : '';
  return `<recv response="${status}">${check}</recv>`;
}

type Subscriber = SippRun & { notifies: Notify[] };

/** A NOTIFY as the subscriber received it. */
interface Notify {
  state: string;
  version: number;
  /** The body's dialogs: id, direction, state (with the event that ended it), local and remote identities. */
  dialogs: Array<{ id: string; direction: string; state: string; local: string; remote: string }>;
  body: string;
}

/** The NOTIFYs in sipp's message trace, in the order they came. */
function notifiesIn(trace: string): Notify[] {
  return trace
    .split(/^-{20,}.*$/m)
    .filter((block) => /message received/.test(block) && /^\s*NOTIFY /m.test(block))
    .map((block) => {
      const body = block.slice(block.indexOf('<?xml'));
      return {
        state: /^Subscription-State:\s*(.*?)\s*$/im.exec(block)?.[1] ?? '',
        version: Number(/<dialog-info[^>]*\sversion="(\d+)"/.exec(body)?.[1]),
        dialogs: [...body.matchAll(/<dialog id="([^"]*)" direction="([^"]*)">([\s\S]*?)<\/dialog>/g)].map((m) => ({
          id: m[1] as string,
          direction: m[2] as string,
          state: /<state(?: event="([^"]*)")?>([^<]*)<\/state>/.exec(m[3] as string)?.slice(1).reverse().filter(Boolean).join(' ') ?? '',
          local: /<local><identity>([^<]*)</.exec(m[3] as string)?.[1] ?? '',
          remote: /<remote><identity>([^<]*)</.exec(m[3] as string)?.[1] ?? '',
        })),
        body,
      };
    });
}

async function subscriber(
  t: TestServer,
  from: Ext,
  watched: number,
  steps: string,
  options: { event?: string; expires?: number; domain?: string; target?: string; transport?: 'u1' | 't1'; secret?: string } = {},
): Promise<Subscriber> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-subscriber-'));
  const trace = path.join(dir, 'messages.log');
  try {
    const run = await runSipp({
      scenario: 'subscribe.xml',
      target: `127.0.0.1:${t.server.sipPort}`,
      transport: options.transport,
      rows: [[String(from.number), authField(String(from.number), options.secret ?? from.secret), String(watched)]],
      vars: { domain: options.domain ?? 'pbx.test', target: options.target ?? options.domain ?? 'pbx.test' },
      substitute: { STEPS: steps, EVENT: options.event ?? 'dialog', EXPIRES: String(options.expires ?? 600) },
      timeoutSeconds: 25,
      extra: ['-trace_msg', '-message_file', trace],
    });
    return { ...run, notifies: fs.existsSync(trace) ? notifiesIn(fs.readFileSync(trace, 'utf8')) : [] };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function logged(run: SippRun): string[] {
  return run.log.split('\n').filter((l) => /^(notify|accepted|refreshed|carried)/.test(l.trim())).map((l) => l.trim());
}

/** Waits until `check` holds, or until the subscriber's run ended (it failed then, and says why). */
async function until(check: () => boolean, run: Promise<unknown>): Promise<void> {
  let over = false;
  void run.finally(() => (over = true));
  while (!check() && !over) await new Promise((r) => setTimeout(r, 20));
}

describe('busy-lamp keys: the dialog event package (RFC 4235) with sipp', () => {
  const ctx = useTestServer('pglite', { rtpengine: 'off', sipSubscribeMinExpires: 2, sipSubscriptionsPerExtension: 2 });

  it('a SUBSCRIBE is challenged, accepted and NOTIFYed at once; the watched extension ringing, answering and hanging up is told early, confirmed, terminated; a refresh is NOTIFYed; Expires: 0 ends it', async () => {
    const [a, b, c] = [await agent(ctx.t, ctx.token, 'Lamp Caller'), await agent(ctx.t, ctx.token, 'Lamp Callee'), await agent(ctx.t, ctx.token, 'Lamp Watcher')];
    const port = await freePort();
    const uas = callee('uas-answer.xml', port, { RING: '500', TALK: '300' });
    await registerAt(ctx.t, b, port);
    const watcher = subscriber(
      ctx.t,
      c,
      b.number,
      [
        AUTHENTICATED,
        ACCEPTED,
        notified('idle'),
        notified('ringing'),
        notified('answered'),
        notified('hung up'),
        resubscribe(3, 900),
        notified('refreshed'),
        resubscribe(4, 0),
        notified('unsubscribed'),
      ].join(''),
    );
    // The call starts once the subscription is there (its first NOTIFY goes before any other).
    await until(() => ctx.t.server.telephony.subscriptions.size > 0, watcher);
    const uac = await caller(ctx.t, a, b.number, answered(CALLER_HANGS_UP));
    const [watched, uasRun] = [await watcher, await uas];
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.equal(uasRun.code, 0, uasRun.errors || uasRun.output);
    assert.equal(watched.code, 0, watched.errors || watched.output);
    const lines = logged(watched);
    assert.match(lines[0] ?? '', /^accepted for 600 s/);
    assert.match(lines.find((l) => l.startsWith('refreshed')) ?? '', /^refreshed for 900 s/);
    const notifies = watched.notifies;
    assert.equal(notifies.length, 6, notifies.map((n) => n.body).join('\n'));
    // rfc4235#section-4.1: full state each time, the version counting up by one per NOTIFY of the subscription.
    assert.deepEqual(notifies.map((n) => n.version), [0, 1, 2, 3, 4, 5]);
    for (const n of notifies) assert.match(n.body, new RegExp(`state="full" entity="sip:${b.number}@pbx\\.test"`));
    for (const n of notifies.slice(0, 5)) assert.match(n.state, /^active;expires=\d+$/);
    assert.equal(notifies[5]?.state, 'terminated;reason=timeout');
    const seen = notifies.map((n) => n.dialogs.map((d) => `${d.direction} ${d.state} ${d.local} <- ${d.remote}`));
    const call = (state: string) => [`recipient ${state} sip:${b.number}@pbx.test <- sip:${a.number}@pbx.test`];
    assert.deepEqual(seen, [[], call('early'), call('confirmed'), call('terminated remote-bye'), [], []]);
    assert.equal(ctx.t.server.telephony.subscriptions.size, 0);
  });

  it('the caller\'s own lamp: it is the initiator of its dialog, trying, early, confirmed, and ended by its own BYE', async () => {
    const [a, b, c] = [await agent(ctx.t, ctx.token, 'Lamp Caller 2'), await agent(ctx.t, ctx.token, 'Lamp Callee 2'), await agent(ctx.t, ctx.token, 'Lamp Watcher 2')];
    const port = await freePort();
    const uas = callee('uas-answer.xml', port, { RING: '300', TALK: '300' });
    await registerAt(ctx.t, b, port);
    const steps = ['idle', 'dialing', 'ringing', 'answered', 'hung up'].map((label) => notified(label));
    const watcher = subscriber(ctx.t, c, a.number, [AUTHENTICATED, ACCEPTED, ...steps, resubscribe(3, 0), notified('unsubscribed')].join(''));
    await until(() => ctx.t.server.telephony.subscriptions.size > 0, watcher);
    const uac = await caller(ctx.t, a, b.number, answered(CALLER_HANGS_UP));
    const [watched, uasRun] = [await watcher, await uas];
    assert.equal(uac.code, 0, uac.errors || uac.output);
    assert.equal(uasRun.code, 0, uasRun.errors || uasRun.output);
    assert.equal(watched.code, 0, watched.errors || watched.output);
    const seen = watched.notifies.map((n) => n.dialogs.map((d) => `${d.direction} ${d.state} ${d.local} -> ${d.remote}`));
    const call = (state: string) => [`initiator ${state} sip:${a.number}@pbx.test -> sip:${b.number}@pbx.test`];
    assert.deepEqual(seen, [[], call('trying'), call('early'), call('confirmed'), call('terminated local-bye'), []]);
  });

  it('a lamp of a queue member rung with another (ringall) goes early, then terminated (cancelled) when the other answers', async () => {
    const [a, b, d, c] = [
      await agent(ctx.t, ctx.token, 'Lamp Queue Caller'),
      await agent(ctx.t, ctx.token, 'Lamp Queue Taker'),
      await agent(ctx.t, ctx.token, 'Lamp Queue Missed'),
      await agent(ctx.t, ctx.token, 'Lamp Queue Watcher'),
    ];
    const [takerPort, missedPort] = [await freePort(), await freePort()];
    const taker = callee('uas-answer.xml', takerPort, { RING: '800', TALK: '300' });
    const missed = callee('uas-ring-until-cancel.xml', missedPort);
    await registerAt(ctx.t, b, takerPort);
    await registerAt(ctx.t, d, missedPort);
    for (const ext of [b, d]) {
      const res = await ctx.t.request('PUT', `/api/pbx/agent-extensions/${ext.id}/status`, { token: ctx.token, body: { status: 'AVAILABLE' } });
      assert.ok(res.statusCode < 300, res.body);
    }
    const queue = await ctx.t.request('POST', '/api/pbx/queues', {
      token: ctx.token,
      body: { name: 'Lamps', number: '2901', strategy: 'ringall', wrapUpTime: 0, retryDelay: 0, members: [{ extensionId: b.id }, { extensionId: d.id }] },
    });
    assert.equal(queue.statusCode, 201, queue.body);
    const steps = ['idle', 'ringing', 'answered elsewhere'].map((label) => notified(label));
    const watcher = subscriber(ctx.t, c, d.number, [AUTHENTICATED, ACCEPTED, ...steps, resubscribe(3, 0), notified('unsubscribed')].join(''));
    await until(() => ctx.t.server.telephony.subscriptions.size > 0, watcher);
    // The order matters: the lamp goes out as the other member answers, not when the call ends.
    const order: string[] = [];
    const offChange = ctx.t.server.telephony.dialogs.onChange((e) => {
      if (e.extensionId === d.id) order.push(`lamp ${e.dialogs().map((x) => x.state).join(',')}`);
    });
    const offEnded = ctx.t.server.bus.on('call.answered', () => void order.push('call answered'));
    const uac = await caller(ctx.t, a, 2901, answered(CALLER_HANGS_UP));
    const [watched, takerRun, missedRun] = [await watcher, await taker, await missed];
    offChange();
    offEnded();
    assert.deepEqual(order, ['lamp early', 'lamp terminated', 'call answered']);
    for (const run of [uac, takerRun, missedRun, watched]) assert.equal(run.code, 0, run.errors || run.output);
    const seen = watched.notifies.map((n) => n.dialogs.map((dlg) => `${dlg.direction} ${dlg.state} ${dlg.local} <- ${dlg.remote}`));
    const rung = (state: string) => [`recipient ${state} sip:${d.number}@pbx.test <- sip:${a.number}@pbx.test`];
    assert.deepEqual(seen, [[], rung('early'), rung('terminated cancelled'), []]);
  });

  it('JsSIP subscribes over WebSocket (RFC 7118): the NOTIFYs come over its connection, and the subscription ends when the connection drops', async () => {
    const [a, b, c] = [await agent(ctx.t, ctx.token, 'Lamp WS Caller'), await agent(ctx.t, ctx.token, 'Lamp WS Callee'), await agent(ctx.t, ctx.token, 'Lamp WS Watcher')];
    const port = await freePort();
    const uas = callee('uas-answer.xml', port, { RING: '300', TALK: '300' });
    await registerAt(ctx.t, b, port);
    const { ua, socket } = jssipUa(`${ctx.t.server.url.replace('http', 'ws')}/sip`, { user: String(c.number), domain: 'pbx.test', password: c.secret, register: false });
    let subscription: ReturnType<typeof ua.subscribe> | undefined;
    try {
      await new Promise((resolve) => (socket.isConnected() ? resolve(undefined) : ua.once('connected', resolve)));
      const bodies: string[] = [];
      const lamp = ua.subscribe(`sip:${b.number}@pbx.test`, 'dialog', DIALOG_INFO, { expires: 600, contentType: DIALOG_INFO });
      subscription = lamp;
      const ended = new Promise<void>((resolve) => lamp.on('notify', (_final, _request, body) => {
        bodies.push(body ?? '');
        if (/>terminated</.test(body ?? '')) resolve();
      }));
      lamp.subscribe();
      await until(() => bodies.length > 0, ended);
      const uac = await caller(ctx.t, a, b.number, answered(CALLER_HANGS_UP));
      assert.equal(uac.code, 0, uac.errors || uac.output);
      assert.equal((await uas).code, 0);
      await ended;
      const states = bodies.map((body) => [...body.matchAll(/<state[^>]*>([a-z]+)</g)].map((m) => m[1]).join(','));
      assert.deepEqual(states, ['', 'early', 'confirmed', 'terminated']);
      const [held] = ctx.t.server.telephony.subscriptions.notifier.all();
      assert.equal(held?.flow.protocol, 'WS');
      socket.kill();
      await until(() => ctx.t.server.telephony.subscriptions.size === 0, new Promise(() => {}));
    } finally {
      // JsSIP's own refresh timer would outlive its user agent.
      subscription?.terminate();
      ua.stop();
    }
  });

  it('a subscriber of another tenant is refused: 403 for an extension of another domain, 404 for a number its own tenant lacks; a wrong password 403', async () => {
    const b = await agent(ctx.t, ctx.token, 'Lamp Private');
    const created = await ctx.t.request('POST', '/api/tenants', {
      token: ctx.token,
      body: { name: 'Lamps Elsewhere', domain: 'lamps.test', extensionRange: '2000-2099', admin: { name: 'Other Admin', email: 'admin@lamps.test', password: 'lamps-admin-pw' } },
    });
    assert.equal(created.statusCode, 201, created.body);
    const otherToken = await ctx.t.login('admin@lamps.test', 'lamps-admin-pw');
    const outsider = await agent(ctx.t, otherToken, 'Lamp Outsider');
    await ctx.t.server.telephony.refreshDomains();
    const across = await subscriber(ctx.t, outsider, b.number, AUTHENTICATED + refused(403), { domain: 'lamps.test', target: 'pbx.test' });
    assert.equal(across.code, 0, across.errors || across.output);
    const missing = await subscriber(ctx.t, outsider, b.number, AUTHENTICATED + refused(404), { domain: 'lamps.test' });
    assert.equal(missing.code, 0, missing.errors || missing.output);
    const insider = await agent(ctx.t, ctx.token, 'Lamp Guesser');
    const wrong = await subscriber(ctx.t, insider, b.number, AUTHENTICATED + refused(403), { secret: 'not-the-secret' });
    assert.equal(wrong.code, 0, wrong.errors || wrong.output);
    assert.equal(ctx.t.server.telephony.subscriptions.size, 0);
  });

  it('an unauthenticated SUBSCRIBE is challenged with 407 and Proxy-Authenticate', async () => {
    const [b, c] = [await agent(ctx.t, ctx.token, 'Lamp Target'), await agent(ctx.t, ctx.token, 'Lamp Anonymous')];
    const run = await subscriber(ctx.t, c, b.number, refused(407, 'Proxy-Authenticate: Digest'));
    assert.equal(run.code, 0, run.errors || run.output);
  });

  for (const event of ['presence', 'message-summary', 'x-unknown'])
    it(`an event package the server does not serve (${event}) gets 489 Bad Event with Allow-Events: dialog (rfc6665#section-4.2.1.1)`, async () => {
      const [b, c] = [await agent(ctx.t, ctx.token, `Lamp ${event} Target`), await agent(ctx.t, ctx.token, `Lamp ${event} Watcher`)];
      const run = await subscriber(ctx.t, c, b.number, refused(489, 'Allow-Events: dialog'), { event });
      assert.equal(run.code, 0, run.errors || run.output);
    });

  it('an expiry below the minimum gets 423 Interval Too Brief with Min-Expires (rfc6665#section-4.2.1.1)', async () => {
    const [b, c] = [await agent(ctx.t, ctx.token, 'Lamp Brief Target'), await agent(ctx.t, ctx.token, 'Lamp Brief Watcher')];
    const run = await subscriber(ctx.t, c, b.number, AUTHENTICATED + refused(423, 'Min-Expires: 2'), { expires: 1 });
    assert.equal(run.code, 0, run.errors || run.output);
  });

  it('a subscription not refreshed ends with a final NOTIFY terminated;reason=timeout, sent over the subscriber\'s own TCP connection', async () => {
    const [b, c] = [await agent(ctx.t, ctx.token, 'Lamp Expiry Target'), await agent(ctx.t, ctx.token, 'Lamp Expiry Watcher')];
    const run = await subscriber(ctx.t, c, b.number, [AUTHENTICATED, ACCEPTED, notified('idle'), notified('expired')].join(''), { expires: 2, transport: 't1' });
    assert.equal(run.code, 0, run.errors || run.output);
    assert.deepEqual(
      run.notifies.map((n) => n.state),
      ['active;expires=2', 'terminated;reason=timeout'],
    );
    assert.equal(ctx.t.server.telephony.subscriptions.size, 0);
  });

  it('an extension holds at most PBX_SIP_SUBSCRIPTIONS_PER_EXTENSION subscriptions (403 beyond); deleting the watched extension ends them with terminated;reason=noresource', async () => {
    const watchedUser = await createUser(ctx.t, ctx.token, { name: 'Lamp Leaving', email: 'lamp.leaving@example.com' });
    const b = watchedUser.extension as Ext;
    const c = await agent(ctx.t, ctx.token, 'Lamp Collector');
    const steps = [AUTHENTICATED, ACCEPTED, notified('idle'), notified('gone')].join('');
    const held = [subscriber(ctx.t, c, b.number, steps), subscriber(ctx.t, c, b.number, steps)];
    await until(() => ctx.t.server.telephony.subscriptions.size >= 2, Promise.race(held));
    const third = await subscriber(ctx.t, c, b.number, AUTHENTICATED + refused(403));
    assert.equal(third.code, 0, third.errors || third.output);
    const deleted = await ctx.t.request('DELETE', `/api/users/${watchedUser.id}`, { token: ctx.token });
    assert.equal(deleted.statusCode, 200, deleted.body);
    for (const run of await Promise.all(held)) {
      assert.equal(run.code, 0, run.errors || run.output);
      assert.deepEqual(run.notifies.map((n) => n.state.replace(/expires=\d+/, 'expires=N')), ['active;expires=N', 'terminated;reason=noresource']);
    }
    assert.equal(ctx.t.server.telephony.subscriptions.size, 0);
  });

  for (const method of ['MESSAGE', 'PUBLISH'])
    it(`${method} is answered 405, with an Allow that names SUBSCRIBE`, async () => {
      const [b, c] = [await agent(ctx.t, ctx.token, `Lamp ${method} Target`), await agent(ctx.t, ctx.token, `Lamp ${method} Sender`)];
      const run = await runSipp({
        scenario: 'out-of-dialog-request.xml',
        target: `127.0.0.1:${ctx.t.server.sipPort}`,
        rows: [[String(c.number), String(b.number)]],
        vars: { domain: 'pbx.test' },
        substitute: { METHOD: method, STATUS: '405' },
      });
      assert.equal(run.code, 0, run.errors || run.output);
      assert.match(run.log, /allow\s*INVITE, .*SUBSCRIBE/);
    });
});
