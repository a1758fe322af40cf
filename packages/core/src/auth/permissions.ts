/** Admin API permissions (docs/admin-auth.md#permissions); `admin` grants every other one. */
export const PERMISSIONS = ["keys:read", "keys:write", "keys:verify", "tokens:derive", "events:read", "admin"] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** How a caller of the admin API proved who it is. */
export type AuthMethod = "token" | "jwt" | "mtls";

/** An authenticated admin caller: a name for logs and events (never a credential) and what it may do. */
export interface AdminPrincipal {
  readonly name: string;
  readonly method: AuthMethod;
  readonly permissions: ReadonlySet<Permission>;
}

const KNOWN: ReadonlySet<string> = new Set(PERMISSIONS);

export const isPermission = (value: string): value is Permission => KNOWN.has(value);

export function allows(principal: AdminPrincipal, permission: Permission): boolean {
  return principal.permissions.has("admin") || principal.permissions.has(permission);
}

export function adminPrincipal(name: string, method: AuthMethod, permissions: Iterable<string>): AdminPrincipal {
  const set = new Set<Permission>();
  for (const p of permissions) if (isPermission(p)) set.add(p);
  return { name, method, permissions: set };
}
