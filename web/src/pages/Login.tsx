/**
 * `/pbx/login` (extension and its SIP secret, seed 000) and `/login` (email and password, for administrators).
 * After login: agents to `/pbx/agent`, managers and supervisors to `/pbx/manager`, others to `/pbx/dashboard`.
 */
import { useState, type FormEvent } from 'react';
import { Link, Navigate, useLocation, useNavigate } from 'react-router';
import { ApiError, post } from '../lib/api.ts';
import { homeOf, type LoginAnswer } from '../lib/types.ts';
import { useAuth } from '../stores/auth.ts';

export function LoginPage({ mode }: { mode: 'extension' | 'email' }) {
  const session = useAuth((s) => s.session);
  const notice = useAuth((s) => s.notice);
  const loggedIn = useAuth((s) => s.loggedIn);
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from;
  const [id, setId] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  if (session) return <Navigate to={homeOf(session.user.role)} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer =
        mode === 'extension'
          ? await post<LoginAnswer>('/api/pbx/auth/login', { extension: id.trim(), password })
          : await post<LoginAnswer>('/api/auth/login', { email: id.trim(), password });
      loggedIn(answer);
      navigate(from && from !== '/pbx/login' ? from : homeOf(answer.user.role), { replace: true });
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? mode === 'extension'
            ? 'Wrong extension or password.'
            : 'Wrong email or password.'
          : err instanceof ApiError && err.status === 429
            ? `${err.message}.` // the server says how long: seconds when the account is slowed, longer for one address
            : err instanceof Error
              ? err.message
              : String(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="centered">
      <form className="card login" onSubmit={submit} aria-busy={busy}>
        <h1>Switchboard</h1>
        <p className="muted">{mode === 'extension' ? 'Log in with your extension' : 'Log in with your email'}</p>
        {notice && <p className="notice" role="status">{notice}</p>}
        <label>
          {mode === 'extension' ? 'Extension' : 'Email'}
          <input
            name={mode === 'extension' ? 'extension' : 'email'}
            value={id}
            onChange={(e) => setId(e.target.value)}
            inputMode={mode === 'extension' ? 'numeric' : 'email'}
            autoComplete="username"
            required
            autoFocus
          />
        </label>
        <label>
          Password
          <input name="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required />
        </label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        <p className="muted small">
          {mode === 'extension' ? <Link to="/login">Log in with email instead</Link> : <Link to="/pbx/login">Log in with an extension instead</Link>}
        </p>
      </form>
    </main>
  );
}
