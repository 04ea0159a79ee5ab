/**
 * A flow is the path a message came on and an answer goes back on (RFC 5626's term): a UDP 5-tuple, or one TCP,
 * TLS or WebSocket connection. Responses to a request over a connection go back on that same connection
 * (RFC 3261 section 18.2.2); a peer registered over a connection is reached through it.
 */
export type TransportProtocol = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';

export interface Flow {
  /** Stable while the flow lives: `udp:203.0.113.5:5060`, `tcp:17`... */
  readonly id: string;
  readonly protocol: TransportProtocol;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Connection-oriented: no retransmissions, responses on the same connection. */
  readonly reliable: boolean;
  readonly closed: boolean;
  /** Queues bytes for the peer; false when the flow is closed. */
  send(data: Buffer): boolean;
  close(): void;
}

export function isReliable(protocol: TransportProtocol): boolean {
  return protocol !== 'UDP';
}

/** `host` as it goes in a Via sent-by or a URI: IPv6 in brackets. */
export function hostForUri(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}
