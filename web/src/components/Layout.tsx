/**
 * The frame of every PBX page: navigation by role, the live connection's state, the softphone's indicator next to
 * the user's name (green Connected, yellow Connecting, red Disconnected with the reason on hover), the extension,
 * and logout. On a narrow screen the navigation and the account fold into a menu.
 */
import { useState } from 'react';
import { NavLink, Outlet, useNavigate } from 'react-router';
import { fullName, type Role } from '../lib/types.ts';
import { useAuth } from '../stores/auth.ts';
import { useLive } from '../stores/live.ts';
import { usePhone } from '../stores/phone.ts';

const LINKS: Array<{ to: string; label: string; roles: Role[] }> = [
  { to: '/pbx/agent', label: 'Agent', roles: ['AGENT', 'ADMIN', 'MANAGER', 'SUPERVISOR'] },
  { to: '/pbx/manager', label: 'Wallboard', roles: ['ADMIN', 'MANAGER', 'SUPERVISOR'] },
  { to: '/pbx/dashboard', label: 'Dashboard', roles: ['ADMIN', 'MANAGER', 'SUPERVISOR'] },
  { to: '/pbx/admin/users', label: 'Users', roles: ['ADMIN'] },
  { to: '/pbx/admin/queues', label: 'Queues', roles: ['ADMIN', 'MANAGER'] },
  { to: '/pbx/admin/carriers', label: 'Carriers', roles: ['ADMIN', 'MANAGER'] },
  { to: '/pbx/admin/audit', label: 'Audit', roles: ['ADMIN'] },
];

const PHONE_TEXT = { connected: 'Connected', connecting: 'Connecting', disconnected: 'Disconnected' } as const;

export function PhoneIndicator({ withText = false }: { withText?: boolean }) {
  const status = usePhone((s) => s.status);
  const error = usePhone((s) => s.error);
  const microphone = usePhone((s) => s.microphone);
  const title = [`Softphone: ${PHONE_TEXT[status]}`, error, microphone === 'denied' ? 'Microphone blocked' : null].filter(Boolean).join(' — ');
  return (
    <span className={`indicator phone-${status}`} title={title} data-testid="pbx-status" data-status={status} role="status" aria-label={title}>
      <span className="dot" aria-hidden="true" />
      <span className={withText ? '' : 'visually-hidden'}>PBX {PHONE_TEXT[status]}</span>
      {withText && error && <span className="small muted"> {error}</span>}
    </span>
  );
}

function LiveIndicator() {
  const connected = useLive((s) => s.connected);
  const error = useLive((s) => s.error);
  return (
    <span className={`indicator live-${connected ? 'on' : 'off'}`} title={connected ? 'Live updates on' : `Live updates off${error ? `: ${error}` : ''}`} data-testid="live-status" data-status={connected ? 'on' : 'off'}>
      <span className="dot" aria-hidden="true" />
      <span className="small">{connected ? 'Live' : 'Offline'}</span>
    </span>
  );
}

export function Layout() {
  const session = useAuth((s) => s.session);
  const logout = useAuth((s) => s.logout);
  const navigate = useNavigate();
  const [menuOpen, setMenuOpen] = useState(false);
  if (!session) return null;
  const role = session.user.role;
  const links = LINKS.filter((l) => l.roles.includes(role) && (l.to !== '/pbx/agent' || role === 'AGENT' || session.extension));
  const doLogout = async () => {
    // Unregister before the session goes, so the server forgets the softphone at once.
    await usePhone.getState().stop();
    logout();
    navigate('/pbx/login', { replace: true });
  };
  const account = (
    <>
      {session.extension && <PhoneIndicator withText={menuOpen} />}
      <span className="user">
        {fullName(session.user)}
        {session.extension && <span className="muted small"> · ext {session.extension.number}</span>}
      </span>
      <button type="button" onClick={() => void doLogout()}>
        Log out
      </button>
    </>
  );
  return (
    <div className="app">
      <header className="topbar">
        <strong className="brand">Switchboard</strong>
        <nav aria-label="Main" className={menuOpen ? 'open' : ''}>
          {links.map((l) => (
            <NavLink key={l.to} to={l.to} onClick={() => setMenuOpen(false)}>
              {l.label}
            </NavLink>
          ))}
        </nav>
        <LiveIndicator />
        <div className="account desktop">{account}</div>
        <button type="button" className="menu-toggle" aria-expanded={menuOpen} aria-controls="mobile-account" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
      </header>
      {menuOpen && (
        <section id="mobile-account" className="mobile-menu" aria-label="Account">
          <h2 className="small muted">Account</h2>
          {account}
        </section>
      )}
      <main className="content">
        <Outlet />
      </main>
    </div>
  );
}
