/**
 * Checking input at the doors (REST and Socket.io alike): an Ajv made the way every door uses it, and the refusal of
 * text holding U+0000, which JSON allows (`"a\u0000b"`) and PostgreSQL's text and jsonb do not.
 */
import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { PbxError } from '../errors/index.ts';

// ajv-formats is CommonJS; its default export is the plugin, wrapped once more under some loaders.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

export function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ allErrors: true, removeAdditional: false, useDefaults: true, strict: false, ...options });
  addFormats(ajv);
  return ajv;
}

const NUL = '\u0000';
const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';
/** Enough to name the fields; a body made of nothing else does not earn a list as long as itself. */
const MAX_NUL_FIELDS = 20;

/**
 * The fields (`body.members.0.name`) whose text, or whose own name, holds U+0000. The walk keeps its own stack:
 * a 1 MiB body can nest deeper than the call stack goes.
 */
export function nulFields(value: unknown, context: string): string[] {
  const found: string[] = [];
  const stack: Array<[unknown, string]> = [[value, context]];
  while (stack.length > 0 && found.length < MAX_NUL_FIELDS) {
    const [v, at] = stack.pop() as [unknown, string];
    if (typeof v === 'string') {
      if (v.includes(NUL)) found.push(at);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${at}.${i}`]);
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i] as [string, unknown];
        const field = `${at}.${key.replaceAll(NUL, '\\u0000')}`;
        if (key.includes(NUL)) found.push(field);
        else stack.push([child, field]);
      }
    }
  }
  return found;
}

/** A validation error naming every field that holds U+0000, in the shape schema failures have; or undefined. */
export function nulError(parts: ReadonlyArray<readonly [context: string, value: unknown]>): PbxError | undefined {
  const fields = parts.flatMap(([context, value]) => nulFields(value, context));
  const first = fields[0];
  if (first === undefined) return undefined;
  return new PbxError('PBX_ERR_VALIDATION', `${first} ${NUL_MESSAGE}`, { details: fields.map((field) => ({ field, message: NUL_MESSAGE })) });
}
