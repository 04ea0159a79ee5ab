/**
 * Bencode, the encoding of rtpengine's ng control protocol: integers `i42e`, byte strings `4:spam`, lists
 * `l...e` and dictionaries `d...e` with keys in sorted order. Byte strings decode to UTF-8 text (SDP, tags, reasons).
 */
export type BValue = string | number | BValue[] | { [key: string]: BValue };

export class BencodeError extends Error {
  override readonly name = 'BencodeError';
}

export function encode(value: BValue): Buffer {
  const parts: Buffer[] = [];
  const walk = (v: BValue): void => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new BencodeError(`bencode integers only, not ${v}`);
      parts.push(Buffer.from(`i${v}e`));
    } else if (typeof v === 'string') {
      const bytes = Buffer.from(v, 'utf8');
      parts.push(Buffer.from(`${bytes.length}:`), bytes);
    } else if (Array.isArray(v)) {
      parts.push(Buffer.from('l'));
      v.forEach(walk);
      parts.push(Buffer.from('e'));
    } else {
      parts.push(Buffer.from('d'));
      for (const key of Object.keys(v).sort()) {
        const item = v[key];
        if (item === undefined) continue;
        walk(key);
        walk(item);
      }
      parts.push(Buffer.from('e'));
    }
  };
  walk(value);
  return Buffer.concat(parts);
}

/** Decodes one value that fills `data` exactly; anything malformed is a {@link BencodeError}. */
export function decode(data: Buffer): BValue {
  let at = 0;
  const fail = (what: string): never => {
    throw new BencodeError(`${what} at byte ${at}`);
  };
  const read = (depth: number): BValue => {
    if (depth > 64) fail('nested too deep');
    const c = data[at];
    if (c === undefined) return fail('unexpected end');
    if (c === 0x69) {
      const end = data.indexOf(0x65, at);
      if (end < 0) fail('unterminated integer');
      const text = data.toString('latin1', at + 1, end);
      if (!/^-?\d{1,15}$/.test(text)) fail('bad integer');
      at = end + 1;
      return Number(text);
    }
    if (c === 0x6c || c === 0x64) {
      at++;
      const list: BValue[] = [];
      const dict: { [key: string]: BValue } = {};
      while (data[at] !== 0x65) {
        if (at >= data.length) fail('unterminated container');
        if (c === 0x6c) list.push(read(depth + 1));
        else {
          const key = read(depth + 1);
          if (typeof key !== 'string') fail('dictionary key is not a string');
          dict[key as string] = read(depth + 1);
        }
      }
      at++;
      return c === 0x6c ? list : dict;
    }
    const colon = data.indexOf(0x3a, at);
    if (colon < 0) fail('bad string length');
    const lengthText = data.toString('latin1', at, colon);
    if (!/^\d{1,9}$/.test(lengthText)) fail('bad string length');
    const start = colon + 1;
    const end = start + Number(lengthText);
    if (end > data.length) fail('string runs past the end');
    at = end;
    return data.toString('utf8', start, end);
  };
  const value = read(0);
  if (at !== data.length) fail('trailing bytes');
  return value;
}
