/**
 * Outbound routes' dial patterns, in the syntax Asterisk's dialplan made familiar to operators.
 *
 * - A pattern starts with `_`. Then `X` is any digit 0-9, `Z` one of 1-9, `N` one of 2-9 (in either case, as
 *   Asterisk reads them), `[137-9]` one character of a set (digits, `*`, `#`, `+`, and ranges of digits), `.` one or
 *   more characters of anything and `!` zero or more, those two only at the end. Any other character is itself: a
 *   digit, `*`, `#` or `+`. A `-` outside a set is a visual separator and ignored (`_1-NXX-NXX-XXXX`), as in Asterisk.
 * - Anything else is a plain number, matched whole, as Asterisk matches an extension `911`: it matches `911` and not
 *   `9115`. A prefix is written as a pattern, `_0044.`; a plain `0044` matches `0044` only. FreePBX's prefix
 *   operator `|` is not taken: one syntax, the dialplan's, is enough.
 *
 * A pattern compiles to an anchored RegExp made of single-character classes and at most one trailing repetition,
 * so a match is one linear pass whatever is dialled: there is nothing for the engine to backtrack into.
 */

/** A pattern that does not parse; `message` says what is wrong and where. */
export class PatternError extends Error {
  override readonly name = 'PatternError';
}

export interface DialPattern {
  readonly source: string;
}

/** Longer than any number worth dialling with a margin for separators; a longer pattern is a mistake. */
export const maxPatternLength = 64;

// What can be dialled: digits, `*`, `#`, and a `+` only in front.
const DIALLED = /^\+?[0-9*#]*$/;
// The characters `.` and `!` stand for. `+` is among them because `_!` or `_.` means anything at all, and what was
// dialled was already checked to hold a `+` only in front.
const ANY = '[0-9*#+]';
const LITERAL = /^[0-9*#+]$/;
// Letters and marks that only mean something in a pattern: in a plain number they are a forgotten `_`.
const PATTERN_ONLY = /^[XZNxzn[\].!]$/;

const compiled = new WeakMap<DialPattern, RegExp>();

/**
 * Parses a pattern (`_NXXNXXXXXX`, `_011.`, `_1[2-9]XX!`) or a plain number (`911`), taken exactly as written:
 * nothing is trimmed. Throws {@link PatternError} naming what is wrong and where (positions count from 1, the `_`
 * being the first): `empty pattern`, `unclosed '[' at 3`, `'.' may only end a pattern`, `unexpected character 'a'
 * at 2`. A plain prefix is not a thing: write `_0044.` for "every number starting 0044".
 */
export function parsePattern(source: string): DialPattern {
  const pattern: DialPattern = Object.freeze({ source });
  compiled.set(pattern, compile(source));
  return pattern;
}

/**
 * Whether `digits` (what was dialled: digits, `*`, `#`, an optional leading `+`) matches the whole pattern. Anything
 * else dialled matches nothing. A pattern not made by {@link parsePattern} is parsed here, and may throw as it does.
 */
export function matchesPattern(pattern: DialPattern, digits: string): boolean {
  let regex = compiled.get(pattern);
  if (!regex) {
    regex = compile(pattern.source);
    compiled.set(pattern, regex);
  }
  return DIALLED.test(digits) && regex.test(digits);
}

/** A route's change to the dialled number: `strip` digits cut from the front, then `prepend` added. */
export function rewriteDialled(digits: string, change: { strip: number; prepend: string }): string {
  return change.prepend + digits.slice(change.strip);
}

/** The anchored RegExp a pattern stands for; throws PatternError. */
function compile(source: string): RegExp {
  if (source.length === 0) throw new PatternError('empty pattern');
  if (source.length > maxPatternLength) throw new PatternError(`pattern longer than ${maxPatternLength} characters`);
  const parts = source.startsWith('_') ? patternParts(source) : plainParts(source);
  if (parts.length === 0) throw new PatternError('empty pattern');
  return new RegExp(`^${parts.join('')}$`);
}

/** A plain number: each character itself, separators dropped. */
function plainParts(source: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '-') continue;
    if (LITERAL.test(c)) parts.push(escape(c));
    else if (PATTERN_ONLY.test(c)) throw new PatternError(`unexpected character '${c}' at ${i + 1}: a pattern starts with '_'`);
    else throw new PatternError(`unexpected character '${c}' at ${i + 1}`);
  }
  return parts;
}

/** An Asterisk pattern, after its `_`. */
function patternParts(source: string): string[] {
  const parts: string[] = [];
  for (let i = 1; i < source.length; i++) {
    const c = source[i] as string;
    switch (c) {
      case '-':
        break;
      case 'X':
      case 'x':
        parts.push('[0-9]');
        break;
      case 'Z':
      case 'z':
        parts.push('[1-9]');
        break;
      case 'N':
      case 'n':
        parts.push('[2-9]');
        break;
      case '.':
      case '!':
        // Only separators may follow: the repetition is the pattern's tail, which keeps matching linear.
        if (!/^-*$/.test(source.slice(i + 1))) throw new PatternError(`'${c}' may only end a pattern`);
        parts.push(c === '.' ? `${ANY}+` : `${ANY}*`);
        return parts;
      case '[': {
        const { part, end } = set(source, i);
        parts.push(part);
        i = end;
        break;
      }
      default:
        if (!LITERAL.test(c)) throw new PatternError(`unexpected character '${c}' at ${i + 1}`);
        parts.push(escape(c));
    }
  }
  return parts;
}

/** The set opening at `open`: its character class and the index of its `]`. */
function set(source: string, open: number): { part: string; end: number } {
  const close = source.indexOf(']', open + 1);
  if (close < 0) throw new PatternError(`unclosed '[' at ${open + 1}`);
  if (close === open + 1) throw new PatternError(`empty set '[]' at ${open + 1}`);
  const members = new Set<string>();
  for (let i = open + 1; i < close; i++) {
    const c = source[i] as string;
    if (c === '-') throw new PatternError(`range at ${i + 1} needs a digit on each side`);
    if (!LITERAL.test(c)) throw new PatternError(`unexpected character '${c}' at ${i + 1}`);
    if (source[i + 1] !== '-') {
      members.add(c);
      continue;
    }
    // A range: digit, `-`, digit.
    const to = source[i + 2] as string;
    if (!/^\d$/.test(c) || i + 2 >= close || !/^\d$/.test(to)) throw new PatternError(`range at ${i + 2} needs a digit on each side`);
    if (to < c) throw new PatternError(`reversed range '${c}-${to}' at ${i + 1}`);
    for (let d = Number(c); d <= Number(to); d++) members.add(String(d));
    i += 2;
  }
  // Inside a class only `\`, `]`, `^` and `-` are special, and none can be a member.
  return { part: `[${[...members].join('')}]`, end: close };
}

function escape(c: string): string {
  return c === '*' || c === '+' ? `\\${c}` : c;
}
