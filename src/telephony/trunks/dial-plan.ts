/**
 * Outbound routes' dial patterns, in the syntax Asterisk's dialplan made familiar to operators.
 * (Signatures fixed; bodies to be written.)
 */

/** A pattern that does not parse; `message` says what is wrong and where. */
export class PatternError extends Error {
  override readonly name = 'PatternError';
}

export interface DialPattern {
  readonly source: string;
}

/** Parses a pattern (`_NXXNXXXXXX`, `_011.`, `_1[2-9]XX!`, `911`, or a plain prefix `0044`); throws PatternError. */
export function parsePattern(source: string): DialPattern {
  throw new PatternError(`not implemented: ${source}`);
}

/** Whether `digits` (what was dialled: digits, `*`, `#`, a leading `+`) matches. */
export function matchesPattern(pattern: DialPattern, digits: string): boolean {
  void pattern;
  void digits;
  return false;
}

/** A route's change to the dialled number: `strip` digits cut from the front, then `prepend` added. */
export function rewriteDialled(digits: string, change: { strip: number; prepend: string }): string {
  return change.prepend + digits.slice(change.strip);
}
