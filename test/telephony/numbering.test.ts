// Telephone numbers on libphonenumber's plans: what users type normalised to E.164 (fictional 555 numbers
// included), the class of a dialled number (emergency first, NANP's Caribbean countries international from the US,
// Canada national) and the formats carriers want.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, formatForCarrier, isE164, NumberError, stripSeparators, toE164 } from '../../src/telephony/trunks/numbering.ts';

const emergency = ['112', '911'];

function numberError(message: string): (e: unknown) => boolean {
  return (e) => e instanceof NumberError && e.name === 'NumberError' && e.message === message;
}

describe('toE164', () => {
  it('keeps an E.164 number, whatever the country', () => {
    assert.equal(toE164('+14155550100', 'US'), '+14155550100');
    assert.equal(toE164('+14155550100', 'GB'), '+14155550100');
    assert.equal(toE164('+442071838750', 'US'), '+442071838750');
  });

  it('reads a US number with or without its 1', () => {
    assert.equal(toE164('14155550100', 'US'), '+14155550100');
    assert.equal(toE164('4155550100', 'US'), '+14155550100');
  });

  it('strips spaces, dashes, dots and parentheses', () => {
    assert.equal(toE164('(415) 555-0100', 'US'), '+14155550100');
    assert.equal(toE164('1-415-555-0100', 'US'), '+14155550100');
    assert.equal(toE164('415.555.0100', 'US'), '+14155550100');
    assert.equal(toE164('+1 (415) 555-0100', 'US'), '+14155550100');
    assert.equal(toE164(' +44 20\t7183 8750 ', 'GB'), '+442071838750');
  });

  it("reads the country's own international prefix: 00 from Germany and Great Britain, 011 from the US", () => {
    assert.equal(toE164('00 44 20 7183 8750', 'DE'), '+442071838750');
    assert.equal(toE164('00 44 20 7183 8750', 'GB'), '+442071838750');
    assert.equal(toE164('011 44 20 7183 8750', 'US'), '+442071838750');
    assert.equal(toE164('0044 20 7183 8750', 'US'), undefined, '00 is no international prefix in the US');
  });

  it('reads a national number with its trunk prefix: a GB mobile, a German landline', () => {
    assert.equal(toE164('07911 123456', 'GB'), '+447911123456');
    assert.equal(toE164('030 123456', 'DE'), '+4930123456');
  });

  it('normalises the fictional 555 numbers libphonenumber calls invalid', () => {
    assert.equal(toE164('15551234567', 'US'), '+15551234567');
    assert.equal(toE164('5551234567', 'US'), '+15551234567');
    assert.equal(toE164('+15551234567', 'US'), '+15551234567');
    assert.equal(toE164('(555) 123-4567', 'US'), '+15551234567');
  });

  it('reads the country case-insensitively', () => {
    assert.equal(toE164('4155550100', 'us'), '+14155550100');
  });

  it('is undefined for what is no telephone number', () => {
    assert.equal(toE164('', 'US'), undefined);
    assert.equal(toE164('   ', 'US'), undefined);
    assert.equal(toE164('+', 'US'), undefined);
    assert.equal(toE164('abc', 'US'), undefined);
    assert.equal(toE164('415555O100', 'US'), undefined, 'a letter O for a zero');
    assert.equal(toE164('4155550100x12', 'US'), undefined, 'an extension');
    assert.equal(toE164('tel:+14155550100', 'US'), undefined);
    assert.equal(toE164('1+4155550100', 'US'), undefined, 'a plus only in front');
    assert.equal(toE164('*72', 'US'), undefined);
  });

  it('is undefined for a length no number of the country has', () => {
    assert.equal(toE164('911', 'US'), undefined);
    assert.equal(toE164('5550100', 'US'), undefined, 'seven digits');
    assert.equal(toE164('+441234', 'GB'), undefined);
    assert.equal(toE164('+4420718387501234567', 'GB'), undefined);
    assert.equal(toE164('+1234567890123456', 'US'), undefined, 'over fifteen digits');
  });

  it('reads a national number only in a country it knows', () => {
    assert.equal(toE164('4155550100', 'XX'), undefined);
    assert.equal(toE164('+14155550100', 'XX'), '+14155550100');
  });
});

