/**
 * Reading the pcap files rtpengine writes when it records a call (`--recording-method=pcap`): the classic libpcap
 * format (either byte order, micro- or nanosecond stamps), raw IP (link type 101) or Ethernet (1) frames, IPv4 or
 * IPv6, UDP. A file cut short by a crash yields the packets before the cut.
 */

export interface CapturedDatagram {
  /** Capture time, epoch milliseconds. */
  timeMs: number;
  sourcePort: number;
  destinationPort: number;
  payload: Buffer;
}

const LINK_ETHERNET = 1;
const LINK_RAW = 101;

export function readPcap(data: Buffer): CapturedDatagram[] {
  if (data.length < 24) return [];
  const magic = data.readUInt32LE(0);
  let little: boolean;
  let nanos: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) {
    little = true;
    nanos = magic === 0xa1b23c4d;
  } else if (data.readUInt32BE(0) === 0xa1b2c3d4 || data.readUInt32BE(0) === 0xa1b23c4d) {
    little = false;
    nanos = data.readUInt32BE(0) === 0xa1b23c4d;
  } else {
    throw new Error('not a pcap file');
  }
  const u32 = (at: number) => (little ? data.readUInt32LE(at) : data.readUInt32BE(at));
  const link = u32(20);
  if (link !== LINK_RAW && link !== LINK_ETHERNET) throw new Error(`pcap link type ${link} is not raw IP or Ethernet`);
  const out: CapturedDatagram[] = [];
  let offset = 24;
  while (offset + 16 <= data.length) {
    const seconds = u32(offset);
    const fraction = u32(offset + 4);
    const captured = u32(offset + 8);
    const start = offset + 16;
    offset = start + captured;
    if (offset > data.length) break;
    let ip = start;
    if (link === LINK_ETHERNET) {
      if (captured < 14 || data.readUInt16BE(start + 12) !== 0x0800 && data.readUInt16BE(start + 12) !== 0x86dd) continue;
      ip += 14;
    }
    const version = (data[ip] as number) >> 4;
    let udp: number;
    if (version === 4) {
      if (data[ip + 9] !== 17) continue;
      udp = ip + ((data[ip] as number) & 0x0f) * 4;
    } else if (version === 6) {
      if (data[ip + 6] !== 17) continue;
      udp = ip + 40;
    } else {
      continue;
    }
    if (udp + 8 > offset) continue;
    out.push({
      timeMs: seconds * 1000 + (nanos ? fraction / 1e6 : fraction / 1e3),
      sourcePort: data.readUInt16BE(udp),
      destinationPort: data.readUInt16BE(udp + 2),
      payload: data.subarray(udp + 8, offset),
    });
  }
  return out;
}
