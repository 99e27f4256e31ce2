// The one place where outcomes become Connect error codes. Causes stay in logs; callers get a
// code, a secret-free message and an ErrorInfo detail (attempts, retry-after, delivered content).

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gen/signalbox/v1/common_pb.ts";
import { ProviderError } from "../providers/types.ts";
import { codeForFailure, GatewayError, type GatewayCode } from "../router/errors.ts";
import { attemptToPb, costToPb, estimatedParts, FAILURE_TO_PB, usageToPb } from "./convert.ts";

const CODE: Record<GatewayCode, Code> = {
  canceled: Code.Canceled,
  unknown: Code.Unknown,
  invalid_argument: Code.InvalidArgument,
  deadline_exceeded: Code.DeadlineExceeded,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  permission_denied: Code.PermissionDenied,
  resource_exhausted: Code.ResourceExhausted,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  out_of_range: Code.OutOfRange,
  unimplemented: Code.Unimplemented,
  internal: Code.Internal,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  unauthenticated: Code.Unauthenticated,
};

/**
 * Convert anything thrown while serving into a ConnectError. When the caller's own signal has
 * fired, its reason is what Connect expects back (deadline vs cancel), so it is returned as is.
 */
export function toConnectError(err: unknown, signal: AbortSignal | undefined, traceId: string): ConnectError {
  if (signal?.aborted && signal.reason instanceof ConnectError) return signal.reason;
  if (err instanceof ConnectError) return err;
  if (err instanceof GatewayError) {
    const d = err.details;
    const info = create(ErrorInfoSchema, {
      failureKind: d.failureKind ? FAILURE_TO_PB[d.failureKind] : 0,
      attempts: (d.attempts ?? []).map(attemptToPb),
      retryAfterMs: d.retryAfterMs,
      deliveredDeltas: d.deliveredDeltas ?? 0,
      deliveredChars: d.deliveredChars ?? 0,
      usage: d.usage ? usageToPb(d.usage, d.usageEstimated, estimatedParts(d.attempts)) : undefined,
      cost: d.cost ? costToPb(d.cost) : undefined,
      traceId,
      field: d.field ?? "",
      guardrail: d.guardrail ?? "",
      guardrailCategory: d.guardrailCategory ?? "",
    });
    const metadata = d.retryAfterMs !== undefined ? { "retry-after": String(Math.max(1, Math.ceil(d.retryAfterMs / 1000))) } : undefined;
    return new ConnectError(err.message, CODE[err.code], metadata, [{ desc: ErrorInfoSchema, value: info }], err);
  }
  if (err instanceof ProviderError) {
    if (err.kind === "canceled") return new ConnectError("request canceled", Code.Canceled, undefined, undefined, err);
    return new ConnectError(err.message, CODE[codeForFailure(err.kind)], undefined, undefined, err);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, err);
}
