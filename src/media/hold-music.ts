/**
 * Audio the project makes itself, so its licence is ours, as 8 kHz 16-bit mono WAV looped by the player: music on
 * hold (a slow arpeggio of soft sine chords, C major, A minor, F major, G major, about 8 seconds) and ringback.
 */
import fs from 'node:fs';
import path from 'node:path';

const RATE = 8000;

/** A 16-bit PCM WAV file of `samples` (interleaved when there are several channels). */
export function wavFile(samples: Int16Array, rate = RATE, channels = 1): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) data.writeInt16LE(samples[i] as number, i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2 * channels, 28);
  header.writeUInt16LE(2 * channels, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

export function holdMusic(): Buffer {
  // Each chord is four notes, each note a quarter second with a soft attack and decay, the chord's root below.
  const chords = [
    [261.63, 329.63, 392.0, 523.25],
    [220.0, 261.63, 329.63, 440.0],
    [174.61, 220.0, 261.63, 349.23],
    [196.0, 246.94, 293.66, 392.0],
  ];
  const noteSeconds = 0.5;
  const noteLength = Math.round(noteSeconds * RATE);
  const samples = new Int16Array(chords.length * 4 * noteLength);
  let at = 0;
  for (const chord of chords) {
    const root = (chord[0] as number) / 2;
    for (const note of chord) {
      for (let i = 0; i < noteLength; i++) {
        const t = i / RATE;
        const envelope = Math.min(1, t / 0.03) * Math.exp(-3 * t);
        const value = 0.45 * envelope * Math.sin(2 * Math.PI * note * t) + 0.15 * Math.sin(2 * Math.PI * root * ((at + i) / RATE));
        samples[at + i] = Math.round(value * 12_000);
      }
      at += noteLength;
    }
  }
  return wavFile(samples);
}

/**
 * Ringback as a caller hears it in North America (440 Hz and 480 Hz together, two seconds on, four off), played to
 * a party the PBX already answered (a click-to-call's agent) while the other side rings.
 */
export function ringbackTone(): Buffer {
  const on = 2 * RATE;
  const samples = new Int16Array(6 * RATE);
  for (let i = 0; i < on; i++) {
    const t = i / RATE;
    const envelope = Math.min(1, t / 0.01, (on - i) / RATE / 0.01);
    samples[i] = Math.round(envelope * 6_000 * (Math.sin(2 * Math.PI * 440 * t) + Math.sin(2 * Math.PI * 480 * t)));
  }
  return wavFile(samples);
}

/** Writes `content` as `name` into `dir` (unless it is there already, the same) and answers its absolute path. */
function ensureFile(dir: string, name: string, content: Buffer): string {
  const file = path.resolve(dir, name);
  let existing: Buffer | undefined;
  try {
    existing = fs.readFileSync(file);
  } catch {
    existing = undefined;
  }
  if (!existing?.equals(content)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  return file;
}

/** Writes the generated hold music into `dir` (when it is not there yet) and answers its absolute path. */
export function ensureHoldMusic(dir: string): string {
  return ensureFile(dir, 'hold-music.wav', holdMusic());
}

/** Writes the generated ringback tone into `dir` (when it is not there yet) and answers its absolute path. */
export function ensureRingback(dir: string): string {
  return ensureFile(dir, 'ringback.wav', ringbackTone());
}
