/**
 * An RTP receiver for tests: a UDP socket that keeps every packet with its arrival time, and turns the PCMU ones
 * of a stretch of time back into audio, whatever their SSRC (a relay that plays music sends under another one).
 */
import dgram from 'node:dgram';
import { ulawToLinear } from '../../src/media/recording/mixdown.ts';

export interface RtpPacket {
  at: number;
  payloadType: number;
  ssrc: number;
  payload: Buffer;
}

export class RtpSink {
  readonly packets: RtpPacket[] = [];

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (data) => {
      if (data.length < 12 || data[0]! >> 6 !== 2) return;
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

  close(): void {
    this.socket.close();
  }
}
