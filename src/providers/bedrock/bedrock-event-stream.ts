// Frames Bedrock's binary `application/vnd.amazon.eventstream` body into events with the
// well-kept codec (@smithy/eventstream-codec, which checks both CRCs). Network reads cut frames
// anywhere, so bytes are buffered until a whole frame (its length is the first 4 bytes) is in.

import { createRequire } from "node:module";
import type { EventStreamCodec } from "@smithy/eventstream-codec";
import type { SseEvent, StreamDecoder } from "../types.ts";
import { ProviderError } from "../types.ts";

/** The smallest frame: 12-byte prelude and 4-byte message CRC. */
const MIN_FRAME = 16;
/** The format's own limit (16 MB); a larger length is a corrupt stream, not a slow one. */
const MAX_FRAME = 16 * 1024 * 1024;

function corrupt(label: string, why: string, cause?: unknown): ProviderError {
  return new ProviderError({ kind: "stream_interrupted", message: `${label}bedrock event stream: ${why}`, cause });
}

// The codec is loaded with the first Bedrock stream (only this file uses it, so require() makes no
// second copy): a gateway with no Bedrock deployment never carries it.
let newCodec: (() => EventStreamCodec) | undefined;
function codec(): EventStreamCodec {
  if (!newCodec) {
    const require = createRequire(import.meta.url);
    const { EventStreamCodec } = require("@smithy/eventstream-codec") as typeof import("@smithy/eventstream-codec");
    const { fromUtf8, toUtf8 } = require("@smithy/util-utf8") as typeof import("@smithy/util-utf8");
    newCodec = () => new EventStreamCodec(toUtf8, fromUtf8);
  }
  return newCodec();
}

/**
 * Each message becomes { event, data }: `event` is the :event-type of an event, the :exception-type
 * of an exception ("throttlingException"), or "error" for a `:message-type error` frame (whose
 * :error-code and :error-message are carried as `{"__type", "message"}`); `data` is the payload.
 */
export function createBedrockStreamDecoder(label = ""): StreamDecoder {
  const prefix = label ? `${label}: ` : "";
  const frameCodec = codec();
  let buf: Uint8Array = new Uint8Array(0);

  function frames(): SseEvent[] {
    const out: SseEvent[] = [];
    while (buf.length >= 4) {
      const total = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0, false);
      if (total < MIN_FRAME || total > MAX_FRAME) throw corrupt(prefix, `impossible frame length ${total}`);
      if (buf.length < total) break;
      let msg;
      try {
        msg = frameCodec.decode(buf.subarray(0, total));
      } catch (err) {
        throw corrupt(prefix, `undecodable frame (${(err as Error).message})`, err);
      }
      buf = buf.subarray(total);
      const h = (name: string) => {
        const v = msg.headers[name]?.value;
        return typeof v === "string" ? v : undefined;
      };
      const type = h(":message-type") ?? "event";
      const data = Buffer.from(msg.body.buffer, msg.body.byteOffset, msg.body.byteLength).toString("utf8");
      if (type === "exception") out.push({ event: h(":exception-type") ?? "exception", data });
      else if (type === "error") out.push({ event: "error", data: JSON.stringify({ __type: h(":error-code") ?? "", message: h(":error-message") ?? "" }) });
      else out.push({ event: h(":event-type") ?? "", data });
    }
    // Keep the remainder in its own small buffer so the consumed prefix can be collected.
    if (buf.byteOffset > 0 && buf.length > 0) buf = new Uint8Array(buf);
    return out;
  }

  return {
    push(chunk) {
      if (chunk.length === 0) return [];
      if (buf.length === 0) buf = chunk;
      else {
        const next = new Uint8Array(buf.length + chunk.length);
        next.set(buf, 0);
        next.set(chunk, buf.length);
        buf = next;
      }
      return frames();
    },
    end() {
      const out = frames();
      if (buf.length > 0) throw corrupt(prefix, `body ended inside a frame (${buf.length} bytes left over)`);
      return out;
    },
  };
}
