// What the stack puts in our Via and Contact (RFC 3261 section 18.1.1): an address the peer can reach us at. A
// socket bound to every address must not advertise 0.0.0.0 or loopback to phones on the network.
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { firstExternalIPv4, SipStack } from '../../src/sip/index.ts';

describe('advertised address', () => {
  it('a UDP socket bound to 0.0.0.0 advertises the machine\'s external IPv4 address, and a public host wins', async () => {
    const stack = await SipStack.start({ listen: [{ protocol: 'UDP', host: '0.0.0.0', port: 0 }] }, { onRequest: () => {} });
    const pinned = await SipStack.start({ listen: [{ protocol: 'UDP', host: '0.0.0.0', port: 0 }], publicHost: 'pbx.example.com' }, { onRequest: () => {} });
    try {
      const flow = await stack.flowTo('UDP', '127.0.0.1', 9);
      const host = stack.advertisedHost(flow);
      const external = firstExternalIPv4();
      assert.equal(host, external ?? '127.0.0.1');
      if (external) assert.ok(Object.values(os.networkInterfaces()).flat().some((a) => a?.address === host));
      assert.notEqual(host, '0.0.0.0');
      assert.equal(pinned.advertisedHost(await pinned.flowTo('UDP', '127.0.0.1', 9)), 'pbx.example.com');
    } finally {
      await stack.close();
      await pinned.close();
    }
  });

  it('a socket bound to one address advertises that address', async () => {
    const stack = await SipStack.start({ listen: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }] }, { onRequest: () => {} });
    try {
      assert.equal(stack.advertisedHost(await stack.flowTo('UDP', '127.0.0.1', 9)), '127.0.0.1');
    } finally {
      await stack.close();
    }
  });
});
