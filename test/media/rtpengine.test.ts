// rtpengine (Debian's rtpengine-daemon) driven over its ng protocol: the supervisor starts it on loopback and it
// answers ping; an offer of plain RTP asked for WebRTC comes back as a UDP/TLS/RTP/SAVPF SDP with ICE and a DTLS
// fingerprint, the answer back as plain RTP; delete releases the call (a second delete is an error with
// rtpengine's reason); a daemon killed underneath is started again; stop leaves nothing running.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CALL_ID_PREFIX, RtpEngineError, RtpEngineMediaPlane, RtpEngineSupervisor, rtpengineVersion } from '../../src/media/index.ts';
import { bindDtmfSocket } from '../../src/media/rtpengine/rtpengine-media-plane.ts';

const offerSdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n';
const answerSdp = 'v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6002 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n';

describe('rtpengine over the ng protocol', () => {
  let supervisor: RtpEngineSupervisor;
  const restarts: string[] = [];

  before(async () => {
    assert.ok(rtpengineVersion(), 'rtpengine is installed (Debian rtpengine-daemon; .ci/run installs it)');
    const portMin = 30_000 + Math.floor(Math.random() * 200) * 100;
    supervisor = new RtpEngineSupervisor({ interface: '127.0.0.1', portMin, portMax: portMin + 99, onRestart: (r) => void restarts.push(r) });
    await supervisor.start();
  });
  after(() => supervisor.stop());

  it('answers ping with pong', async () => {
    assert.equal(await supervisor.client?.ping(), true);
  });

  it('turns a plain RTP offer into a WebRTC one, and the answer back into plain RTP', async () => {
    const client = supervisor.client!;
    const offer = await client.request('offer', {
      'call-id': 'ng-test-1',
      'from-tag': 'caller-tag',
      sdp: offerSdp,
      'transport-protocol': 'UDP/TLS/RTP/SAVPF',
      ICE: 'force',
      'rtcp-mux': ['offer'],
    });
    assert.equal(offer.result, 'ok');
    const webrtc = String(offer.sdp);
    assert.match(webrtc, /^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 0 101/m);
    assert.match(webrtc, /^a=fingerprint:sha-256 /m);
    assert.match(webrtc, /^a=ice-ufrag:/m);
    assert.match(webrtc, /^a=candidate:/m);
    assert.match(webrtc, /^c=IN IP4 127\.0\.0\.1/m);
    const answer = await client.request('answer', {
      'call-id': 'ng-test-1',
      'from-tag': 'caller-tag',
      'to-tag': 'callee-tag',
      sdp: answerSdp,
      'transport-protocol': 'RTP/AVP',
    });
    assert.equal(answer.result, 'ok');
    assert.match(String(answer.sdp), /^m=audio \d+ RTP\/AVP 0 101/m);
  });

  it('delete releases the call; deleting it again is an error with rtpengine\'s reason', async () => {
    const client = supervisor.client!;
    await client.request('offer', { 'call-id': 'ng-test-2', 'from-tag': 'a', sdp: offerSdp });
    // rtpengine keeps a deleted call 30 s by default (for late packets); delete-delay 0 releases it at once.
    assert.equal((await client.request('delete', { 'call-id': 'ng-test-2', 'delete-delay': 0 })).result, 'ok');
    // An unknown call is only a warning, unless the fatal flag asks for an error.
    await assert.rejects(
      client.request('delete', { 'call-id': 'ng-test-2', 'delete-delay': 0, flags: ['fatal'] }),
      (err: Error) => err instanceof RtpEngineError && /Call-ID not found/.test(err.message),
    );
  });

  it('a media plane starting on a relay deletes the calls an earlier run of ours left there, and only those', async () => {
    const client = supervisor.client!;
    await client.request('offer', { 'call-id': `${CALL_ID_PREFIX}left-behind`, 'from-tag': 'a', sdp: offerSdp });
    await client.request('offer', { 'call-id': 'someone-elses', 'from-tag': 'a', sdp: offerSdp });
    const plane = await RtpEngineMediaPlane.start({ client, dtmfSocket: await bindDtmfSocket('127.0.0.1') });
    try {
      assert.deepEqual(await plane.sessions(), []);
      const all = (await client.request('list', {})).calls as string[];
      assert.ok(all.includes('someone-elses'));
    } finally {
      await plane.close();
      await client.request('delete', { 'call-id': 'someone-elses', 'delete-delay': 0 });
    }
  });

  it('a daemon killed underneath is started again and answers ping', async () => {
    const before = supervisor.pid as number;
    process.kill(before, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (supervisor.pid === undefined || supervisor.pid === before || !(await supervisor.client!.ping()))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.notEqual(supervisor.pid, before);
    assert.equal(await supervisor.client!.ping(), true);
    assert.equal(restarts.length, 1);
    assert.match(restarts[0] as string, /SIGKILL/);
  });

  it('stop leaves no rtpengine running', async () => {
    const pid = supervisor.pid as number;
    await supervisor.stop();
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
    await supervisor.start(); // for the after hook, and to show start works again after a stop
  });
});
