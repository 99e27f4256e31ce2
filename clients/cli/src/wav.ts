// A WAV file written as PCM arrives (the Realtime API's audio: 16-bit little-endian samples, mono,
// 24 kHz): a 44-byte header with sizes of 0 first, the samples appended as they come, then the
// header again with the real sizes. Nothing is held in memory however long the session.

import { closeSync, openSync, writeSync } from "node:fs";

/** The canonical 44-byte header of a PCM WAV file holding `dataBytes` of samples. */
export function wavHeader(dataBytes: number, rate = 24_000, channels = 1, bits = 16): Buffer {
  const h = Buffer.alloc(44);
  const block = channels * (bits / 8);
  h.write("RIFF", 0, "ascii");
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write("WAVE", 8, "ascii");
  h.write("fmt ", 12, "ascii");
  h.writeUInt32LE(16, 16); // the fmt chunk's size
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * block, 28); // bytes a second
  h.writeUInt16LE(block, 32);
  h.writeUInt16LE(bits, 34);
  h.write("data", 36, "ascii");
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

export interface WavWriter {
  readonly path: string;
  /** Append samples (a chunk may end mid-sample: the odd byte waits for the next). */
  write(pcm: Buffer): void;
  /** Write the final header and close the file: how much audio it holds. */
  finish(): { bytes: number; seconds: number };
}

/** Bytes of PCM16 a data chunk may hold (its size is 32 bits, the RIFF size too). */
const MAX_DATA = 0xffff_ffff - 36 - 1;

/** Create (or truncate) `path` as a mono 16-bit WAV at `rate`; throws as the file system does. */
export function createWav(path: string, rate = 24_000): WavWriter {
  const fd = openSync(path, "w");
  writeSync(fd, wavHeader(0, rate));
  let bytes = 0;
  let odd: Buffer | undefined;
  let open = true;
  return {
    path,
    write(pcm) {
      if (!open) return;
      let b = odd ? Buffer.concat([odd, pcm]) : pcm;
      odd = b.length % 2 ? b.subarray(b.length - 1) : undefined;
      if (odd) b = b.subarray(0, b.length - 1);
      b = b.subarray(0, Math.max(0, MAX_DATA - bytes));
      if (b.length === 0) return;
      writeSync(fd, b);
      bytes += b.length;
    },
    finish() {
      if (open) {
        open = false;
        try {
          writeSync(fd, wavHeader(bytes, rate), 0, 44, 0);
        } finally {
          closeSync(fd);
        }
      }
      return { bytes, seconds: bytes / (rate * 2) };
    },
  };
}
