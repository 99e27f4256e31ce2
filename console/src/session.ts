// Who is using the console: the caller key (kept in this tab's sessionStorage only, never in a URL
// or localStorage), what the gateway says the key is, and the typed client that sends it.

import { createSignalboxClient, type SignalboxClient } from "@signalbox/client";

const STORAGE_KEY = "signalbox.console.key";

/** /console/config.json */
export interface Settings {
  traceUrl?: string;
  authEnabled: boolean;
}

/** /console/session: the key's name, team and role as the gateway resolves it. */
export interface Identity {
  key: string;
  team: string;
  role: "admin" | "team" | "service" | "anonymous";
}

export interface Session {
  identity: Identity;
  client: SignalboxClient;
  settings: Settings;
}

export const storedKey = (): string | undefined => sessionStorage.getItem(STORAGE_KEY) ?? undefined;
export const storeKey = (key: string): void => sessionStorage.setItem(STORAGE_KEY, key);
export const forgetKey = (): void => sessionStorage.removeItem(STORAGE_KEY);

async function getJson<T>(path: string, key?: string): Promise<T> {
  const res = await fetch(path, { headers: key ? { authorization: `Bearer ${key}` } : {}, cache: "no-store" });
  const body = (await res.json().catch(() => ({}))) as T & { message?: string };
  if (!res.ok) throw new Error(body.message ?? `${path} answered ${res.status}`);
  return body;
}

export const loadSettings = (): Promise<Settings> => getJson<Settings>("/console/config.json");

/** Who the key is; rejects with the gateway's words when the key is refused. */
export const identify = (key?: string): Promise<Identity> => getJson<Identity>("/console/session", key);

/** The typed client for this origin, sending the key as a bearer token. */
export function clientFor(key?: string): SignalboxClient {
  return createSignalboxClient({ baseUrl: location.origin, apiKey: key, opentelemetry: false });
}

/** Admins, and everyone while auth is off, may see and manage everything. */
export const isAdmin = (id: Identity): boolean => id.role === "admin" || id.role === "anonymous";

/** The trace link for a trace id, from the configured template; undefined without one. */
export function traceLink(settings: Settings, traceId: string): string | undefined {
  if (!settings.traceUrl || !traceId) return undefined;
  return settings.traceUrl.replaceAll("{trace_id}", encodeURIComponent(traceId));
}
