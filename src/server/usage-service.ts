// UsageService: answers unimplemented until the usage store lands (issue "Keys, usage, cost,
// budgets and rate limits"); requests are still validated so clients see real errors for bad input.

import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { UsageService } from "../../gen/signalbox/v1/usage_pb.ts";
import { requestInfoKey } from "./context.ts";
import { toConnectError } from "./errors.ts";
import { validateGetBudget, validateGetUsage, validateListRequests } from "./validate.ts";

const notYet = (rpc: string) =>
  new ConnectError(`${rpc} is not implemented yet: usage queries arrive with the usage store (keys, usage, budgets and rate limits)`, Code.Unimplemented);

export function usageService(): Partial<ServiceImpl<typeof UsageService>> {
  const guard = <T>(validate: (r: T) => void, rpc: string) =>
    async (req: T, ctx: { signal: AbortSignal; values: { get: (k: typeof requestInfoKey) => { traceId: string } | undefined } }): Promise<never> => {
      try {
        validate(req);
      } catch (err) {
        throw toConnectError(err, ctx.signal, ctx.values.get(requestInfoKey)?.traceId ?? "");
      }
      throw notYet(rpc);
    };
  return {
    getUsage: guard(validateGetUsage, "GetUsage"),
    listRequests: guard(validateListRequests, "ListRequests"),
    getBudget: guard(validateGetBudget, "GetBudget"),
  };
}
