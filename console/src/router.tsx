// History routing under /console/: the path after the prefix is the page; the gateway answers
// index.html for any of them, so reloads and shared links work.

import { type AnchorHTMLAttributes, type MouseEvent, useSyncExternalStore } from "react";

export const BASE = "/console/";

const listeners = new Set<() => void>();
const subscribe = (fn: () => void) => {
  listeners.add(fn);
  window.addEventListener("popstate", fn);
  return () => {
    listeners.delete(fn);
    window.removeEventListener("popstate", fn);
  };
};
const current = () => (location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "").replace(/\/+$/, "");

/** The page path, e.g. "" (overview), "requests", "requests/abc". */
export function usePath(): string {
  return useSyncExternalStore(subscribe, current);
}

export function navigate(path: string): void {
  const to = BASE + path.replace(/^\/+/, "");
  if (to === location.pathname) return;
  history.pushState(null, "", to);
  for (const fn of listeners) fn();
  window.scrollTo(0, 0);
}

/** An in-app link: a real href (open in a new tab works), client-side navigation on a plain click. */
export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    rest.onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a {...rest} href={BASE + to} onClick={onClick} />;
}
