/** `/pbx/admin/audit`: who did what, newest first. */
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, get } from '../lib/api.ts';

interface Entry {
  id: string;
  actorLabel: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  outcome: 'success' | 'failure';
  statusCode: number;
  errorCode: string | null;
  ip: string | null;
  createdAt: string;
}

const PAGE = 50;

export default function AdminAudit() {
  const [offset, setOffset] = useState(0);
  const audit = useQuery({ queryKey: ['audit', offset], queryFn: () => get<{ entries: Entry[]; total: number }>(`/api/audit?limit=${PAGE}&offset=${offset}`) });
  const total = audit.data?.total ?? 0;
  return (
    <div className="stack">
      <h1>Audit log</h1>
      {audit.isError && <p className="error">{errorText(audit.error)}</p>}
      <section className="card">
        <table className="table" data-testid="audit">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Outcome</th>
              <th scope="col">From</th>
            </tr>
          </thead>
          <tbody>
            {(audit.data?.entries ?? []).map((e) => (
              <tr key={e.id}>
                <td>{new Date(e.createdAt).toLocaleString()}</td>
                <td>{e.actorLabel}</td>
                <td>{e.action}</td>
                <td>{e.targetType ? `${e.targetType} ${e.targetId ?? ''}` : ''}</td>
                <td className={e.outcome === 'failure' ? 'error' : ''}>
                  {e.outcome} {e.statusCode}
                  {e.errorCode ? ` ${e.errorCode}` : ''}
                </td>
                <td>{e.ip ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="row">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>Newer</button>
          <span className="muted small">
            {total === 0 ? 'No entries' : `${offset + 1}–${Math.min(total, offset + PAGE)} of ${total}`}
          </span>
          <button type="button" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>Older</button>
        </div>
      </section>
    </div>
  );
}
