/**
 * Reading what a phone heard: 16-bit PCM WAV files (as baresip's sndfile module dumps them) and the strength of
 * given tones in a stretch of them (the Goertzel algorithm: the power of one frequency, without a whole FFT).
 */
import fs from 'node:fs';

export interface Pcm {
  rate: number;
  /** Mono samples from -1 to 1 (the channels averaged). */
  samples: Float32Array;
}

export function readWav(file: string): Pcm {
  const data = fs.readFileSync(file);
  if (data.toString('latin1', 0, 4) !== 'RIFF' || data.toString('latin1', 8, 12) !== 'WAVE') throw new Error(`${file} is not a WAV file`);
  let offset = 12;
  let rate = 0;
  let channels = 1;
  let bits = 16;
  while (offset + 8 <= data.length) {
    const id = data.toString('latin1', offset, offset + 4);
    let size = data.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      channels = data.readUInt16LE(body + 2);
      rate = data.readUInt32LE(body + 4);
      bits = data.readUInt16LE(body + 14);
    } else if (id === 'data') {
      // A file still being written (or never closed) says 0 or too much: take what is there.
      if (size === 0 || body + size > data.length) size = data.length - body;
      if (bits !== 16) throw new Error(`${file}: ${bits}-bit samples, expected 16`);
      const frames = Math.floor(size / (2 * channels));
      const samples = new Float32Array(frames);
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (let c = 0; c < channels; c++) sum += data.readInt16LE(body + (i * channels + c) * 2);
        samples[i] = sum / channels / 32768;
      }
      return { rate, samples };
    }
    offset = body + size + (size % 2);
  }
  throw new Error(`${file} has no data chunk`);
}

/** The power of `frequency` in `samples` (Goertzel), normalised by their length. */
export function tonePower(samples: Float32Array, rate: number, frequency: number): number {
  const k = (2 * Math.cos((2 * Math.PI * frequency) / rate));
  let s1 = 0;
  let s2 = 0;
  for (const x of samples) {
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - k * s1 * s2) / (samples.length * samples.length);
}

export function rms(samples: Float32Array): number {
  let sum = 0;
  for (const x of samples) sum += x * x;
  return Math.sqrt(sum / Math.max(1, samples.length));
}

/** Seconds `from` to `to` of a recording. */
export function slice(pcm: Pcm, from: number, to: number): Float32Array {
  return pcm.samples.subarray(Math.max(0, Math.floor(from * pcm.rate)), Math.min(pcm.samples.length, Math.floor(to * pcm.rate)));
}

/** Which of `candidates` is strongest in `samples`, and how much stronger than the runner-up. */
export function dominantTone(samples: Float32Array, rate: number, candidates: number[]): { frequency: number; ratio: number } {
  const powers = candidates.map((f) => ({ f, p: tonePower(samples, rate, f) })).sort((a, b) => b.p - a.p);
  const [best, next] = powers as [{ f: number; p: number }, { f: number; p: number }];
  return { frequency: best.f, ratio: best.p / Math.max(next.p, 1e-12) };
}

/** `seconds` of a sine at `frequency` as 16-bit samples (a microphone's WAV for a browser test). */
export function sineSamples(frequency: number, seconds: number, rate = 48_000): Int16Array {
  const samples = new Int16Array(seconds * rate);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(10_000 * Math.sin((2 * Math.PI * frequency * i) / rate));
  return samples;
}
