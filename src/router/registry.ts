// Resolves what a caller names (route, alias, deployment id) against the configuration. Built
// once at start-up; lookups are map reads.

import type { Config, DeploymentConfig, ProviderConfig, RouteConfig } from "../config/types.ts";

export type Resolved =
  | { kind: "route"; route: RouteConfig; alias: string }
  | { kind: "deployment"; deployment: DeploymentConfig; alias: string };

export interface ModelRegistry {
  readonly config: Config;
  resolve(name: string): Resolved | undefined;
  deployment(id: string): DeploymentConfig | undefined;
  provider(name: string): ProviderConfig | undefined;
}

export function createModelRegistry(config: Config): ModelRegistry {
  const routes = new Map(config.routes.map((r) => [r.name, r]));
  const deployments = new Map(config.deployments.map((d) => [d.id, d]));
  const providers = new Map(config.providers.map((p) => [p.name, p]));
  const direct = (name: string, alias: string): Resolved | undefined => {
    const r = routes.get(name);
    if (r) return { kind: "route", route: r, alias };
    const d = deployments.get(name);
    if (d) return { kind: "deployment", deployment: d, alias };
    return undefined;
  };
  return {
    config,
    resolve(name) {
      const hit = direct(name, "");
      if (hit) return hit;
      const target = config.aliases[name];
      return target === undefined ? undefined : direct(target, name);
    },
    deployment: (id) => deployments.get(id),
    provider: (name) => providers.get(name),
  };
}