describe('isE164', () => {
  it('takes a plus, a country code and at most fifteen digits', () => {
    assert.equal(isE164('+14155550100'), true);
    assert.equal(isE164('14155550100'), false);
    assert.equal(isE164('+04155550100'), false);
    assert.equal(isE164('+1234567890123456'), false);
  });
});

describe('stripSeparators', () => {
  it('drops spaces, dashes, dots and parentheses and nothing else', () => {
    assert.equal(stripSeparators(' (415) 555-01.00 '), '4155550100');
    assert.equal(stripSeparators('+1*72#'), '+1*72#');
  });
});

describe('classify', () => {
  it('112 and 911 are emergency, separators aside, before anything else is asked', () => {
    assert.equal(classify('911', 'US', emergency), 'emergency');
    assert.equal(classify('112', 'DE', emergency), 'emergency');
    assert.equal(classify(' 9-1-1 ', 'US', emergency), 'emergency');
    assert.equal(classify('112', 'XX', emergency), 'emergency', 'even with a country nobody knows');
  });

  it('a number is emergency only when it is one of the emergency numbers', () => {
    assert.equal(classify('999', 'GB', ['999', '112']), 'emergency');
    assert.throws(() => classify('999', 'GB', emergency), numberError("'999' is not a telephone number"));
    assert.throws(() => classify('', 'US', ['']), numberError("'' is not a telephone number"), 'an empty emergency number matches nothing');
  });

  it('a US landline is national from the US, dialled any way', () => {
    assert.equal(classify('4155550100', 'US', emergency), 'national');
    assert.equal(classify('1 (415) 555-0100', 'US', emergency), 'national');
    assert.equal(classify('+14155550100', 'US', emergency), 'national');
  });

  it('the fictional 555 number is national in the US', () => {
    assert.equal(classify('15551234567', 'US', emergency), 'national');
    assert.equal(classify('+15551234567', 'US', emergency), 'national');
  });

  it('+19005551234 is premium and +18005551234 toll-free in the US', () => {
    assert.equal(classify('+19005551234', 'US', emergency), 'premium');
    assert.equal(classify('19005551234', 'US', emergency), 'premium');
    assert.equal(classify('+18005551234', 'US', emergency), 'tollfree');
    assert.equal(classify('8885551234', 'US', emergency), 'tollfree');
  });

  it('a GB mobile is mobile in Great Britain, Guernsey range or not', () => {
    // libphonenumber places 07911 in Guernsey: +44 is one plan, so it is still a domestic mobile.
    assert.equal(classify('07911 123456', 'GB', emergency), 'mobile');
    assert.equal(classify('+447400123456', 'GB', emergency), 'mobile');
  });

  it('GB landline, premium 0871 and freephone 0800 numbers', () => {
    assert.equal(classify('020 7183 8750', 'GB', emergency), 'national');
    assert.equal(classify('0871 234 5678', 'GB', emergency), 'premium');
    assert.equal(classify('0800 123 4567', 'GB', emergency), 'tollfree');
  });

  it('shared-cost numbers are premium: French 0810, German 0180', () => {
    assert.equal(classify('0810 12 34 56', 'FR', emergency), 'premium');
    assert.equal(classify('01801 2345678', 'DE', emergency), 'premium');
  });

  it('Jamaica +18765550100 is international from the US: another country behind +1', () => {
    assert.equal(classify('+18765550100', 'US', emergency), 'international');
    assert.equal(classify('18765550100', 'US', emergency), 'international');
    assert.equal(classify('8095550100', 'US', emergency), 'international', 'the Dominican Republic');
  });

  it('Canada is national from the US, and the US from Canada', () => {
    assert.equal(classify('+14165550100', 'US', emergency), 'national');
    assert.equal(classify('4165550100', 'US', emergency), 'national');
    assert.equal(classify('+14155550100', 'CA', emergency), 'national');
  });

  it("the US's territories are national from the US", () => {
    assert.equal(classify('+17875550100', 'US', emergency), 'national', 'Puerto Rico');
    assert.equal(classify('+16715550100', 'US', emergency), 'national', 'Guam');
  });

  it('from Jamaica, Jamaica is domestic and the US international', () => {
    assert.equal(classify('+18765550100', 'JM', emergency), 'mobile');
    assert.equal(classify('+14155550100', 'JM', emergency), 'international');
    assert.equal(classify('+15551234567', 'JM', emergency), 'international');
  });

  it('another country code is international', () => {
    assert.equal(classify('011 44 20 7183 8750', 'US', emergency), 'international');
    assert.equal(classify('00 1 415 555 0100', 'DE', emergency), 'international');
    assert.equal(classify('+4930123456', 'GB', emergency), 'international');
  });

  it('what is no telephone number is refused', () => {
    assert.throws(() => classify('abc', 'US', emergency), numberError("'abc' is not a telephone number"));
    assert.throws(() => classify('123', 'US', emergency), numberError("'123' is not a telephone number"));
    assert.throws(() => classify('*72', 'US', emergency), numberError("'*72' is not a telephone number"));
  });

  it('an unknown country is refused', () => {
    assert.throws(() => classify('4155550100', 'XX', emergency), numberError("unknown country 'XX'"));
  });
});

