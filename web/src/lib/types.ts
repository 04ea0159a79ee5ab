/** The shapes the server answers with (see the API reference at /docs). */
export type Role = 'ADMIN' | 'MANAGER' | 'SUPERVISOR' | 'AGENT';
export type AgentStatus = 'OFFLINE' | 'AVAILABLE' | 'RINGING' | 'BUSY' | 'WRAP_UP' | 'AWAY';

export interface PbxUser {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  role: Role;
}

export interface LoginAnswer {
  accessToken: string;
  expiresIn: number;
  user: PbxUser;
  tenantId: string;
  agentExtension: { id: string; extension: string; status: AgentStatus } | null;
}

export interface SoftphoneCredentials {
  extension: string;
  username: string;
  password: string;
  realm: string;
  domain: string;
  websocketPath: string;
  expiresAt: string;
}

export interface CallSession {
  id: string;
  callId: string;
  direction: string;
  fromNumber: string;
  toNumber: string;
  queueId: string | null;
  agentId: string | null;
  status: string;
  createdAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  waitTime: number;
  talkTime: number;
  holdTime: number;
  endCause: string | null;
  disposition: string | null;
  notes: string | null;
}

export interface CallMetrics {
  totalCalls: number;
  answeredCalls: number;
  abandonedCalls: number;
  missedCalls: number;
  queueCalls: number;
  avgWaitTime: number;
  avgHandleTime: number;
  avgCallDuration: number;
  serviceLevel: number;
  abandonRate: number;
}

export interface QueueLive {
  id: string;
  name: string;
  number: string;
  waiting: number;
  agents: number;
  available: number;
  longestWait: number;
  serviceLevel: number;
  serviceLevelThreshold: number;
}

export interface Realtime {
  at: string;
  agents: { total: number; registered: number; byStatus: Record<string, number> };
  queues: QueueLive[];
  calls: { active: number; waiting: number; connected: number };
  today: CallMetrics;
}

export interface UserRow {
  id: string;
  name: string;
  email: string;
  role: Role;
  is_active: boolean;
  extension: { id: string; number: number; status: AgentStatus; is_active: boolean } | null;
}

export interface QueueRow {
  id: string;
  name: string;
  number: string;
  strategy: string;
  ringTimeout: number;
  wrapUpTime: number;
  serviceLevel: number;
  members: Array<{ extensionId: string; extension: string; penalty: number; paused: boolean; pauseReason: string | null }>;
}

export function fullName(u: Pick<PbxUser, 'firstName' | 'lastName'>): string {
  return `${u.firstName} ${u.lastName}`.trim();
}

export function homeOf(role: Role): string {
  if (role === 'AGENT') return '/pbx/agent';
  if (role === 'MANAGER' || role === 'SUPERVISOR') return '/pbx/manager';
  return '/pbx/dashboard';
}

export const isStaff = (role: Role | undefined) => role === 'ADMIN' || role === 'MANAGER' || role === 'SUPERVISOR';

/** 75 → "1:15", 3725 → "1:02:05". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
