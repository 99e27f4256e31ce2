// Resolves what a caller names (route, alias, deployment id) against the configuration. Built
// once per configuration generation; lookups are map reads. A name no route, alias or deployment
// has, but a wildcard deployment's prefix starts ("openai/*" for "openai/gpt-4.1"), gets a
// deployment made for it on first use and kept for the generation (at most the wildcard's
// max_models of them).

import { ConfigError } from "../config/schema.ts";
import type { Config, DeploymentConfig, ProviderConfig, RouteConfig, WildcardDeployment } from "../config/types.ts";
import { wildcardFor, wildcardPart } from "../config/wildcards.ts";
import { GatewayError } from "./errors.ts";

export type Resolved =
  | { kind: "route"; route: RouteConfig; alias: string }
  | { kind: "deployment"; deployment: DeploymentConfig; alias: string };

export interface ModelRegistry {
  readonly config: Config;
  /**
   * The route or deployment a name stands for, or undefined. Throws a GatewayError naming
   * `model` when a wildcard matches the name but cannot serve it (a model without prices, a
   * wildcard at its max_models).
   */
  resolve(name: string): Resolved | undefined;
  /** A deployment by id, listed or made from a wildcard (on first use). */
  deployment(id: string): DeploymentConfig | undefined;
  provider(name: string): ProviderConfig | undefined;
  /** Deployments made from wildcards so far in this generation, in the order they were made. */
  made(): DeploymentConfig[];
  /** The wildcard deployment with this exact id ("openai/*"), for allow lists (it allows every name it starts). */
  wildcard(id: string): WildcardDeployment | undefined;
}

export function createModelRegistry(config: Config): ModelRegistry {
  const routes = new Map(config.routes.map((r) => [r.name, r]));
  const deployments = new Map(config.deployments.map((d) => [d.id, d]));
  const providers = new Map(config.providers.map((p) => [p.name, p]));
  const wildcards = config.wildcards ?? [];
  /** Deployments made from wildcards in this generation, and how many each wildcard made. */
  const made = new Map<string, { deployment: DeploymentConfig; wildcard: string }>();
  const count = new Map<string, number>();

  const fromWildcard = (name: string): { deployment: DeploymentConfig; wildcard: string } | undefined => {
    const hit = made.get(name);
    if (hit) return hit;
    const w = wildcardFor(wildcards, name);
    if (!w) return undefined;
    const part = wildcardPart(w, name);
    if (part === undefined) {
      throw new GatewayError("invalid_argument", `model: "${name.slice(w.prefix.length)}" is not a model name (wildcard deployment "${w.id}")`, { field: "model" });
    }
    const n = count.get(w.id) ?? 0;
    if (n >= w.maxModels) {
      throw new GatewayError("failed_precondition", `model: wildcard deployment "${w.id}" already serves ${w.maxModels} distinct models (its max_models) until the configuration is reloaded`, { field: "model" });
    }
    let deployment: DeploymentConfig;
    try {
      deployment = w.make(name, w.model.replace("*", part));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      throw new GatewayError("not_found", `model: "${name}" matches wildcard deployment "${w.id}", which cannot serve it: ${err.message}`, { field: "model" }, err);
    }
    count.set(w.id, n + 1);
    const entry = { deployment, wildcard: w.id };
    made.set(name, entry);
    return entry;
  };

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
      if (target !== undefined) return direct(target, name);
      if (wildcards.length === 0) return undefined;
      const w = fromWildcard(name);
      return w && { kind: "deployment", deployment: w.deployment, alias: "" };
    },
    deployment: (id) => deployments.get(id) ?? (wildcards.length ? made.get(id)?.deployment : undefined),
    provider: (name) => providers.get(name),
    made: () => [...made.values()].map((m) => m.deployment),
    wildcard: (id) => wildcards.find((w) => w.id === id),
  };
}
