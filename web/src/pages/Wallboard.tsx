/**
 * `/pbx/manager`: the wallboard. Agents (state, time in state, current call) and queues (waiting, longest wait,
 * available agents) follow the live events as they come; today's figures and the chart are read again whenever a
 * call ends, and every minute.
 */
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { DayChart, type DayPoint } from '../components/DayChart.tsx';
import { errorText, get } from '../lib/api.ts';
import { useNow } from '../lib/hooks.ts';
import { clock, type AgentStatus, type CallMetrics, type Realtime } from '../lib/types.ts';
import { useLive } from '../stores/live.ts';

interface ManagerAgent {
  id: string;
  name: string;
  extension: string;
  status: AgentStatus;
}

interface Timeline {
  buckets: Array<{ start: string } & CallMetrics>;
}

export default function Wallboard() {
  const ended = useLive((s) => s.endedCalls);
  const realtime = useQuery({ queryKey: ['realtime', ended], queryFn: () => get<Realtime>('/api/pbx/reporting/realtime'), refetchInterval: 60_000 });
  const timeline = useQuery({ queryKey: ['timeline', ended], queryFn: () => get<Timeline>('/api/pbx/reporting/timeline'), refetchInterval: 60_000 });
  const today = realtime.data?.today;
  const points = useMemo<DayPoint[]>(
    () =>
      (timeline.data?.buckets ?? []).map((b) => ({
        start: Date.parse(b.start),
        calls: b.totalCalls,
        answered: b.answeredCalls,
        serviceLevel: b.queueCalls > 0 ? b.serviceLevel : null,
      })),
    [timeline.data],
  );
  return (
    <div className="stack">
      <h1>Wallboard</h1>
      {realtime.isError && <p className="error">{errorText(realtime.error)}</p>}
      <section className="cards" aria-label="Today">
        <Metric label="Calls" value={today?.totalCalls} testId="metric-calls" />
        <Metric label="Answered" value={today?.answeredCalls} testId="metric-answered" />
        <Metric label="Abandoned" value={today?.abandonedCalls} testId="metric-abandoned" />
        <Metric label="ASA" value={today && clock(today.avgWaitTime)} testId="metric-asa" />
        <Metric label="AHT" value={today && clock(today.avgHandleTime)} testId="metric-aht" />
        <Metric label="Service level" value={today && `${Math.round(today.serviceLevel)}%`} testId="metric-sl" />
      </section>
      <div className="grid two">
        <Agents />
        <Queues realtime={realtime.data} />
      </div>
      <section className="card" aria-labelledby="chart-title">
        <h2 id="chart-title">Today by the hour</h2>
        <DayChart points={points} />
      </section>
      <LiveCalls />
    </div>
  );
}

function Metric({ label, value, testId }: { label: string; value: string | number | undefined; testId: string }) {
  return (
    <div className="card metric">
      <span className="muted small">{label}</span>
      <strong data-testid={testId}>{value ?? '—'}</strong>
    </div>
  );
}

function Agents() {
  const live = useLive((s) => s.agents);
  const calls = useLive((s) => s.calls);
  const connected = useLive((s) => s.connected);
  const names = useQuery({ queryKey: ['manager-agents', Object.keys(live).length], queryFn: () => get<{ agents: ManagerAgent[] }>('/api/pbx/manager/agents') });
  const now = useNow();
  const byId = new Map((names.data?.agents ?? []).map((a) => [a.id, a]));
  const agents = Object.values(live).sort((a, b) => Number(a.extension) - Number(b.extension));
  return (
    <section className="card" aria-labelledby="agents-title">
      <h2 id="agents-title">Agents</h2>
      {!connected && <p className="muted">Waiting for live updates…</p>}
      <table className="table" data-testid="agents-grid">
        <thead>
          <tr>
            <th scope="col">Agent</th>
            <th scope="col">State</th>
            <th scope="col">For</th>
            <th scope="col">Call</th>
          </tr>
        </thead>
        <tbody>
          {agents.map((a) => (
            <tr key={a.agentId} data-agent={a.extension} data-status={a.status}>
              <td>
                {byId.get(a.agentId)?.name ?? ''} <span className="muted small">{a.extension}</span>
              </td>
              <td>
                <span className={`badge status-${a.status}`}>{a.status.replace('_', '-')}</span>
                {a.reason && <span className="muted small"> {a.reason}</span>}
                {a.registered === false && !a.reason && <span className="muted small"> no device</span>}
              </td>
              <td>{clock((now - Date.parse(a.since)) / 1000)}</td>
              <td>{a.currentCall ? callText(calls[a.currentCall.callId]?.metadata ?? { from: a.currentCall.from ?? '' }) : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function callText(m: { from?: string; to?: string }): string {
  return m.to ? `${m.from ?? '?'} → ${m.to}` : (m.from ?? '');
}

function Queues({ realtime }: { realtime: Realtime | undefined }) {
  const live = useLive((s) => s.queues);
  const now = useNow();
  const queues = realtime?.queues ?? [];
  return (
    <section className="card" aria-labelledby="queues-title">
      <h2 id="queues-title">Queues</h2>
      <table className="table" data-testid="queues-grid">
        <thead>
          <tr>
            <th scope="col">Queue</th>
            <th scope="col">Waiting</th>
            <th scope="col">Longest wait</th>
            <th scope="col">Available</th>
            <th scope="col">Service level</th>
          </tr>
        </thead>
        <tbody>
          {queues.map((q) => {
            const l = live[q.id];
            const waiting = l?.waiting ?? q.waiting;
            const longest = l ? (l.waiting > 0 ? l.longestWait + (now - l.at) / 1000 : 0) : q.longestWait;
            return (
              <tr key={q.id} data-queue={q.number} data-waiting={waiting}>
                <td>
                  {q.name} <span className="muted small">{q.number}</span>
                </td>
                <td>{waiting}</td>
                <td>{clock(longest)}</td>
                <td>
                  {l?.available ?? q.available} / {l?.agents ?? q.agents}
                </td>
                <td>
                  {Math.round(q.serviceLevel)}% <span className="muted small">in {q.serviceLevelThreshold}s</span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {queues.length === 0 && <p className="muted">No queues yet.</p>}
    </section>
  );
}

function LiveCalls() {
  const calls = useLive((s) => s.calls);
  const list = Object.values(calls);
  return (
    <section className="card" aria-labelledby="calls-title">
      <h2 id="calls-title">Calls now</h2>
      <table className="table" data-testid="live-calls">
        <thead>
          <tr>
            <th scope="col">From</th>
            <th scope="col">To</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {list.map((c) => (
            <tr key={c.callId} data-status={c.status}>
              <td>{c.metadata.from}</td>
              <td>{c.metadata.to}</td>
              <td>{c.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.length === 0 && <p className="muted">No calls in progress.</p>}
    </section>
  );
}
