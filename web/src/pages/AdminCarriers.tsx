/**
 * `/pbx/admin/carriers`: what an operator needs to connect a carrier account from the browser alone, in three
 * tabs: SIP trunks (with their live state), phone numbers (where their calls go) and outbound routes (with the
 * tenant's dial policy). Administrators change them; managers read trunks, numbers and routes. The chosen tab is
 * in the address (`?tab=numbers`), so a link or a reload opens it again.
 */
import { type KeyboardEvent } from 'react';
import { useSearchParams } from 'react-router';
import { useAuth } from '../stores/auth.ts';
import { useDialPolicy } from './carriers/model.ts';
import { RoutesSection } from './carriers/OutboundRoutes.tsx';
import { NumbersSection } from './carriers/PhoneNumbers.tsx';
import { TrunksSection } from './carriers/Trunks.tsx';

const TABS = [
  { id: 'trunks', label: 'Trunks' },
  { id: 'numbers', label: 'Phone numbers' },
  { id: 'routes', label: 'Outbound routes' },
] as const;
type TabId = (typeof TABS)[number]['id'];

export default function AdminCarriers() {
  const isAdmin = useAuth((s) => s.session?.user.role === 'ADMIN');
  const [params, setParams] = useSearchParams();
  const tab: TabId = TABS.find((t) => t.id === params.get('tab'))?.id ?? 'trunks';
  // The tenant's country is the default of a new trunk's; only an administrator may read the policy that holds it.
  const policy = useDialPolicy(isAdmin);
  const choose = (id: TabId) => setParams(id === 'trunks' ? {} : { tab: id }, { replace: true });

  // The tab pattern of WAI-ARIA: arrows move between tabs (and show them), Home and End go to the ends.
  const onKeyDown = (e: KeyboardEvent) => {
    const at = TABS.findIndex((t) => t.id === tab);
    const to = e.key === 'ArrowRight' ? at + 1 : e.key === 'ArrowLeft' ? at - 1 : e.key === 'Home' ? 0 : e.key === 'End' ? TABS.length - 1 : null;
    if (to === null) return;
    e.preventDefault();
    const next = TABS[(to + TABS.length) % TABS.length];
    if (!next) return;
    choose(next.id);
    document.getElementById(`carriers-tab-${next.id}`)?.focus();
  };

  return (
    <div className="stack">
      <div>
        <h1>Carriers</h1>
        <p className="muted">
          Connect the carrier account you have: add its SIP trunk, the phone numbers it gave you and where their calls go, then the routes that send calls out.
          {!isAdmin && ' Only an administrator can change them.'}
        </p>
      </div>
      <div role="tablist" aria-label="Carrier settings" className="tabs" onKeyDown={onKeyDown}>
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`carriers-tab-${t.id}`}
            aria-selected={t.id === tab}
            aria-controls={`carriers-panel-${t.id}`}
            tabIndex={t.id === tab ? 0 : -1}
            onClick={() => choose(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      {TABS.map((t) => (
        <div key={t.id} role="tabpanel" id={`carriers-panel-${t.id}`} aria-labelledby={`carriers-tab-${t.id}`} hidden={t.id !== tab}>
          {t.id === tab && t.id === 'trunks' && <TrunksSection canEdit={isAdmin} country={policy.data?.country} />}
          {t.id === tab && t.id === 'numbers' && <NumbersSection canEdit={isAdmin} />}
          {t.id === tab && t.id === 'routes' && <RoutesSection canEdit={isAdmin} />}
        </div>
      ))}
    </div>
  );
}
