/**
 * Telephone numbers: E.164 normalisation, the class of a number (emergency, national, mobile, international,
 * premium...) and the format a carrier wants. The numbering plans (lengths, national and international prefixes,
 * which ranges are mobile or premium) are Google's libphonenumber metadata, in its `max` build since only that one
 * knows number types.
 *
 * Normalising asks only that a number have a possible length for its country, not that it be valid: a fictional but
 * well-formed number (`+1 555 123 4567`), which libphonenumber calls invalid, is still a number someone may type,
 * and seeds and tests use them.
 */
import { type CountryCode, getCountryCallingCode, isSupportedCountry, type NumberType, parsePhoneNumberFromString, type PhoneNumber } from 'libphonenumber-js/max';
import type { NumberClass, NumberFormat } from './types.ts';

/** A number that cannot be read, classified or formatted; `message` says which and why. */
export class NumberError extends Error {
  override readonly name = 'NumberError';
}

// What people put between digits when they write a number down.
const SEPARATORS = /[\s\-.()]/g;
const DIGITS = /^\+?\d+$/;

/**
 * The regions of the North American Numbering Plan that are one domestic area: the United States with its
 * territories (which it bills as domestic) and Canada. Every other +1 region (Jamaica, the Dominican Republic, the
 * other Caribbean countries) is another country behind the same country code: calls to them cost international
 * rates while looking like national numbers, the classic toll fraud.
 */
const NANP_DOMESTIC: ReadonlySet<string> = new Set(['US', 'CA', 'PR', 'VI', 'GU', 'MP', 'AS']);

/** `input` without the spaces, dashes, dots and parentheses people write numbers with. */
export function stripSeparators(input: string): string {
  return input.replace(SEPARATORS, '');
}

/**
 * `+14155550100` from what a user dialled or typed in `country` (ISO 3166-1 alpha-2): `+1 415 555 0100`,
 * `(415) 555-0100` or `1-415-555-0100` in the US, `00 44 20 7183 8750` from Germany, `011 44 20 7183 8750` from the
 * US, `07911 123456` in Great Britain. Undefined when it is no telephone number: empty, anything but digits and a
 * leading `+` once separators are gone, or a length no number of its country has. A number without `+` in a country
 * libphonenumber does not know is undefined too: there is no plan to read it in.
 */
export function toE164(input: string, country: string): string | undefined {
  const digits = stripSeparators(input);
  if (!DIGITS.test(digits)) return undefined;
  const region = knownCountry(country);
  if (!digits.startsWith('+') && !region) return undefined;
  const number = parsePhoneNumberFromString(digits, region);
  // Possible, not valid: see the file's comment.
  if (!number?.isPossible()) return undefined;
  return isE164(number.number) ? number.number : undefined;
}

/** Whether `value` is E.164 as we store it: `+`, a country code, at most 15 digits in all. */
export function isE164(value: string): boolean {
  return /^\+[1-9]\d{1,14}$/.test(value);
}

/**
 * The class of a dialled number, for a caller in `country`. `emergency` when, separators aside, it is one of
 * `emergencyNumbers` (checked first, so that an emergency call never fails here). Otherwise it is read with
 * {@link toE164}, and a number of another country is `international`; within +1 that means another NANP country
 * than the United States (with its territories) and Canada, which count as one. A number of the caller's own
 * country is `premium` (premium rate, shared cost), `tollfree`, `mobile`, or else `national`, which includes
 * numbers whose type is unknown (fictional `555` numbers). Extensions are the caller's to recognise: this never
 * answers `internal`.
 *
 * Throws {@link NumberError} when the dialled string is no telephone number or `country` is not known.
 */
export function classify(dialled: string, country: string, emergencyNumbers: readonly string[]): NumberClass {
  const digits = stripSeparators(dialled);
  if (digits !== '' && emergencyNumbers.some((n) => stripSeparators(n) === digits)) return 'emergency';
  const home = requireCountry(country);
  const e164 = toE164(dialled, home);
  if (e164 === undefined) throw new NumberError(`'${dialled}' is not a telephone number`);
  const number = parse(e164);
  if (!domestic(number, home)) return 'international';
  return classOfType(number.getType());
}

/**
 * `e164` (with `+`) written as a carrier in `country` wants it: `e164` `+14155550100`, `e164-no-plus`
 * `14155550100`, `national` as a caller in `country` dials it: a number of the country with its national prefix
 * (`02071838750` in GB, `4155550100` in the US, Canada included), a number of another country with the
 * country's international prefix (`011442071838750` from the US, `00442071838750` from Germany; `18765550100` for
 * Jamaica from the US, since other NANP countries are dialled with `1`).
 *
 * Throws {@link NumberError} when `e164` is not E.164, `country` is not known, or, for `national`, `country` has no
 * single international prefix (Brazil's and Colombia's depend on the carrier chosen): such a trunk needs an E.164
 * format.
 */
export function formatForCarrier(e164: string, format: NumberFormat, country: string): string {
  if (!isE164(e164)) throw new NumberError(`'${e164}' is not an E.164 number`);
  switch (format) {
    case 'e164':
      return e164;
    case 'e164-no-plus':
      return e164.slice(1);
    case 'national': {
      const home = requireCountry(country);
      const number = parse(e164);
      if (domestic(number, home)) return dialString(number.format('NATIONAL'));
      const idd = number.format('IDD', { fromCountry: home });
      if (idd === undefined) throw new NumberError(`${home} has no single international prefix to dial '${e164}' with`);
      return dialString(idd);
    }
  }
}

/** The class a number of the caller's own country has, from libphonenumber's type for it. */
function classOfType(type: NumberType): NumberClass {
  switch (type) {
    case 'PREMIUM_RATE':
    case 'SHARED_COST':
      return 'premium';
    case 'TOLL_FREE':
      return 'tollfree';
    case 'MOBILE':
      return 'mobile';
    default:
      // FIXED_LINE_OR_MOBILE (the NANP cannot tell them apart), FIXED_LINE, VOIP, UAN..., and undefined for a
      // number no range of the plan holds.
      return 'national';
  }
}

/**
 * Whether a caller in `home` reaches `number` without leaving the country. Outside +1, a shared country code is
 * one numbering plan dialled nationally (the United Kingdom with Guernsey, Jersey and the Isle of Man; `07911`
 * mobiles are Guernsey's), so the country code decides. Within +1 the region does.
 */
function domestic(number: PhoneNumber, home: CountryCode): boolean {
  if (number.countryCallingCode !== getCountryCallingCode(home)) return false;
  if (number.countryCallingCode !== '1') return true;
  // A +1 number in no region's ranges (the fictional 555 area code) is the plan's main country's, the US.
  const region = number.country ?? 'US';
  return region === home || (NANP_DOMESTIC.has(region) && NANP_DOMESTIC.has(home));
}

function parse(e164: string): PhoneNumber {
  const number = parsePhoneNumberFromString(e164);
  if (!number) throw new NumberError(`'${e164}' is not a telephone number`);
  return number;
}

function knownCountry(country: string): CountryCode | undefined {
  const upper = country.toUpperCase();
  return isSupportedCountry(upper) ? upper : undefined;
}

function requireCountry(country: string): CountryCode {
  const known = knownCountry(country);
  if (!known) throw new NumberError(`unknown country '${country}'`);
  return known;
}

/**
 * The digits a formatted number is dialled with: libphonenumber's spaces and parentheses go, and so does `~`, its
 * "wait for a second dial tone" in old prefixes (Russia's `8~10`), which a SIP carrier does not wait for.
 */
function dialString(formatted: string): string {
  return formatted.replace(/\D/g, '');
}
