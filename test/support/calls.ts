/**
 * Calls driven by sipp, shared by the call and queue suites: the scenario fragments a caller or a callee ends
 * with, and helpers that create an agent, register a sipp callee's contact, and start a sipp caller or callee.
 */
import assert from 'node:assert/strict';
import { createUser, type TestServer } from './server.ts';
import { authField, runSipp, type SippRun } from './sipp.ts';

export type Ext = { id: string; number: number; secret: string };

/** The server the phones talk to: a test server, or a server process whose SIP port the test chose. */
export type SipServer = { server: { sipPort: number; config?: { sipHost: string } } };

/**
 * The loopback address a server's SIP listens on, where its phones are too: a second server on 127.0.0.2 is another
 * host with phones of its own, and a PBX tells its carriers from its phones by address.
 */
export function sipHostOf(t: SipServer): string {
  const host = t.server.config?.sipHost;
  return host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

export const CALLER_HANGS_UP = `
  <pause milliseconds="@TALK@" />
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 3 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" />`;

/**
 * The callee hangs up after @TALK@ ms: its BYE goes to the Contact of the INVITE it took (the PBX that rang it),
 * in the dialog that INVITE made (a scenario that logs `invitefrom` and `invitecallid`, as uas-answer.xml does).
 */
export const CALLEE_HANGS_UP = `
  <pause milliseconds="@TALK@" />
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:callee@[local_ip]>;tag=[pid]SIPpTag10[call_number]
      To:[$invitefrom]
      Call-ID: [$invitecallid]
      CSeq: 1 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" />`;

export const WAIT_FOR_BYE = `
  <recv request="BYE" />
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


/** A party's answer to a re-INVITE (hold, resume, or a transfer's new media): 200 with its SDP (media at `mediaPort`), then the ACK. */
export function answerReinvite(direction = 'sendrecv', mediaPort = '@MEDIA_PORT@', offerMustMatch?: string): string {
  const check = offerMustMatch
    ? `
    <action>
      <ereg regexp="${offerMustMatch}" search_in="body" check_it="true" assign_to="offered" />
      <log message="offered: [$offered]" />
    </action>`
    : '';
  return `
  <recv request="INVITE">${check}
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:callee@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=callee 1 2 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio ${mediaPort} RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=${direction}

    ]]>
  </send>
  <recv request="ACK" />`;
}

/** The ACK for a failure, in the INVITE's transaction (rfc3261#section-17.1.1.3): the INVITE's Via and branch. */
export const ACK_FAILURE = `
  <send>
    <![CDATA[
      ACK sip:[field2]@[$domain] SIP/2.0
      [last_Via:]
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>`;

/** The caller's ending when the call is refused with `status`: take it, ACK it. */
export function callerRefused(status: number): string {
  return `
  <recv response="180" optional="true" />
  <recv response="183" optional="true" />
  <recv response="${status}" />${ACK_FAILURE}`;
}

/** The caller's ending when the call is answered: take the 200 (with the callee's SDP), ACK it, then `then`. */
export function answered(then: string): string {
  return `
  <recv response="180" optional="true" />
  <recv response="183" optional="true" />
  <recv response="200" rrs="true">
    <action>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="sdp,calleeport" />
      <log message="answered with sdp [$sdp] port [$calleeport]" />
    </action>
  </recv>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      [last_To:]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>${then}`;
}

export const CALLER_CANCELS = `
  <recv response="180" />
  <pause milliseconds="300" />
  <send>
    <![CDATA[
      CANCEL sip:[field2]@[$domain] SIP/2.0
      [last_Via:]
      From: "Caller [field0]" <sip:[field0]@[$domain]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:[field2]@[$domain]>
      Call-ID: [call_id]
      CSeq: 2 CANCEL
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" />
  <recv response="487" />${ACK_FAILURE}`;

export async function agent(t: TestServer, token: string, name: string): Promise<Ext> {
  const u = await createUser(t, token, { name, email: `${name.replace(/\W/g, '').toLowerCase()}@example.com` });
  return u.extension as Ext;
}

/** Registers `ext` with a Contact at a sipp callee listening on `port` (the REGISTER comes from another sipp). */
export async function registerAt(t: SipServer, ext: Ext, port: number): Promise<void> {
  const host = sipHostOf(t);
  const run = await runSipp({
    scenario: 'register.xml',
    target: `${host}:${t.server.sipPort}`,
    localIp: host,
    rows: [[String(ext.number), authField(String(ext.number), ext.secret)]],
    vars: { domain: 'pbx.test', expires: '300' },
    substitute: { EXPECT: '200', CONTACT: `${host}:${port}` },
  });
  assert.equal(run.code, 0, run.errors || run.output);
}

/**
 * A sipp callee on its own port (at `localIp`, 127.0.0.1 by default), waiting for `calls` calls (one by default);
 * `extra` are sipp options (-aa answers in-dialog OPTIONS, INFO, NOTIFY and UPDATE with 200).
 */
export function callee(scenario: string, port: number, substitute: Record<string, string> = {}, options: { calls?: number; timeoutSeconds?: number; signal?: AbortSignal; localIp?: string; extra?: string[]; logFile?: string } = {}): Promise<SippRun> {
  return runSipp({
    scenario,
    localPort: port,
    localIp: options.localIp,
    logFile: options.logFile,
    substitute: { RING: '300', TALK: '300', HANGUP_STEPS: WAIT_FOR_BYE, STATUS: '486', MEDIA_PORT: '[media_port]', ...substitute },
    calls: options.calls,
    timeoutSeconds: options.timeoutSeconds ?? 25,
    signal: options.signal,
    extra: options.extra,
  });
}

export function caller(t: SipServer, from: Ext, dialed: string | number, outcome: string, talk = 300): Promise<SippRun> {
  const host = sipHostOf(t);
  return runSipp({
    scenario: 'uac-call.xml',
    target: `${host}:${t.server.sipPort}`,
    localIp: host,
    rows: [[String(from.number), authField(String(from.number), from.secret), String(dialed)]],
    vars: { domain: 'pbx.test' },
    substitute: { OUTCOME: outcome, TALK: String(talk) },
    timeoutSeconds: 25,
  });
}


/**
 * A sipp carrier at `localIp` (an address a trunk allows) calling the server's number `dialled` from `from` (an
 * E.164 caller on the network), with no credentials; its SDP names `mediaPort` (sipp's own by default).
 */
export function carrierCaller(t: SipServer, localIp: string, from: string, dialled: string, outcome: string, options: { talk?: number; mediaPort?: number } = {}): Promise<SippRun> {
  const host = sipHostOf(t);
  return runSipp({
    scenario: 'uac-carrier-call.xml',
    target: `${host}:${t.server.sipPort}`,
    localIp,
    rows: [[from, '', dialled]],
    vars: { domain: `${host}:${t.server.sipPort}` },
    substitute: { OUTCOME: outcome, TALK: String(options.talk ?? 300), MEDIA_PORT: options.mediaPort === undefined ? '[media_port]' : String(options.mediaPort) },
    timeoutSeconds: 25,
  });
}
