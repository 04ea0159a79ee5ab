// RFC 4475, "SIP Torture Test Messages", byte for byte: the valid messages of section 3.1.1 parse to the right
// values; the invalid ones of section 3.1.2 are answered 400 (505 for the wrong version) when they are requests,
// and dropped when they are responses; the messages of sections 3.2 to 3.4 parse for the layers above. None throws.
// Over the wire, a running stack sends those 400s back, whenever the request has a Via to answer to.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SipStack } from '../../src/sip/index.ts';
import { formatUri, isSipUri, parseDatagram, parseDecimal, type ParseResult, type SipRequest, type SipResponse, uriEquals, parseUri, StreamParser } from '../../src/sip/message/index.ts';
import { eventually } from '../support/wait.ts';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/rfc4475');
const load = (name: string) => fs.readFileSync(path.join(dir, `${name}.dat`));
const parse = (name: string): ParseResult => parseDatagram(load(name));

function request(name: string): SipRequest {
  const r = parse(name);
  assert.ok(r.ok, `${name}: ${r.ok ? '' : r.reason}`);
  assert.equal(r.message.kind, 'request');
  return r.message as SipRequest;
}

function response(name: string): SipResponse {
  const r = parse(name);
  assert.ok(r.ok, `${name}: ${r.ok ? '' : r.reason}`);
  assert.equal(r.message.kind, 'response');
  return r.message as SipResponse;
}

