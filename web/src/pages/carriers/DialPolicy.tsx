/**
 * The tenant's dial policy: the country numbers without `+` are read in, the emergency numbers (always allowed,
 * never capped), the cap on external calls at once, and per role the classes of numbers its users may dial.
 * International and premium are off until an administrator allows them: the server's defaults, shown as they are.
 */
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { errorText, patch } from '../../lib/api.ts';
import type { Role } from '../../lib/types.ts';
import { Field, FormAlert, Problems } from './form.tsx';
import { CLASS_TEXT, type DialPolicy, linesOf, NUMBER_CLASSES, type NumberClass, useDialPolicy } from './model.ts';

const ROLES: Array<{ role: Role; label: string }> = [
  { role: 'ADMIN', label: 'Administrators' },
  { role: 'MANAGER', label: 'Managers' },
  { role: 'SUPERVISOR', label: 'Supervisors' },
  { role: 'AGENT', label: 'Agents' },
];

const PLACED = /^(country|emergencyNumbers(\.\d+)?|maxExternalCalls|classes(\.(ADMIN|MANAGER|SUPERVISOR|AGENT)(\.\d+)?)?)$/;

export function DialPolicySection() {
  const policy = useDialPolicy(true);
  return (
    <section className="card" aria-labelledby="dial-policy-title" data-testid="dial-policy">
      <h2 id="dial-policy-title">Dial policy</h2>
      {policy.isError && <p className="error">{errorText(policy.error)}</p>}
      {policy.data && <DialPolicyForm policy={policy.data} />}
    </section>
  );
}

function draftOf(policy: DialPolicy) {
  return {
    country: policy.country,
    emergencyNumbers: policy.emergencyNumbers.join(', '),
    maxExternalCalls: String(policy.maxExternalCalls),
    classes: Object.fromEntries(ROLES.map(({ role }) => [role, new Set(policy.classes[role])])) as Record<Role, Set<NumberClass>>,
  };
}

function DialPolicyForm({ policy }: { policy: DialPolicy }) {
  const queryClient = useQueryClient();
  const [d, setD] = useState(() => draftOf(policy));
  const [problems, setProblems] = useState(Problems.none);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const set = (change: Partial<typeof d>) => {
    setSaved(false);
    setD((old) => ({ ...old, ...change }));
  };
  const toggle = (role: Role, c: NumberClass, on: boolean) => {
    const next = new Set(d.classes[role]);
    if (on) next.add(c);
    else next.delete(c);
    set({ classes: { ...d.classes, [role]: next } });
  };
  const emergencyTyped = linesOf(d.emergencyNumbers.replaceAll(' ', ','));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setProblems(Problems.none);
    try {
      const updated = await patch<DialPolicy>('/api/pbx/dial-policy', {
        country: d.country.trim().toUpperCase(),
        emergencyNumbers: emergencyTyped,
        maxExternalCalls: Number(d.maxExternalCalls || 0),
        // Emergency numbers are allowed to everyone whatever the list says; the list says so too.
        classes: Object.fromEntries(ROLES.map(({ role }) => [role, NUMBER_CLASSES.filter((c) => c === 'emergency' || d.classes[role].has(c))])),
      });
      queryClient.setQueryData(['dial-policy'], updated);
      // The form shows what the server now holds (its order of classes, its reading of the numbers).
      setD(draftOf(updated));
      setSaved(true);
    } catch (err) {
      setProblems(Problems.of(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit}>
      <div className="form-grid fields">
        <Field label="Country" error={problems.at('country')} hint="Two letters (US, GB, FR): numbers dialled without + are read in it">
          <input name="policyCountry" value={d.country} onChange={(e) => set({ country: e.target.value.toUpperCase() })} required maxLength={2} autoCapitalize="characters" />
        </Field>
        <Field label="Emergency numbers" error={problems.list('emergencyNumbers', (i) => `'${emergencyTyped[i] ?? `number ${i + 1}`}'`)} hint="Separated by commas; always allowed, never capped">
          <input name="emergencyNumbers" value={d.emergencyNumbers} onChange={(e) => set({ emergencyNumbers: e.target.value })} required inputMode="tel" />
        </Field>
        <Field label="Max external calls at once" error={problems.at('maxExternalCalls')} hint="For the whole tenant, in and out; 0: no limit">
          <input name="maxExternalCalls" type="number" min={0} max={100000} value={d.maxExternalCalls} onChange={(e) => set({ maxExternalCalls: e.target.value })} />
        </Field>
      </div>
      <p className="hint">What each role may dial. A user may be given classes of its own instead of its role's.</p>
      {problems.at('classes') && <p className="field-error">{problems.at('classes')}</p>}
      <div className="role-classes">
        {ROLES.map(({ role, label }) => {
          const error = problems.list(`classes.${role}`, (i) => `class ${i + 1}`);
          return (
            <fieldset key={role} data-role={role}>
              <legend>{label} may dial</legend>
              <div className="checks">
                {NUMBER_CLASSES.map((c) => (
                  <label key={c} className="check">
                    {c === 'emergency' ? (
                      <input type="checkbox" checked disabled title="Emergency numbers are always allowed" />
                    ) : (
                      <input type="checkbox" name={`${role}-${c}`} checked={d.classes[role].has(c)} onChange={(e) => toggle(role, c, e.target.checked)} />
                    )}
                    {c === 'emergency' ? `${CLASS_TEXT[c]} (always)` : CLASS_TEXT[c]}
                  </label>
                ))}
              </div>
              {error && <p className="field-error">{error}</p>}
            </fieldset>
          );
        })}
      </div>
      <FormAlert problems={problems} placed={PLACED} />
      <div className="row">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save dial policy'}
        </button>
        {saved && (
          <span className="ok" role="status">
            Dial policy saved.
          </span>
        )}
      </div>
    </form>
  );
}
