// Outbound routes' dial patterns in Asterisk's syntax: pattern letters, sets and ranges, the trailing `.` and `!`,
// `-` as a separator, plain numbers matched whole, and the refusals, each naming what is wrong and where.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DialPattern, matchesPattern, parsePattern, PatternError, rewriteDialled } from '../../src/telephony/trunks/dial-plan.ts';

function matches(source: string, digits: string): boolean {
  return matchesPattern(parsePattern(source), digits);
}

function refused(source: string, message: string): void {
  assert.throws(() => parsePattern(source), (e: unknown) => e instanceof PatternError && e.name === 'PatternError' && e.message === message);
}

describe('dial patterns', () => {
  it('_NXXNXXXXXX matches a ten-digit North American number and not one starting with 1', () => {
    assert.equal(matches('_NXXNXXXXXX', '4155550100'), true);
    assert.equal(matches('_NXXNXXXXXX', '1415555010'), false);
    assert.equal(matches('_NXXNXXXXXX', '4151550100'), false, 'the exchange may not start with 1 either');
    assert.equal(matches('_NXXNXXXXXX', '415555010'), false, 'nine digits');
    assert.equal(matches('_NXXNXXXXXX', '41555501000'), false, 'eleven digits');
  });

  it('X is any digit, Z one of 1-9 and N one of 2-9', () => {
    assert.equal(matches('_X', '0'), true);
    assert.equal(matches('_Z', '0'), false);
    assert.equal(matches('_Z', '1'), true);
    assert.equal(matches('_N', '1'), false);
    assert.equal(matches('_N', '2'), true);
    assert.equal(matches('_N', '9'), true);
    assert.equal(matches('_X', '*'), false, 'X is a digit, not a star');
  });

  it('pattern letters are read in either case, as Asterisk does', () => {
    assert.equal(matches('_nxxnxxxxxx', '4155550100'), true);
    assert.equal(matches('_z', '0'), false);
  });

  it('a set holds single characters and ranges', () => {
    assert.equal(matches('_[1-5]', '3'), true);
    assert.equal(matches('_[1-5]', '6'), false);
    assert.equal(matches('_[137-9]', '1'), true);
    assert.equal(matches('_[137-9]', '3'), true);
    assert.equal(matches('_[137-9]', '8'), true);
    assert.equal(matches('_[137-9]', '5'), false);
    assert.equal(matches('_[*#]X', '#5'), true);
    assert.equal(matches('_[5-5]', '5'), true, 'a range of one digit');
  });

  it('_011. matches an international call with at least one digit after 011', () => {
    assert.equal(matches('_011.', '011442071838750'), true);
    assert.equal(matches('_011.', '0114'), true);
    assert.equal(matches('_011.', '011'), false, '. is one or more');
  });

  it('! is zero or more of anything', () => {
    assert.equal(matches('_011!', '011'), true);
    assert.equal(matches('_011!', '011442071838750'), true);
    assert.equal(matches('_1[2-9]XX!', '1234'), true);
    assert.equal(matches('_1[2-9]XX!', '1134'), false);
  });

  it('. and ! take stars, hashes and a leading plus', () => {
    assert.equal(matches('_.', '+14155550100'), true);
    assert.equal(matches('_!', '*72#'), true);
    assert.equal(matches('_9.', '9*#'), true);
  });

  it('* # and + are literal characters in a pattern', () => {
    assert.equal(matches('_*72X.', '*7215551234'), true);
    assert.equal(matches('_*72X.', '17215551234'), false, '* is not a wildcard');
    assert.equal(matches('_+1NXXNXXXXXX', '+14155550100'), true);
    assert.equal(matches('_+1NXXNXXXXXX', '14155550100'), false);
    assert.equal(matches('_X#', '5#'), true);
  });

  it('a dash outside a set is a separator and ignored', () => {
    assert.equal(matches('_1-NXX-NXX-XXXX', '14155550100'), true);
    assert.equal(matches('_1-NXX-NXX-XXXX', '1-415-555-0100'), false, 'what is dialled holds no dashes');
    assert.equal(matches('1-800-555-1212', '18005551212'), true);
    assert.equal(matches('_9.-', '95'), true, 'a dash after the tail is still only a separator');
  });

  it('a plain number matches only itself, not as a prefix', () => {
    assert.equal(matches('911', '911'), true);
    assert.equal(matches('911', '9115'), false);
    assert.equal(matches('911', '91'), false);
    assert.equal(matches('0044', '00442071838750'), false, 'a prefix is written _0044.');
    assert.equal(matches('_0044.', '00442071838750'), true);
    assert.equal(matches('*97', '*97'), true);
    assert.equal(matches('+14155550100', '+14155550100'), true);
  });

  it('the match is of the whole dialled string', () => {
    assert.equal(matches('_XXX', '1234'), false);
    assert.equal(matches('_XXX', '12'), false);
    assert.equal(matches('_1XX', '0123'), false);
  });

  it('what cannot be dialled matches nothing, even anything', () => {
    assert.equal(matches('_!', '12a'), false);
    assert.equal(matches('_.', '1+2'), false, 'a plus only in front');
    assert.equal(matches('_.', '1 2'), false);
    assert.equal(matches('_X.', '\n12'), false);
  });

  it('a pattern not made by parsePattern is parsed when matched, and refused the same way', () => {
    const made: DialPattern = { source: '_NXX' };
    assert.equal(matchesPattern(made, '212'), true);
    assert.throws(() => matchesPattern({ source: '_[' }, '1'), PatternError);
  });

  it('a parsed pattern keeps its source as written', () => {
    assert.equal(parsePattern('_1-NXX').source, '_1-NXX');
  });

  it('an empty pattern is refused', () => {
    refused('', 'empty pattern');
    refused('_', 'empty pattern');
    refused('_--', 'empty pattern');
    refused('---', 'empty pattern');
  });

  it('a pattern over 64 characters is refused; 64 is taken', () => {
    const longest = `_${'X'.repeat(63)}`;
    assert.equal(longest.length, 64);
    assert.equal(matches(longest, '1'.repeat(63)), true);
    refused(`${longest}X`, 'pattern longer than 64 characters');
  });

  it('nothing is trimmed: a space is an unexpected character', () => {
    refused(' 911', "unexpected character ' ' at 1");
    refused('_NXX ', "unexpected character ' ' at 5");
  });

  it('an unclosed set is refused naming its position', () => {
    refused('_1[2', "unclosed '[' at 3");
    refused('_[', "unclosed '[' at 2");
  });

  it('an empty set is refused', () => {
    refused('_1[]X', "empty set '[]' at 3");
  });

  it('a reversed range is refused', () => {
    refused('_[9-1]', "reversed range '9-1' at 3");
    refused('_1[37-5]', "reversed range '7-5' at 5");
  });

  it('a range needs a digit on each side', () => {
    refused('_[-5]', 'range at 3 needs a digit on each side');
    refused('_[5-]', 'range at 4 needs a digit on each side');
    refused('_[*-5]', 'range at 4 needs a digit on each side');
    refused('_[1-3-5]', 'range at 6 needs a digit on each side');
  });

  it('a set holds only what can be dialled', () => {
    refused('_[1a]', "unexpected character 'a' at 4");
    refused('_[X]', "unexpected character 'X' at 3");
  });

  it('. and ! may only end a pattern', () => {
    refused('_9.1', "'.' may only end a pattern");
    refused('_9!X', "'!' may only end a pattern");
    refused('_..', "'.' may only end a pattern");
  });

  it('a character that is neither a pattern letter nor dialable is refused naming its position', () => {
    refused('_a', "unexpected character 'a' at 2");
    refused('_1]', "unexpected character ']' at 3");
    refused('_1_', "unexpected character '_' at 3");
    refused('9a', "unexpected character 'a' at 2");
  });

  it('a pattern letter in a plain number is refused as a forgotten underscore', () => {
    refused('NXXNXXXXXX', "unexpected character 'N' at 1: a pattern starts with '_'");
    refused('011.', "unexpected character '.' at 4: a pattern starts with '_'");
  });

  it('a long dialled string against the longest pattern is answered at once', () => {
    const pattern = parsePattern(`_${'X'.repeat(62)}.`);
    const long = '1'.repeat(100_000);
    const start = performance.now();
    assert.equal(matchesPattern(pattern, long), true);
    assert.equal(matchesPattern(pattern, `${long}a`), false);
    assert.equal(matchesPattern(parsePattern(`_${'X'.repeat(62)}!`), `${'1'.repeat(61)}*`), false);
    assert.ok(performance.now() - start < 100);
  });

  it('a route strips digits from the front and prepends its own', () => {
    assert.equal(rewriteDialled('914155550100', { strip: 1, prepend: '' }), '14155550100');
    assert.equal(rewriteDialled('4155550100', { strip: 0, prepend: '+1' }), '+14155550100');
    assert.equal(rewriteDialled('9', { strip: 3, prepend: '0' }), '0');
  });
});