describe('formatForCarrier', () => {
  it('e164 keeps the plus, e164-no-plus drops it', () => {
    assert.equal(formatForCarrier('+14155550100', 'e164', 'US'), '+14155550100');
    assert.equal(formatForCarrier('+14155550100', 'e164-no-plus', 'US'), '14155550100');
    assert.equal(formatForCarrier('+442071838750', 'e164-no-plus', 'US'), '442071838750');
  });

  it('national is the number as dialled inside the country, with its trunk prefix where it has one', () => {
    assert.equal(formatForCarrier('+442071838750', 'national', 'GB'), '02071838750');
    assert.equal(formatForCarrier('+447911123456', 'national', 'GB'), '07911123456');
    assert.equal(formatForCarrier('+14155550100', 'national', 'US'), '4155550100');
    assert.equal(formatForCarrier('+4930123456', 'national', 'DE'), '030123456');
    assert.equal(formatForCarrier('+15551234567', 'national', 'US'), '5551234567');
  });

  it('national from the US reaches Canada with ten digits and Jamaica with 1 and ten', () => {
    assert.equal(formatForCarrier('+14165550100', 'national', 'US'), '4165550100');
    assert.equal(formatForCarrier('+18765550100', 'national', 'US'), '18765550100');
  });

  it("national for another country's number is its international dialling form from the country", () => {
    assert.equal(formatForCarrier('+442071838750', 'national', 'US'), '011442071838750');
    assert.equal(formatForCarrier('+442071838750', 'national', 'DE'), '00442071838750');
    assert.equal(formatForCarrier('+14155550100', 'national', 'GB'), '0014155550100');
    assert.equal(formatForCarrier('+442071838750', 'national', 'AU'), '0011442071838750');
    assert.equal(formatForCarrier('+442071838750', 'national', 'RU'), '810442071838750', "the dial-tone wait '~' dropped");
  });

  it('national from a country without one international prefix is refused', () => {
    assert.throws(() => formatForCarrier('+442071838750', 'national', 'BR'), numberError("BR has no single international prefix to dial '+442071838750' with"));
    assert.equal(formatForCarrier('+5511987654321', 'national', 'BR'), '11987654321', 'its own numbers still are');
  });

  it('a number not in E.164, or an unknown country, is refused', () => {
    assert.throws(() => formatForCarrier('4155550100', 'e164', 'US'), numberError("'4155550100' is not an E.164 number"));
    assert.throws(() => formatForCarrier('+14155550100', 'national', 'XX'), numberError("unknown country 'XX'"));
  });
});
