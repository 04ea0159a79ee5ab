/** `/pbx/dashboard`: the real-time summary (agents by state, calls now, today's figures) and quick actions. */
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { errorText, get } from '../lib/api.ts';
import { clock, type Realtime } from '../lib/types.ts';
import { useAuth } from '../stores/auth.ts';
import { useLive } from '../stores/live.ts';

export function Dashboard() {
  const ended = useLive((s) => s.endedCalls);
  const liveCalls = useLive((s) => Object.keys(s.calls).length);
  const role = useAuth((s) => s.session?.user.role);
  const realtime = useQuery({ queryKey: ['realtime', ended, liveCalls], queryFn: () => get<Realtime>('/api/pbx/reporting/realtime'), refetchInterval: 15_000 });
  const r = realtime.data;
  return (
    <div className="stack">
      <h1>Dashboard</h1>
      {realtime.isError && <p className="error">{errorText(realtime.error)}</p>}
      <section className="cards" aria-label="Now">
        <div className="card metric">
          <span className="muted small">Agents registered</span>
          <strong data-testid="summary-registered">{r ? `${r.agents.registered} / ${r.agents.total}` : '—'}</strong>
        </div>
        <div className="card metric">
          <span className="muted small">Available</span>
          <strong>{r?.agents.byStatus.AVAILABLE ?? 0}</strong>
        </div>
        <div className="card metric">
          <span className="muted small">Calls now</span>
          <strong data-testid="summary-active">{r?.calls.active ?? '—'}</strong>
        </div>
        <div className="card metric">
          <span className="muted small">Waiting</span>
          <strong>{r?.calls.waiting ?? '—'}</strong>
        </div>
        <div className="card metric">
          <span className="muted small">Calls today</span>
          <strong>{r?.today.totalCalls ?? '—'}</strong>
        </div>
        <div className="card metric">
          <span className="muted small">ASA today</span>
          <strong>{r ? clock(r.today.avgWaitTime) : '—'}</strong>
        </div>
      </section>
      <section className="card" aria-labelledby="actions-title">
        <h2 id="actions-title">Quick actions</h2>
        <div className="row">
          <Link className="button" to="/pbx/manager">Open the wallboard</Link>
          {role === 'ADMIN' && <Link className="button" to="/pbx/admin/users">Add a user</Link>}
          {(role === 'ADMIN' || role === 'MANAGER') && <Link className="button" to="/pbx/admin/queues">Manage queues</Link>}
          <a className="button" href="/docs">API reference</a>
        </div>
      </section>
    </div>
  );
}
