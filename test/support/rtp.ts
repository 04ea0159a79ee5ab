/**
 * An RTP endpoint for tests: a UDP socket that keeps every packet with its arrival time, and turns the PCMU ones
 * of a stretch of time back into audio, whatever their SSRC (a relay that plays music sends under another one). It
 * also sends a PCMU tone back to where the packets came from (symmetric RTP, as a carrier's gateway does).
 */
import dgram from 'node:dgram';
import { ulawToLinear } from '../../src/media/recording/mixdown.ts';

export interface RtpPacket {
  at: number;
  payloadType: number;
  ssrc: number;
  payload: Buffer;
}

/** G.711 mu-law of a 16-bit linear sample (ITU-T G.711). */
export function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  const sign = sample < 0 ? 0x80 : 0;
  let magnitude = Math.min(Math.abs(Math.round(sample)), CLIP) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; exponent--, mask >>= 1);
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  magnitude = ~(sign | (exponent << 4) | mantissa) & 0xff;
  return magnitude;
}

export class RtpSink {
  readonly packets: RtpPacket[] = [];
  /** Where the first packet came from: the relay's port for this side. */
  source: { address: string; port: number } | undefined;

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (data, rinfo) => {
      if (data.length < 12 || data[0]! >> 6 !== 2) return;
      this.source ??= { address: rinfo.address, port: rinfo.port };
      const csrcs = data[0]! & 0x0f;
      this.packets.push({ at: Date.now(), payloadType: data[1]! & 0x7f, ssrc: data.readUInt32BE(8), payload: data.subarray(12 + csrcs * 4) });
    });
  }

  static async open(host = '127.0.0.1'): Promise<RtpSink> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
    return new RtpSink(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** The PCMU audio (8 kHz) of the packets that arrived between `from` and `to` (epoch milliseconds). */
  pcmu(from: number, to: number): Float32Array {
    const chosen = this.packets.filter((p) => p.at >= from && p.at <= to && p.payloadType === 0);
    const samples = new Float32Array(chosen.reduce((n, p) => n + p.payload.length, 0));
    let at = 0;
    for (const p of chosen) for (const byte of p.payload) samples[at++] = ulawToLinear(byte) / 32768;
    return samples;
  }

  /** Sends `seconds` of a `frequency` Hz tone as PCMU (20 ms packets) to where the first packet came from. */
  async sendTone(frequency: number, seconds: number): Promise<void> {
    const to = this.source;
    if (!to) throw new Error('no packet came yet: nowhere to send');
    const ssrc = Math.floor(Math.random() * 0xffffffff);
    const packets = Math.round(seconds * 50);
    for (let n = 0; n < packets; n++) {
      const packet = Buffer.alloc(12 + 160);
      packet[0] = 0x80;
      packet[1] = n === 0 ? 0x80 : 0;
      packet.writeUInt16BE(n & 0xffff, 2);
      packet.writeUInt32BE((n * 160) >>> 0, 4);
      packet.writeUInt32BE(ssrc >>> 0, 8);
      for (let i = 0; i < 160; i++) packet[12 + i] = linearToUlaw(Math.sin((2 * Math.PI * frequency * (n * 160 + i)) / 8000) * 12_000);
      this.socket.send(packet, to.port, to.address);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Sends `seconds` of a `frequency` Hz tone as PCMU, as {@link sendTone}, in which the key `digit` is pressed at
   * `atSeconds` as a phone does it: for 100 ms the stream carries RFC 4733 events instead of audio, under the same
   * SSRC and on the same clock (rfc4733#section-2.5), its end packet sent three times. Answers when the key went
   * down and came up (epoch milliseconds).
   */
  async sendToneWithDigit(frequency: number, seconds: number, key: { digit: string; payloadType: number; atSeconds: number }): Promise<{ pressed: number; released: number }> {
    const to = this.source;
    if (!to) throw new Error('no packet came yet: nowhere to send');
    const event = '0123456789*#'.indexOf(key.digit);
    if (event < 0) throw new Error(`not a DTMF digit: ${key.digit}`);
    const ssrc = Math.floor(Math.random() * 0xffffffff);
    const packets = Math.round(seconds * 50);
    const first = Math.round(key.atSeconds * 50);
    // Five 20 ms steps of the event (100 ms), then its end twice more, all with the timestamp of its start.
    const steps = [160, 320, 480, 640, 800, 800, 800];
    let pressed = 0;
    let released = 0;
    for (let n = 0; n < packets; n++) {
      const step = n - first;
      const inEvent = step >= 0 && step < steps.length;
      const packet = Buffer.alloc(12 + (inEvent ? 4 : 160));
      packet[0] = 0x80;
      packet.writeUInt16BE(n & 0xffff, 2);
      packet.writeUInt32BE(((inEvent ? first : n) * 160) >>> 0, 4);
      packet.writeUInt32BE(ssrc >>> 0, 8);
      if (inEvent) {
        if (step === 0) pressed = Date.now();
        if (step === 4) released = Date.now();
        packet[1] = (step === 0 ? 0x80 : 0) | key.payloadType;
        packet[12] = event;
        packet[13] = (step >= 4 ? 0x80 : 0) | 10;
        packet.writeUInt16BE(steps[step] as number, 14);
      } else {
        packet[1] = n === 0 ? 0x80 : 0;
        for (let i = 0; i < 160; i++) packet[12 + i] = linearToUlaw(Math.sin((2 * Math.PI * frequency * (n * 160 + i)) / 8000) * 12_000);
      }
      this.socket.send(packet, to.port, to.address);
      await new Promise((r) => setTimeout(r, 20));
    }
    if (pressed === 0 || released === 0) throw new Error(`the key at ${key.atSeconds} s falls outside ${seconds} s of audio`);
    return { pressed, released };
  }

  /**
   * Sends a DTMF digit as RFC 4733 telephone-events (payload type `payloadType`, 8 kHz clock) to where the first
   * packet came from: one event of 100 ms in 20 ms steps, its end packet three times (rfc4733#section-2.5.1.4).
   */
  async sendDtmf(digit: string, payloadType = 101): Promise<void> {
    const to = this.source;
    if (!to) throw new Error('no packet came yet: nowhere to send');
    const event = '0123456789*#'.indexOf(digit);
    if (event < 0) throw new Error(`not a DTMF digit: ${digit}`);
    const ssrc = Math.floor(Math.random() * 0xffffffff);
    const timestamp = 160_000;
    const steps = [160, 320, 480, 640, 800, 800, 800, 800];
    for (const [n, duration] of steps.entries()) {
      const end = n >= 4;
      const packet = Buffer.alloc(16);
      packet[0] = 0x80;
      packet[1] = (n === 0 ? 0x80 : 0) | payloadType;
      packet.writeUInt16BE((1000 + n) & 0xffff, 2);
      packet.writeUInt32BE(timestamp, 4);
      packet.writeUInt32BE(ssrc >>> 0, 8);
      packet[12] = event;
      packet[13] = (end ? 0x80 : 0) | 10;
      packet.writeUInt16BE(duration, 14);
      this.socket.send(packet, to.port, to.address);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.socket.close();
  }
}
