/**
 * Routes, and the session's effects: while someone is logged in, the live socket is open and, when the user has
 * an extension, the softphone registers; when the session ends (logout, expiry) both are closed.
 */
import { lazy, Suspense, useEffect, type ReactNode } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { Layout } from './components/Layout.tsx';
import { homeOf, type Role } from './lib/types.ts';
import { AgentPortal } from './pages/AgentPortal.tsx';
import { Dashboard } from './pages/Dashboard.tsx';
import { LoginPage } from './pages/Login.tsx';
import { useAuth } from './stores/auth.ts';
import { useLive } from './stores/live.ts';
import { usePhone } from './stores/phone.ts';

const Wallboard = lazy(() => import('./pages/Wallboard.tsx'));
const AdminUsers = lazy(() => import('./pages/AdminUsers.tsx'));
const AdminQueues = lazy(() => import('./pages/AdminQueues.tsx'));
const AdminAudit = lazy(() => import('./pages/AdminAudit.tsx'));
const AdminCarriers = lazy(() => import('./pages/AdminCarriers.tsx'));

function useSessionConnections(): void {
  const token = useAuth((s) => s.session?.token);
  const hasExtension = useAuth((s) => !!s.session?.extension);
  useEffect(() => {
    if (!token) return;
    useLive.getState().connect(token);
    if (hasExtension) void usePhone.getState().start();
    return () => {
      void usePhone.getState().stop();
      useLive.getState().disconnect();
    };
  }, [token, hasExtension]);
}

function RequireRole({ roles, children }: { roles?: Role[]; children: ReactNode }) {
  const session = useAuth((s) => s.session);
  const location = useLocation();
  if (!session) return <Navigate to="/pbx/login" replace state={{ from: location.pathname }} />;
  if (roles && !roles.includes(session.user.role)) return <Navigate to={homeOf(session.user.role)} replace />;
  return <>{children}</>;
}

function Home() {
  const role = useAuth((s) => s.session?.user.role);
  return <Navigate to={role ? homeOf(role) : '/pbx/login'} replace />;
}

const STAFF: Role[] = ['ADMIN', 'MANAGER', 'SUPERVISOR'];

export function App() {
  useSessionConnections();
  return (
    <Routes>
      <Route path="/" element={<Home />} />
      <Route path="/login" element={<LoginPage mode="email" />} />
      <Route path="/pbx/login" element={<LoginPage mode="extension" />} />
      <Route
        path="/pbx"
        element={
          <RequireRole>
            <Layout />
          </RequireRole>
        }
      >
        <Route index element={<Home />} />
        <Route path="agent" element={<AgentPortal />} />
        <Route path="dashboard" element={<RequireRole roles={STAFF}><Dashboard /></RequireRole>} />
        <Route path="manager" element={<RequireRole roles={STAFF}><Suspense fallback={<p className="muted">Loading…</p>}><Wallboard /></Suspense></RequireRole>} />
        <Route path="admin/users" element={<RequireRole roles={['ADMIN']}><Suspense fallback={<p className="muted">Loading…</p>}><AdminUsers /></Suspense></RequireRole>} />
        <Route path="admin/queues" element={<RequireRole roles={['ADMIN', 'MANAGER']}><Suspense fallback={<p className="muted">Loading…</p>}><AdminQueues /></Suspense></RequireRole>} />
        <Route path="admin/carriers" element={<RequireRole roles={['ADMIN', 'MANAGER']}><Suspense fallback={<p className="muted">Loading…</p>}><AdminCarriers /></Suspense></RequireRole>} />
        <Route path="admin/audit" element={<RequireRole roles={['ADMIN']}><Suspense fallback={<p className="muted">Loading…</p>}><AdminAudit /></Suspense></RequireRole>} />
      </Route>
      <Route path="*" element={<main className="centered"><h1>Page not found</h1><a href="/">Go home</a></main>} />
    </Routes>
  );
}
