/** Domain objects in the shapes the seeds' clients expect: snake_case for seed 004, camelCase for seed 000. */
import type { AgentSnapshot } from '../contact-center/index.ts';
import type { Extension, Tenant, User } from '../directory/index.ts';

export function userBody(user: User) {
  return {
    id: user.id,
    tenant_id: user.tenantId,
    name: user.name,
    email: user.email,
    role: user.role,
    is_active: user.isActive,
    dial_classes: user.dialClasses,
    caller_id: user.callerId,
    created_at: user.createdAt,
    updated_at: user.updatedAt,
    extension: user.extension
      ? {
          id: user.extension.id,
          number: user.extension.number,
          status: user.extension.status,
          is_active: user.extension.isActive,
          created_at: user.extension.createdAt,
        }
      : null,
  };
}

/** Seed 000 names people by first and last name; we keep one name and split it at its last space. */
export function pbxUser(user: Pick<User, 'id' | 'email' | 'name' | 'role'>) {
  const name = user.name.trim();
  const cut = name.lastIndexOf(' ');
  return {
    id: user.id,
    email: user.email,
    firstName: cut > 0 ? name.slice(0, cut) : name,
    lastName: cut > 0 ? name.slice(cut + 1) : '',
    role: user.role,
  };
}

/** The extension with its agent's live state (the stored one may lag it by a write). */
export function agentExtensionBody(ext: Extension, agent?: AgentSnapshot) {
  return {
    id: ext.id,
    tenantId: ext.tenantId,
    userId: ext.userId,
    extension: String(ext.number),
    status: agent?.status ?? ext.status,
    statusReason: agent ? agent.reason : ext.statusReason,
    statusChangedAt: agent?.since ?? ext.statusChangedAt,
    ...(agent ? { registered: agent.registered, currentCallId: agent.calls[0] ?? null, pendingStatus: agent.pending?.status ?? null } : {}),
    isActive: ext.isActive,
    ringTimeout: ext.ringTimeout,
    recordingPolicy: ext.recordingPolicy,
    createdAt: ext.createdAt,
    updatedAt: ext.updatedAt,
  };
}

export function tenantBody(tenant: Tenant) {
  return {
    id: tenant.id,
    name: tenant.name,
    domain: tenant.domain,
    isSystem: tenant.isSystem,
    extensionRange: `${tenant.extensionRange.start}-${tenant.extensionRange.end}`,
    maxCallSeconds: tenant.maxCallSeconds,
    createdAt: tenant.createdAt,
  };
}
