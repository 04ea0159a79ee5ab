// RFC 3261 sections 7 and 18.3: messages serialise with a correct Content-Length and parse back to the same values;
// stream transports frame messages by Content-Length, skip CRLF keepalives, and refuse what cannot be framed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDatagram, parseUri, SipHeaders, SipRequest, SipResponse, StreamParser } from '../../src/sip/message/index.ts';

function options(callId: string, body = ''): SipRequest {
  const headers = new SipHeaders()
    .add('Via', 'SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-1;rport')
    .add('Max-Forwards', '70')
    .add('From', '"Alice" <sip:alice@example.com>;tag=a1')
    .add('To', '<sip:bob@example.com>')
    .add('Call-ID', callId)
    .add('CSeq', '1 OPTIONS');
  return new SipRequest('OPTIONS', parseUri('sip:bob@example.com'), headers, Buffer.from(body));
}

describe('SIP message serialisation (RFC 3261 section 7)', () => {
  it('a request serialises with CRLFs and a Content-Length that counts bytes, and parses back', () => {
    const text = options('c1@example.com', 'héllo').toString();
    assert.match(text, /^OPTIONS sip:bob@example\.com SIP\/2\.0\r\n/);
    assert.match(text, /\r\nContent-Length: 6\r\n\r\nhéllo$/);
    const r = parseDatagram(Buffer.from(text));
    assert.ok(r.ok && r.message.kind === 'request');
    assert.equal(r.message.from.displayName, 'Alice');
    assert.equal(r.message.topVia?.params.has('rport'), true);
    assert.equal(r.message.body.toString(), 'héllo');
  });

  it('header names are case-insensitive and compact forms are the same headers (section 7.3.3)', () => {
    const h = new SipHeaders().add('v', 'SIP/2.0/UDP a;branch=z9hG4bK1').add('VIA', 'SIP/2.0/UDP b;branch=z9hG4bK2').add('i', 'x');
    assert.deepEqual(h.getAll('Via').length, 2);
    assert.equal(h.get('call-id'), 'x');
    assert.deepEqual(h.entries().map((e) => e.name), ['Via', 'Via', 'Call-ID']);
  });

  it('list headers split on top-level commas only, across lines', () => {
    const h = new SipHeaders().add('Contact', '"Doe, John" <sip:a@x>, <sip:b@x;p=1,2>').add('Contact', '<sip:c@x>');
    assert.deepEqual(h.values('Contact'), ['"Doe, John" <sip:a@x>', '<sip:b@x;p=1,2>', '<sip:c@x>']);
  });

  it('prepend puts a Via on top; removeFirstValue takes the top one off', () => {
    const m = options('c2');
    m.headers.prepend('Via', 'SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK-top');
    assert.equal(m.topVia?.host, '198.51.100.1');
    m.headers.removeFirstValue('Via');
    assert.equal(m.topVia?.host, '192.0.2.1');
  });

  it('an unterminated quoted string in a list header is a 400, not an exception (found by the fuzz test)', () => {
    const text = options('q@x').toString().replace('CSeq: 1 OPTIONS', 'CSeq: 1 OPTIONS\r\nContact: "open <sip:a@b>');
    const r = parseDatagram(Buffer.from(text));
    assert.ok(!r.ok && r.status === 400 && /unterminated quoted string/.test(r.reason));
  });

  it('a response serialises its status line', () => {
    const r = new SipResponse(486, 'Busy Here', new SipHeaders().add('Call-ID', 'x'));
    assert.match(r.toString(), /^SIP\/2\.0 486 Busy Here\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n$/);
  });
});

describe('stream framing (RFC 3261 section 18.3)', () => {
  it('two messages in one chunk, and one message split across many chunks', () => {
    const a = options('a@x', 'one').toBuffer();
    const b = options('b@x', 'second body').toBuffer();
    const p = new StreamParser();
    const both = p.push(Buffer.concat([a, b]));
    assert.deepEqual(both.map((r) => r.ok && r.message.callId), ['a@x', 'b@x']);
    const q = new StreamParser();
    const out = [];
    for (const byte of b) out.push(...q.push(Buffer.from([byte])));
    assert.equal(out.length, 1);
    assert.ok(out[0]?.ok && out[0].message.body.toString() === 'second body');
    assert.equal(q.pending, 0);
  });

  it('CRLF keepalives between messages are skipped, and a double-CRLF ping is reported (RFC 5626 section 3.5.1)', () => {
    const p = new StreamParser();
    let pings = 0;
    const out = p.push(Buffer.concat([Buffer.from('\r\n\r\n'), options('k@x').toBuffer(), Buffer.from('\r\n')]), () => pings++);
    assert.equal(out.length, 1);
    assert.equal(pings, 1);
  });

  it('a message without Content-Length cannot be framed: a request gets a 400 and the stream stops', () => {
    const text = options('n@x').toString().replace(/Content-Length: 0\r\n/, '');
    const out = new StreamParser().push(Buffer.from(text));
    assert.equal(out.length, 1);
    assert.ok(out[0] && !out[0].ok && out[0].status === 400 && /missing Content-Length/.test(out[0].reason));
  });

  it('a header section that never ends is refused past 64 KiB', () => {
    const p = new StreamParser();
    const out = p.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nX: ' + 'y'.repeat(70_000)));
    assert.ok(out[0] && !out[0].ok && /too large/.test(out[0].reason));
  });
});