describe('RFC 4475 section 3.1.1: valid messages parse to the right values', () => {
  it('3.1.1.1 wsinv: a short tortuous INVITE, whitespace, folding and compact forms everywhere', () => {
    const m = request('wsinv');
    assert.equal(m.method, 'INVITE');
    assert.ok(isSipUri(m.uri));
    assert.equal(m.uri.host, 'chair-dnrc.example.com');
    assert.ok(m.uri.params.has('unknownparam'));
    assert.equal(m.to.params.get('tag'), '1918181833n');
    assert.equal(m.from.displayName, 'J Rosenberg \\"');
    assert.equal(m.from.params.get('tag'), '98asjd8');
    assert.equal(parseDecimal(m.headers.get('max-forwards') as string, 255, 'Max-Forwards'), 68);
    assert.deepEqual(m.cseq, { seq: 9, method: 'INVITE' });
    assert.deepEqual(m.vias.map((v) => [v.transport, v.host, v.branch]), [
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    assert.equal(m.headers.get('Subject'), '');
    assert.equal(m.headers.get('newfangledheader'), 'newfangled value continued newfangled value');
    assert.equal(m.headers.get('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
    const [contact] = m.contacts;
    assert.equal(contact?.displayName, 'Quoted string ""');
    assert.equal(contact?.params.get('newparam'), 'newvalue');
    assert.equal(contact?.params.get('secondparam'), null);
    assert.equal(contact?.params.get('q'), '0.33');
    assert.equal(m.body.length, 150);
    assert.equal(m.headers.values('Route').length, 1);
  });

  it('3.1.1.2 intmeth: a wide range of valid characters in method, URI user and password, and headers', () => {
    const m = request('intmeth');
    assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
    assert.ok(isSipUri(m.uri));
    assert.equal(m.uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert.equal(m.uri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert.equal(m.uri.host, 'example.com');
    assert.equal(m.cseq.method, m.method);
    assert.equal(m.to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
    assert.equal(m.from.displayName, "token1~` token2'+_ token3*%!.-");
    assert.equal(m.from.params.get('tag'), "_token~1'+`*%!-.");
    assert.equal(m.callId, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  });

  it('3.1.1.3 esc01: escaped characters in URIs compare equal to their unescaped forms', () => {
    const m = request('esc01');
    assert.ok(isSipUri(m.uri));
    assert.equal(m.uri.user, 'sips%3Auser%40example.com');
    assert.equal(m.uri.host, 'example.net');
    assert.ok(uriEquals(m.to.uri, parseUri('sip:user@example.com')));
    assert.equal(m.contacts.length, 1);
    assert.equal(m.headers.get('Content-Type'), 'application/sdp');
  });

  it('3.1.1.4 escnull: escaped NULs in URIs are valid', () => {
    const m = request('escnull');
    assert.equal(m.method, 'REGISTER');
    assert.equal(m.contacts.length, 2);
    assert.ok(isSipUri(m.to.uri) && m.to.uri.user === 'null-%00-null');
  });

  it('3.1.1.5 esc02: escapes in a method and a header name make them other tokens', () => {
    const m = request('esc02');
    assert.equal(m.method, 'RE%47IST%45R', 'not REGISTER');
    assert.equal(m.contacts.length, 2, 'C%6Fntact is not a Contact header');
    assert.equal(m.headers.get('C%6Fntact'), '<sip:alias2@host2.example.com>');
  });

  it('3.1.1.6 lwsdisp: no whitespace between display name and <', () => {
    const m = request('lwsdisp');
    assert.equal(m.from.displayName, 'caller');
    assert.equal(m.from.uriText, 'sip:caller@example.com');
  });

  it('3.1.1.7 longreq: long values in headers and body', () => {
    const m = request('longreq');
    assert.ok(m.to.displayName && m.to.displayName.length > 100);
    assert.ok(m.vias.length >= 30);
    assert.equal(m.body.length, Number(m.headers.get('Content-Length')));
  });

  it('3.1.1.8 dblreq: the second message in a datagram is ignored', () => {
    const m = request('dblreq');
    assert.equal(m.method, 'REGISTER');
    assert.equal(m.body.length, 0);
  });

  it('3.1.1.9 semiuri: a semicolon-separated parameter in the user part', () => {
    const m = request('semiuri');
    assert.ok(isSipUri(m.uri));
    assert.equal(m.uri.user, 'user;par=u%40example.net');
    assert.equal(m.uri.host, 'example.com');
    assert.equal(m.headers.values('Accept').length, 6);
  });

  it('3.1.1.10 transports: Via with unknown transports', () => {
    const m = request('transports');
    assert.deepEqual(m.vias.map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
  });

  it('3.1.1.11 mpart01: a multipart body is kept whole', () => {
    const m = request('mpart01');
    assert.match(m.headers.get('Content-Type') as string, /^multipart\/mixed/);
    assert.equal(m.body.length, Number(m.headers.get('Content-Length')));
  });

  it('3.1.1.12 unreason: a reason phrase with UTF-8 and unusual characters', () => {
    const m = response('unreason');
    assert.equal(m.status, 200);
    assert.match(m.reason, /^= 2\*\*3 \* 5\*\*2 /);
    assert.equal(m.body.length, 154);
  });

  it('3.1.1.13 noreason: an empty reason phrase', () => {
    const m = response('noreason');
    assert.equal(m.status, 100);
    assert.equal(m.reason, '');
  });
});

describe('RFC 4475 section 3.1.2: invalid messages are answered 400 (or 505) or dropped', () => {
  const badRequests: Array<[string, string, RegExp]> = [
    ['badinv01', '3.1.2.1 extraneous header field separators', /empty parameter|empty Via element/],
    ['clerr', '3.1.2.2 Content-Length larger than the message', /Content-Length does not match/],
    ['ncl', '3.1.2.3 negative Content-Length', /invalid Content-Length/],
    ['scalar02', '3.1.2.4 request scalar fields with overlarge values', /CSeq/],
    ['quotbal', '3.1.2.6 unterminated quoted string in a display name', /unterminated quoted string/],
    ['ltgtruri', '3.1.2.7 <> enclosing the Request-URI', /invalid Request-URI/],
    ['lwsruri', '3.1.2.8 malformed SIP Request-URI (embedded LWS)', /malformed request line/],
    ['lwsstart', '3.1.2.9 multiple SP separating Request-Line elements', /malformed request line/],
    ['trws', '3.1.2.10 SP characters at the end of the Request-Line', /malformed request line/],
    ['escruri', '3.1.2.11 escaped headers in the SIP Request-URI', /may not carry headers/],
    ['baddate', '3.1.2.12 invalid time zone in a Date header', /invalid Date/],
    ['regbadct', '3.1.2.13 failure to enclose a name-addr URI in <>', /must be enclosed in <>/],
    ['badaspec', '3.1.2.14 spaces within an addr-spec', /not an absolute URI/],
    ['baddn', '3.1.2.15 non-token characters in a display name', /invalid display name/],
    ['mismatch01', '3.1.2.17 unknown method with CSeq method mismatch (OPTIONS)', /CSeq method INVITE does not match OPTIONS/],
    ['mismatch02', '3.1.2.18 unknown method with CSeq method mismatch', /CSeq method INVITE does not match NEWMETHOD/],
    ['insuf', '3.3.1 missing required header fields', /missing From, To, Call-ID headers/],
    ['multi01', '3.3.9 multiple values in single-value required header fields', /more than one/],
    ['mcl01', '3.3.10 multiple Content-Length values', /more than one Content-Length/],
  ];
  for (const [name, title, reason] of badRequests) {
    it(`${title} (${name}): answered 400 with what was readable`, () => {
      const r = parse(name);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.status, 400);
      assert.match(r.reason, reason);
      assert.ok(r.partial?.headers.has('Call-ID') || name === 'insuf');
    });
  }

  it('3.1.2.16 badvers: an unknown protocol version is answered 505', () => {
    const r = parse('badvers');
    assert.ok(!r.ok && r.status === 505);
  });

  for (const [name, title] of [
    ['scalarlg', '3.1.2.5 response scalar fields with overlarge values'],
    ['bigcode', '3.1.2.19 overlarge response code'],
  ]) {
    it(`${title} (${name}): a malformed response is dropped`, () => {
      const r = parse(name as string);
      assert.ok(!r.ok && r.status === undefined);
    });
  }
});

describe('RFC 4475 over the wire: a running stack answers 400 whenever the request can be answered', () => {
  let stack: SipStack;
  let socket: dgram.Socket;
  const inbox: string[] = [];
  let udpPort: number;
  let tcpPort: number;
  let probes = 0;

  before(async () => {
    stack = await SipStack.start(
      { listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }, { protocol: 'TCP', host: '127.0.0.1', port: 0 }] },
      { onRequest: (req) => void req.reply(200), onAck: () => {} },
    );
    udpPort = stack.transport('UDP')?.port as number;
    tcpPort = stack.transport('TCP')?.port as number;
    socket = dgram.createSocket('udp4');
    socket.on('message', (m) => inbox.push(m.toString('latin1')));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  });
  after(async () => {
    socket.close();
    await stack.close();
  });

  /** Sends a datagram, then an OPTIONS that is answered 200: what came back before that 200 is the first one's answer. */
  async function answersTo(data: Buffer): Promise<string[]> {
    inbox.length = 0;
    const probe = `probe-${++probes}`;
    const options = `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${socket.address().port};branch=z9hG4bK${probe}\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ${probe}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    socket.send(data, udpPort, '127.0.0.1');
    socket.send(Buffer.from(options), udpPort, '127.0.0.1');
    const at = await eventually('the probe\'s 200', () => {
      const i = inbox.findIndex((m) => m.includes(`Call-ID: ${probe}\r\n`));
      return i < 0 ? undefined : i;
    });
    return inbox.slice(0, at);
  }

  const byeWithoutTo = Buffer.from(
    'BYE sip:1000@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK-noto\r\nMax-Forwards: 70\r\n' +
      'From: <sip:2000@example.com>;tag=f1\r\nCall-ID: bye-without-to\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n',
  );

  for (const [name, title, reason] of [
    ['insuf', '3.3.1 insuf: a request without From, To and Call-ID', /^SIP\/2\.0 400 Bad Request \(missing From, To, Call-ID headers\)\r\n/],
    ['badinv01', '3.1.2.1 badinv01: empty parameters in the Via', /^SIP\/2\.0 400 Bad Request \(/],
    ['badvers', '3.1.2.16 badvers: SIP/7.0, in the Via too', /^SIP\/2\.0 505 Version Not Supported\r\n/],
    ['baddn', '3.1.2.15 baddn: non-token characters in a display name', /^SIP\/2\.0 400 Bad Request \(invalid display name 'Bell, Alexander'\)\r\n/],
  ] as const) {
    it(`${title} is answered ${name === 'badvers' ? '505' : '400 saying what is wrong'}, with the Via and what else it had`, async () => {
      const answers = await answersTo(load(name));
      assert.equal(answers.length, 1, answers.join('\n---\n'));
      const [answer] = answers as [string];
      assert.match(answer, reason);
      const sent = load(name).toString('latin1');
      assert.match(answer, new RegExp(`\r\nVia: ${/\r\nVia:\s*([^\r]*)/.exec(sent)?.[1]?.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.match(answer, new RegExp(`\r\nCSeq: ${/\r\nCSeq:\s*([^\r]*)/.exec(sent)?.[1]}\r\n`));
    });
  }

  it('a BYE with no To is answered 400 (missing To header), over UDP and over TCP', async () => {
    const [answer, ...more] = await answersTo(byeWithoutTo);
    assert.equal(more.length, 0);
    assert.match(answer as string, /^SIP\/2\.0 400 Bad Request \(missing To header\)\r\n/);
    assert.match(answer as string, /\r\nCall-ID: bye-without-to\r\n/);
    assert.doesNotMatch(answer as string, /\r\nTo:/, 'no To is made up');

    const tcp = net.connect(tcpPort, '127.0.0.1');
    try {
      let received = '';
      tcp.on('data', (d: Buffer) => (received += d.toString('latin1')));
      tcp.write(byeWithoutTo);
      await eventually('the answer over TCP', () => (/\r\n\r\n/.test(received) ? received : undefined));
      assert.match(received, /^SIP\/2\.0 400 Bad Request \(missing To header\)\r\n/);
    } finally {
      tcp.destroy();
    }
  });

  it('an ACK without To and a request without a Via are never answered', async () => {
    const ack = byeWithoutTo.toString('latin1').replace('BYE sip', 'ACK sip').replace('2 BYE', '2 ACK');
    assert.deepEqual(await answersTo(Buffer.from(ack)), []);
    const noVia = byeWithoutTo.toString('latin1').replace(/Via: [^\r]*\r\n/, '');
    assert.deepEqual(await answersTo(Buffer.from(noVia)), []);
    const brokenVia = byeWithoutTo.toString('latin1').replace('SIP/2.0/UDP 192.0.2.7', 'SIP/2.0/UDP');
    assert.deepEqual(await answersTo(Buffer.from(brokenVia)), []);
  });

  // RFC 4475 3.1.2.5 and 3.3.x: scalarlg and bcast are responses. A response is never answered (RFC 3261 section
  // 7.2), an element receiving scalarlg discards it, and bcast matches no transaction of ours: both are dropped.
  for (const name of ['scalarlg', 'bcast']) {
    it(`${name} is a response: dropped, never answered`, async () => {
      assert.match(load(name).toString('latin1'), /^SIP\/2\.0 /);
      assert.deepEqual(await answersTo(load(name)), []);
    });
  }
});

describe('RFC 4475 sections 3.2 to 3.4: messages for the layers above parse', () => {
  for (const name of ['badbranch', 'unkscm', 'novelsc', 'unksm2', 'bext01', 'invut', 'regaut01', 'bcast', 'zeromf', 'cparam01', 'cparam02', 'regescrt', 'sdp01', 'inv2543']) {
    it(`${name} parses, for the transaction or application layer to judge`, () => {
      const r = parse(name);
      assert.ok(r.ok, r.ok ? '' : r.reason);
    });
  }

  it('3.3.2 unkscm: a Request-URI of an unknown scheme is kept as an opaque URI', () => {
    const m = request('unkscm');
    assert.equal(isSipUri(m.uri), false);
    assert.match(formatUri(m.uri), /^nobodyknowsthisscheme:/);
  });

  it('3.4.1 inv2543: an RFC 2543 INVITE without branch or Max-Forwards', () => {
    const m = request('inv2543');
    assert.equal(m.topVia?.branch, undefined);
    assert.equal(m.headers.get('Max-Forwards'), undefined);
  });
});

describe('every torture message, whole and cut anywhere, never throws', () => {
  it('parses each message and every prefix of it, by datagram and by stream', () => {
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.dat'))) {
      const data = fs.readFileSync(path.join(dir, file));
      for (let cut = 0; cut <= data.length; cut += 7) {
        assert.doesNotThrow(() => parseDatagram(data.subarray(0, cut)), `${file} cut at ${cut}`);
      }
      const stream = new StreamParser();
      for (let i = 0; i < data.length; i += 13) {
        assert.doesNotThrow(() => stream.push(data.subarray(i, i + 13)), `${file} streamed`);
      }
    }
  });
});
