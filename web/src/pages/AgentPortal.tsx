/**
 * `/pbx/agent`: the agent's working screen. Status (Available, Away with a reason), the softphone (incoming-call
 * banner with the caller's details, answer, reject, hang up, hold, mute, blind and attended transfer, keypad, timer), a dial pad,
 * the wrap-up form (notes and disposition, saved to the call's session) and the agent's recent calls.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { errorText, get, post } from '../lib/api.ts';
import { useNow } from '../lib/hooks.ts';
import { clock, type AgentStatus, type CallSession } from '../lib/types.ts';
import { useAuth } from '../stores/auth.ts';
import { useLive } from '../stores/live.ts';
import { usePhone, type PhoneCall } from '../stores/phone.ts';

const STATUS_TEXT: Record<AgentStatus, string> = {
  OFFLINE: 'Offline',
  AVAILABLE: 'Available',
  RINGING: 'Ringing',
  BUSY: 'On a call',
  WRAP_UP: 'Wrap-up',
  AWAY: 'Away',
};

const DISPOSITIONS = ['Resolved', 'Follow-up needed', 'Escalated', 'Voicemail', 'Wrong number', 'Other'];

export function AgentPortal() {
  const extension = useAuth((s) => s.session?.extension);
  if (!extension) return <p>You have no extension, so there is no softphone for you. An administrator can give you one.</p>;
  return (
    <div className="grid agent">
      <div className="stack">
        <StatusCard agentId={extension.id} />
        <CallCard />
        <DialPad />
      </div>
      <div className="stack">
        <WrapUp />
        <RecentCalls />
      </div>
    </div>
  );
}

function StatusCard({ agentId }: { agentId: string }) {
  const agent = useLive((s) => s.agents[agentId]);
  const emit = useLive((s) => s.emit);
  const reasons = useQuery({ queryKey: ['away-reasons'], queryFn: () => get<{ awayReasons: string[] }>('/api/pbx/agent/away-reasons') });
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const now = useNow();
  const change = async (status: AgentStatus, why?: string) => {
    setError(null);
    const ack = await emit('agent:status:change', why ? { status, reason: why } : { status });
    if (!ack.ok) setError(ack.error?.message ?? 'The status could not be changed');
  };
  const status = agent?.status ?? 'OFFLINE';
  const awayReasons = reasons.data?.awayReasons ?? [];
  return (
    <section className="card" aria-labelledby="status-title">
      <h2 id="status-title">My status</h2>
      <p>
        <span className={`badge status-${status}`} data-testid="agent-status">
          {STATUS_TEXT[status]}
        </span>
        {agent?.reason && <span className="muted"> · {agent.reason}</span>}
        {agent && <span className="muted small"> for {clock((now - Date.parse(agent.since)) / 1000)}</span>}
        {agent?.pendingStatus && <span className="muted small"> · {STATUS_TEXT[agent.pendingStatus as AgentStatus] ?? agent.pendingStatus} after this call</span>}
      </p>
      <div className="row">
        <button type="button" className="primary" onClick={() => void change('AVAILABLE')} disabled={status === 'AVAILABLE'}>
          Available
        </button>
        <label className="inline">
          <span className="visually-hidden">Away reason</span>
          <select value={reason} onChange={(e) => setReason(e.target.value)}>
            <option value="">Away reason…</option>
            {awayReasons.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => void change('AWAY', reason || undefined)}>
          Away
        </button>
        <button type="button" onClick={() => void change('OFFLINE')} disabled={status === 'OFFLINE'}>
          Offline
        </button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
    </section>
  );
}

function CallCard() {
  const call = usePhone((s) => s.call);
  const status = usePhone((s) => s.status);
  const microphone = usePhone((s) => s.microphone);
  return (
    <section className="card" aria-labelledby="call-title">
      <h2 id="call-title">Call</h2>
      {microphone === 'denied' && (
        <p className="error" role="alert">
          The microphone is blocked, so calls cannot be answered or made here. Allow it for this site in the browser's settings, then reload.
        </p>
      )}
      {!call || call.state === 'ended' ? <p className="muted">{status === 'connected' ? 'No call. Ready.' : 'The softphone is not registered.'}</p> : <ActiveCall call={call} />}
    </section>
  );
}

function ActiveCall({ call }: { call: PhoneCall }) {
  const phone = usePhone();
  const incoming = useLive((s) => (call.callId ? s.incoming[call.callId] : undefined));
  const liveCall = useLive((s) => (call.callId ? s.calls[call.callId] : undefined));
  const now = useNow();
  const [held, setHeld] = useState(false);
  const [muted, setMuted] = useState(false);
  const [target, setTarget] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [keypad, setKeypad] = useState(false);

  /** The attended transfer in progress: whom the agent consults. */
  const [consulting, setConsulting] = useState<string | null>(null);
  const sawTransferring = useRef(false);

  const control = async (action: string, body: object = {}) => {
    setError(null);
    if (!call.callId) return setError('The call is not known to the server yet');
    try {
      const state = await post<{ held: boolean; muted: boolean; consultation: { target: string } | null }>(`/api/pbx/calls/${encodeURIComponent(call.callId)}/${action}`, body);
      setHeld(state.held);
      setMuted(state.muted);
      sawTransferring.current = false;
      setConsulting(state.consultation?.target ?? null);
    } catch (err) {
      setError(errorText(err));
    }
  };
  const transfer = (type: 'blind' | 'attended') => async (e?: FormEvent) => {
    e?.preventDefault();
    if (!target.trim()) return;
    await control('transfer', { target: target.trim(), type });
  };
  // The consultation ended on the server's side (the target hung up or did not answer): the caller is back.
  const sessionStatus = liveCall?.status;
  useEffect(() => {
    if (sessionStatus === 'TRANSFERRING') sawTransferring.current = true;
    else if (sawTransferring.current) {
      sawTransferring.current = false;
      setConsulting(null);
      setHeld(sessionStatus === 'ON_HOLD');
    }
  }, [sessionStatus]);

  const from = incoming?.from ?? call.remote;
  if (call.state === 'ringing') {
    return (
      <div className="banner" role="alert" data-testid="incoming-call">
        <p className="big">Incoming call from {call.remoteName ? `${call.remoteName} (${from})` : from}</p>
        {incoming?.consultation && <p className="muted">Consults you about the caller {incoming.consultation.caller}</p>}
        {incoming?.queueId && !incoming.consultation && <p className="muted">Through a queue, dialled {incoming.to}</p>}
        {incoming?.contactId && <p className="muted">Contact {incoming.contactId}</p>}
        <div className="row">
          <button type="button" className="primary" onClick={phone.answer}>
            Answer
          </button>
          <button type="button" className="danger" onClick={phone.reject}>
            Reject
          </button>
        </div>
      </div>
    );
  }
  const established = call.state === 'established';
  return (
    <div data-testid="active-call" data-state={call.state}>
      <p className="big">
        {call.direction === 'outgoing' ? 'To' : 'From'} {call.remote}
        {liveCall?.status === 'ON_HOLD' || held ? <span className="badge status-AWAY"> On hold</span> : null}
        {muted && <span className="badge status-WRAP_UP"> Muted</span>}
      </p>
      <p className="timer" data-testid="call-timer" aria-live="off">
        {established && call.answeredAt ? clock((now - call.answeredAt) / 1000) : call.direction === 'outgoing' ? 'Calling…' : 'Connecting…'}
      </p>
      <div className="row">
        <button type="button" className="danger" onClick={phone.hangup}>
          Hang up
        </button>
        <button type="button" disabled={!established || consulting !== null} onClick={() => void control('hold', { hold: !held })} aria-pressed={held}>
          {held ? 'Resume' : 'Hold'}
        </button>
        <button type="button" disabled={!established || consulting !== null} onClick={() => void control('mute', { muted: !muted })} aria-pressed={muted}>
          {muted ? 'Unmute' : 'Mute'}
        </button>
        <button type="button" disabled={!established} onClick={() => setKeypad(!keypad)} aria-expanded={keypad}>
          Keypad
        </button>
      </div>
      {keypad && <Keys onKey={phone.sendDtmf} label="Send tone" />}
      {keypad && <p className="muted small" aria-live="polite">Sent: {phone.dtmf || '—'}</p>}
      {consulting === null ? (
        <form className="row" onSubmit={transfer('blind')}>
          <label className="inline">
            Transfer to
            <input value={target} onChange={(e) => setTarget(e.target.value)} inputMode="numeric" placeholder="Extension" disabled={!established} />
          </label>
          <button type="submit" disabled={!established || !target.trim()} title="The caller is put through now, and you are free">
            Transfer
          </button>
          <button type="button" disabled={!established || !target.trim()} onClick={() => void transfer('attended')()} title="Talk with the target first, while the caller holds">
            Consult
          </button>
        </form>
      ) : (
        <div className="banner" role="status" data-testid="consultation">
          <p>
            Consulting {consulting} while the caller holds. Complete puts the caller through to {consulting}; cancel brings the caller back to you.
          </p>
          <div className="row">
            <button type="button" className="primary" onClick={() => void control('transfer/complete')}>
              Complete transfer
            </button>
            <button type="button" onClick={() => void control('transfer/cancel')}>
              Cancel transfer
            </button>
          </div>
        </div>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </div>
  );
}

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

function Keys({ onKey, label }: { onKey: (k: string) => void; label: string }) {
  return (
    <div className="keys" role="group" aria-label="Keypad">
      {KEYS.map((k) => (
        <button key={k} type="button" onClick={() => onKey(k)} aria-label={`${label} ${k}`}>
          {k}
        </button>
      ))}
    </div>
  );
}

function DialPad() {
  const [number, setNumber] = useState('');
  const status = usePhone((s) => s.status);
  const call = usePhone((s) => s.call);
  const dial = usePhone((s) => s.dial);
  const busy = !!call && call.state !== 'ended';
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const target = number.replace(/[^0-9*#+]/g, '');
    if (!target) return;
    usePhone.getState().clearEnded();
    dial(target);
  };
  return (
    <section className="card" aria-labelledby="dial-title">
      <h2 id="dial-title">Dial pad</h2>
      <form onSubmit={submit}>
        <label>
          Number
          <input name="dial" value={number} onChange={(e) => setNumber(e.target.value)} inputMode="tel" autoComplete="off" />
        </label>
        <Keys onKey={(k) => setNumber(number + k)} label="Dial" />
        <div className="row">
          <button type="submit" className="primary" disabled={status !== 'connected' || busy || !number}>
            Call
          </button>
          <button type="button" onClick={() => setNumber(number.slice(0, -1))} disabled={!number}>
            Delete
          </button>
        </div>
      </form>
    </section>
  );
}

function WrapUp() {
  const call = usePhone((s) => s.call);
  const clearEnded = usePhone((s) => s.clearEnded);
  const queryClient = useQueryClient();
  const [notes, setNotes] = useState('');
  const [disposition, setDisposition] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const callId = call?.state === 'ended' ? call.callId : null;
  useEffect(() => {
    setNotes('');
    setDisposition('');
    setError(null);
  }, [callId]);
  if (!call || call.state !== 'ended') return null;
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!callId) return clearEnded();
    setSaving(true);
    try {
      await post(`/api/pbx/calls/${encodeURIComponent(callId)}/notes`, { notes, ...(disposition ? { disposition } : {}) });
      await queryClient.invalidateQueries({ queryKey: ['my-calls'] });
      clearEnded();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSaving(false);
    }
  };
  return (
    <section className="card" aria-labelledby="wrap-title" data-testid="wrap-up">
      <h2 id="wrap-title">After the call with {call.remote}</h2>
      <p className="muted small">
        {call.answeredAt && call.endedAt ? `Talked ${clock((call.endedAt - call.answeredAt) / 1000)}` : `Not answered${call.cause ? ` (${call.cause})` : ''}`}
      </p>
      <form onSubmit={save}>
        <label>
          Disposition
          <select name="disposition" value={disposition} onChange={(e) => setDisposition(e.target.value)}>
            <option value="">Choose…</option>
            {DISPOSITIONS.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </label>
        <label>
          Notes
          <textarea name="notes" value={notes} onChange={(e) => setNotes(e.target.value)} rows={3} maxLength={10_000} />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <div className="row">
          <button type="submit" className="primary" disabled={saving || !callId}>
            Save
          </button>
          <button type="button" onClick={clearEnded}>
            Skip
          </button>
        </div>
      </form>
    </section>
  );
}

function RecentCalls() {
  const ended = useLive((s) => s.endedCalls);
  const calls = useQuery({ queryKey: ['my-calls', ended], queryFn: () => get<{ sessions: CallSession[] }>('/api/pbx/calls/sessions?limit=10') });
  return (
    <section className="card" aria-labelledby="recent-title">
      <h2 id="recent-title">Recent calls</h2>
      {calls.isError && <p className="error">{errorText(calls.error)}</p>}
      <table className="table" data-testid="recent-calls">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">From</th>
            <th scope="col">To</th>
            <th scope="col">Status</th>
            <th scope="col">Talk</th>
            <th scope="col">Disposition</th>
          </tr>
        </thead>
        <tbody>
          {(calls.data?.sessions ?? []).map((s) => (
            <tr key={s.id}>
              <td>{new Date(s.createdAt).toLocaleTimeString()}</td>
              <td>{s.fromNumber}</td>
              <td>{s.toNumber}</td>
              <td>{s.status}</td>
              <td>{clock(s.talkTime)}</td>
              <td>{s.disposition ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {calls.data && calls.data.sessions.length === 0 && <p className="muted">No calls yet.</p>}
    </section>
  );
}
