/** Port probes shared by the server's start, the media supervisor and `pbx doctor`. */
import dgram from 'node:dgram';
import net from 'node:net';

/** The UDP port `port` resolves to on `host` (a free one for 0), checked by binding it for a moment; rejects when taken. */
export async function freeUdpPort(host: string, port = 0): Promise<number> {
  const probe = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  try {
    return await new Promise<number>((resolve, reject) => {
      probe.once('error', reject);
      probe.bind(port, host, () => resolve(probe.address().port));
    });
  } finally {
    probe.close();
  }
}
