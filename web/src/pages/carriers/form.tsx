/**
 * What the carriers' forms share: a field with its label, hint and the server's message for it, and the server's
 * refusal taken apart by field. The server names a bad field from the body's root (`body.servers.0.host`,
 * `body.patterns.1`); the forms name theirs the same way without `body.`, so each message lands next to its field,
 * tied to it by `aria-describedby` so a screen reader reads it with the field.
 */
import { cloneElement, useId, type ReactElement, type ReactNode } from 'react';
import { ApiError, errorText } from '../../lib/api.ts';

export class Problems {
  static readonly none = new Problems(null, new Map());

  private constructor(
    /** The refusal's own message: shown when no field carries it. */
    readonly message: string | null,
    readonly fields: ReadonlyMap<string, string>,
  ) {}

  /**
   * `conflicts` places a refusal that names no field but is about one (a 409 for a name or number already taken)
   * next to that field: `{ PBX_ERR_TRUNK_NAME_TAKEN: 'name' }`.
   */
  static of(err: unknown, conflicts: Record<string, string> = {}): Problems {
    if (!(err instanceof ApiError)) return new Problems(errorText(err), new Map());
    const fields = new Map<string, string>();
    const conflict = conflicts[err.code];
    if (conflict !== undefined) fields.set(conflict, err.message);
    for (const f of err.fields) {
      const key = f.field.replace(/^body\.?/, '');
      if (!fields.has(key)) fields.set(key, f.message);
    }
    return new Problems(err.message, fields);
  }

  get any(): boolean {
    return this.message !== null;
  }

  /** The message for exactly this field. */
  at(key: string): string | undefined {
    return this.fields.get(key);
  }

  /**
   * The messages for a list field and its items (`patterns`, `patterns.1`), each item's named by `nameOf` (the
   * value the person typed, so they find it without counting).
   */
  list(key: string, nameOf: (index: number) => string): string | undefined {
    const out: string[] = [];
    for (const [field, message] of this.fields) {
      if (field === key) out.push(message);
      const item = new RegExp(`^${key.replaceAll('.', '\\.')}\\.(\\d+)$`).exec(field);
      if (item) out.push(`${nameOf(Number(item[1]))}: ${message}`);
    }
    return out.length > 0 ? out.join('; ') : undefined;
  }

  /** Messages for fields the form does not show (`placed` says which it does), so none is lost. */
  unplaced(placed: RegExp): string[] {
    return [...this.fields].filter(([field]) => !placed.test(field)).map(([field, message]) => `${field || 'The request'} ${message}`);
  }
}

export function Field({ label, hint, error, className, children }: { label: ReactNode; hint?: ReactNode; error?: string; className?: string; children: ReactElement<{ id?: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }> }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [error ? errorId : null, hint ? hintId : null].filter(Boolean).join(' ');
  return (
    <div className={['field', error ? 'invalid' : '', className ?? ''].filter(Boolean).join(' ')}>
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, { id, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy || undefined })}
      {error && (
        <span id={errorId} className="field-error">
          {error}
        </span>
      )}
      {hint && (
        <span id={hintId} className="hint">
          {hint}
        </span>
      )}
    </div>
  );
}

/** Under a form: why it was not saved. With field messages shown above, it points at them instead of repeating. */
export function FormAlert({ problems, placed }: { problems: Problems; placed: RegExp }) {
  if (!problems.any) return null;
  const loose = problems.unplaced(placed);
  const placedCount = problems.fields.size - loose.length;
  return (
    <div className="error" role="alert">
      {placedCount > 0 ? <p>Not saved: see the message{placedCount > 1 ? 's' : ''} next to the field{placedCount > 1 ? 's' : ''} above.</p> : loose.length === 0 && <p>{problems.message}</p>}
      {loose.length > 0 && (
        <ul>
          {loose.map((l) => (
            <li key={l}>{l}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
