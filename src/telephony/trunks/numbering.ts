/**
 * Telephone numbers: E.164 normalisation, the class of a number (emergency, national, mobile, international,
 * premium...) and the format a carrier wants. (Signatures fixed; bodies to be written.)
 */
import type { NumberClass, NumberFormat } from './types.ts';

/** `+14155550100` from what a user dialled or typed in `country` (ISO 3166-1 alpha-2); undefined when it is no telephone number. */
export function toE164(input: string, country: string): string | undefined {
  void input;
  void country;
  return undefined;
}

/** Whether `value` is E.164 as we store it: `+`, a country code, at most 15 digits in all. */
export function isE164(value: string): boolean {
  return /^\+[1-9]\d{1,14}$/.test(value);
}

/** The class of a dialled number, for `country`; `emergency` when it is one of `emergencyNumbers`. */
export function classify(dialled: string, country: string, emergencyNumbers: readonly string[]): NumberClass {
  void dialled;
  void country;
  void emergencyNumbers;
  return 'international';
}

/** `e164` (with `+`) written as a carrier in `country` wants it. */
export function formatForCarrier(e164: string, format: NumberFormat, country: string): string {
  void format;
  void country;
  return e164;
}
