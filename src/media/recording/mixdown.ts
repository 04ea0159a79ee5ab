/**
 * Turns a call's captured RTP into one stereo WAV: each party's packets (told apart by the relay port they were
 * sent to) become one channel, placed by capture time so both channels stay in step and silences keep their length.
 * G.711 (PCMU, PCMA) is decoded; other payloads (telephone-events, comfort noise, codecs without a decoder here)
 * leave silence.
 */
import { wavFile } from '../hold-music.ts';
import type { CapturedDatagram } from './pcap.ts';

const RATE = 8000;

/** ITU-T G.711 mu-law to 16-bit linear. */
export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

/** ITU-T G.711 A-law to 16-bit linear. */
export function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  const exponent = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  t += exponent === 0 ? 8 : 0x108;
  if (exponent > 1) t <<= exponent - 1;
  return a & 0x80 ? t : -t;
}

export interface Mixdown {
  wav: Buffer;
  durationMs: number;
  startedAt: number;
  endedAt: number;
  /** Packets of each channel that carried audio we could decode. */
  decoded: [number, number];
  /** Packets with a payload type we cannot decode. */
  undecodable: number;
}

/** `channelOf` answers 0 (left), 1 (right), or undefined for a packet to leave out, by the port it was sent to. */
export function mixdown(datagrams: CapturedDatagram[], channelOf: (destinationPort: number) => 0 | 1 | undefined): Mixdown {
  const chosen = datagrams.filter((d) => channelOf(d.destinationPort) !== undefined && d.payload.length >= 12 && (d.payload[0] as number) >> 6 === 2);
  if (chosen.length === 0) return { wav: wavStereo([new Int16Array(0), new Int16Array(0)]), durationMs: 0, startedAt: 0, endedAt: 0, decoded: [0, 0], undecodable: 0 };
  const start = Math.min(...chosen.map((d) => d.timeMs));
  const end = Math.max(...chosen.map((d) => d.timeMs));
  const total = Math.ceil(((end - start) / 1000) * RATE) + RATE;
  const channels: [Int16Array, Int16Array] = [new Int16Array(total), new Int16Array(total)];
  const cursor = [0, 0];
  const decoded: [number, number] = [0, 0];
  let undecodable = 0;
  let length = 0;
  for (const d of chosen.sort((a, b) => a.timeMs - b.timeMs)) {
    const channel = channelOf(d.destinationPort) as 0 | 1;
    const rtp = d.payload;
    const payloadType = (rtp[1] as number) & 0x7f;
    let at = 12 + ((rtp[0] as number) & 0x0f) * 4;
    if ((rtp[0] as number) & 0x10 && at + 4 <= rtp.length) at += 4 + rtp.readUInt16BE(at + 2) * 4;
    let stop = rtp.length;
    if ((rtp[0] as number) & 0x20) stop -= rtp[rtp.length - 1] as number;
    if (payloadType !== 0 && payloadType !== 8) {
      if (payloadType < 96 || payloadType > 127) undecodable++;
      continue;
    }
    // In step with the clock: packets within 60 ms of where the channel is follow on; a longer gap is kept as silence.
    const byTime = Math.round(((d.timeMs - start) / 1000) * RATE);
    let position = Math.abs(byTime - (cursor[channel] as number)) < 480 ? (cursor[channel] as number) : byTime;
    const target = channels[channel];
    for (let i = at; i < stop && position < target.length; i++, position++) {
      target[position] = payloadType === 0 ? ulawToLinear(rtp[i] as number) : alawToLinear(rtp[i] as number);
    }
    cursor[channel] = position;
    length = Math.max(length, position);
    decoded[channel]++;
  }
  return {
    wav: wavStereo([channels[0].subarray(0, length), channels[1].subarray(0, length)]),
    durationMs: Math.round((length / RATE) * 1000),
    startedAt: start,
    endedAt: end,
    decoded,
    undecodable,
  };
}

function wavStereo([left, right]: [Int16Array, Int16Array]): Buffer {
  const interleaved = new Int16Array(left.length * 2);
  for (let i = 0; i < left.length; i++) {
    interleaved[2 * i] = left[i] as number;
    interleaved[2 * i + 1] = right[i] as number;
  }
  return wavFile(interleaved, RATE, 2);
}
