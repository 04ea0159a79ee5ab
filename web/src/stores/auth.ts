/**
 * Who is logged in: the token and the user, kept in localStorage so a refresh stays logged in. The phone and the
 * live connection follow this store (see App), so logging out unregisters the softphone and closes the socket.
 */
import { create } from 'zustand';
import { persist } from 'zustand/middleware';
import type { LoginAnswer, PbxUser } from '../lib/types.ts';

export interface Session {
  token: string;
  expiresAt: number;
  user: PbxUser;
  tenantId: string;
  extension: { id: string; number: string } | null;
}

interface AuthState {
  session: Session | null;
  /** Why the last session ended when the user did not ask (shown on the login page). */
  notice: string | null;
  loggedIn(answer: LoginAnswer): void;
  logout(): void;
  expire(): void;
}

export const useAuth = create<AuthState>()(
  persist(
    (set) => ({
      session: null,
      notice: null,
      loggedIn: (a) =>
        set({
          notice: null,
          session: {
            token: a.accessToken,
            expiresAt: Date.now() + a.expiresIn * 1000,
            user: a.user,
            tenantId: a.tenantId,
            extension: a.agentExtension ? { id: a.agentExtension.id, number: a.agentExtension.extension } : null,
          },
        }),
      logout: () => set({ session: null, notice: null }),
      expire: () => set({ session: null, notice: 'Your session has ended: log in again.' }),
    }),
    {
      name: 'switchboard.session',
      partialize: (s) => ({ session: s.session }),
      // A token past its expiry is not worth keeping.
      merge: (persisted, current) => {
        const session = (persisted as { session?: Session | null } | undefined)?.session ?? null;
        return { ...current, session: session && session.expiresAt > Date.now() ? session : null };
      },
    },
  ),
);
