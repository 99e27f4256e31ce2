// The standard gRPC health service (grpc.health.v1.Health): SERVING until shutdown begins.

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status, HealthCheckResponseSchema } from "../../gen/grpc/health/v1/health_pb.ts";

export interface HealthState {
  serving: boolean;
  /** Fully-qualified service names this server reports on ("" is the server as a whole). */
  services: string[];
  /** Resolves when serving changes (for Watch). */
  changed: Promise<void>;
  setServing(v: boolean): void;
}

export function createHealthState(services: string[]): HealthState {
  let notify: () => void = () => {};
  const s: HealthState = {
    serving: true,
    services: ["", ...services],
    changed: new Promise((r) => (notify = r)),
    setServing(v) {
      if (v === s.serving) return;
      s.serving = v;
      const n = notify;
      s.changed = new Promise((r) => (notify = r));
      n();
    },
  };
  return s;
}

export function healthService(state: HealthState): ServiceImpl<typeof Health> {
  const status = (service: string) => {
    if (!state.services.includes(service)) return undefined;
    return state.serving ? Status.SERVING : Status.NOT_SERVING;
  };
  return {
    async check(req) {
      const st = status(req.service);
      if (st === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status: st });
    },
    async list() {
      return { statuses: Object.fromEntries(state.services.map((s) => [s, { status: status(s)! }])) };
    },
    async *watch(req, ctx) {
      for (;;) {
        yield create(HealthCheckResponseSchema, { status: status(req.service) ?? Status.SERVICE_UNKNOWN });
        const aborted = new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
        await Promise.race([state.changed, aborted]);
        if (ctx.signal.aborted) return;
      }
    },
  };
}
