/** Sends raw bytes to a UDP port from a fresh socket and collects whatever comes back within a time. */
import dgram from 'node:dgram';

/** `host` is a loopback address (127.0.0.1 unless told); the answers come back to 127.0.0.1, where the socket is. */
export async function udpExchange(port: number, data: Buffer | string, waitMs = 500, host = '127.0.0.1'): Promise<string[]> {
  const socket = dgram.createSocket('udp4');
  const replies: string[] = [];
  socket.on('message', (msg) => replies.push(msg.toString('utf8')));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port: localPort } = socket.address();
  const bytes = typeof data === 'string' ? Buffer.from(data.replaceAll('LOCALPORT', String(localPort))) : data;
  await new Promise<void>((resolve) => socket.send(bytes, port, host, () => resolve()));
  await new Promise((r) => setTimeout(r, waitMs));
  socket.close();
  return replies;
}

/** A minimal request as a phone would send it, CRLF line ends, with a Via back to the sending socket. */
export function sipRequest(method: string, uri: string, headers: Record<string, string>, body = ''): string {
  const lines = [
    `${method} ${uri} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:LOCALPORT;branch=z9hG4bK${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}
