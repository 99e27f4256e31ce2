// The mock's audio: speech is a real recording (WAV or raw PCM: 24 kHz, 16-bit, mono, a quiet tone
// about 60 ms a character; MP3: that long in silent MPEG-1 Layer III frames) that carries the text
// it "says" in the WAV's LIST/INFO comment (ICMT) or the MP3's ID3 comment; transcription reads a
// recording's comment back (so speaking and then transcribing round-trips the text) and otherwise
// says how long the recording is. Durations come from the WAV header, or from the MP3 frames.

const RATE = 24_000;
const MS_PER_CHAR = 60;
const MAX_SECONDS = 30;

/** Seconds of mock speech for `text`. */
export const mockSpeechSeconds = (text: string): number => Math.min(MAX_SECONDS, Math.max(0.5, (text.length * MS_PER_CHAR) / 1000));

function pcmTone(seconds: number): Buffer {
  const n = Math.round(seconds * RATE);
  const pcm = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(1200 * Math.sin((2 * Math.PI * 220 * i) / RATE)), i * 2);
  return pcm;
}

/** A RIFF chunk: id, little-endian size, data, padded to an even length. */
function chunk(id: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, "ascii");
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, data.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/** A WAV of `seconds` of tone whose LIST/INFO/ICMT comment is `text`. */
export function wavWithText(text: string, seconds = mockSpeechSeconds(text)): Buffer {
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(1, 0); // PCM
  fmt.writeUInt16LE(1, 2); // mono
  fmt.writeUInt32LE(RATE, 4);
  fmt.writeUInt32LE(RATE * 2, 8);
  fmt.writeUInt16LE(2, 12);
  fmt.writeUInt16LE(16, 14);
  const info = Buffer.concat([Buffer.from("INFO", "ascii"), chunk("ICMT", Buffer.from(`${text}\0`, "utf8"))]);
  const body = Buffer.concat([Buffer.from("WAVE", "ascii"), chunk("fmt ", fmt), chunk("LIST", info), chunk("data", pcmTone(seconds))]);
  return chunk("RIFF", body);
}

/** Raw PCM (24 kHz, 16-bit little-endian, mono) of the same tone. */
export const pcmFor = (text: string): Buffer => pcmTone(mockSpeechSeconds(text));

// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding, mono: 417 bytes and 1152 samples a frame.
const MP3_FRAME = (() => {
  const f = Buffer.alloc(417);
  f.set([0xff, 0xfb, 0x90, 0xc4]);
  return f;
})();
const MP3_FRAME_SECONDS = 1152 / 44_100;

/** An ID3v2.3 tag holding one COMM (comment) frame. */
function id3Comment(text: string): Buffer {
  const payload = Buffer.concat([Buffer.from([3]), Buffer.from("eng", "ascii"), Buffer.from([0]), Buffer.from(text, "utf8")]); // UTF-8, language, empty description
  const frame = Buffer.alloc(10);
  frame.write("COMM", 0, "ascii");
  frame.writeUInt32BE(payload.length, 4);
  const size = 10 + payload.length;
  const head = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, (size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
  return Buffer.concat([head, frame, payload]);
}

/** An MP3 of silent frames, as long as the text takes to say, tagged with the text. */
export function mp3WithText(text: string): Buffer {
  const frames = Math.ceil(mockSpeechSeconds(text) / MP3_FRAME_SECONDS);
  return Buffer.concat([id3Comment(text), ...Array.from({ length: frames }, () => MP3_FRAME)]);
}

/** What the mock hears in a recording: its comment's text (WAV or MP3 made as above) and its length, when it can tell. */
export function readRecording(audio: Uint8Array): { text?: string; seconds?: number } {
  const b = Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength);
  if (b.length >= 12 && b.toString("ascii", 0, 4) === "RIFF" && b.toString("ascii", 8, 12) === "WAVE") {
    let text: string | undefined;
    let byteRate = 0;
    let dataBytes = 0;
    for (let at = 12; at + 8 <= b.length; ) {
      const id = b.toString("ascii", at, at + 4);
      const size = b.readUInt32LE(at + 4);
      const start = at + 8;
      if (id === "fmt " && size >= 16) byteRate = b.readUInt32LE(start + 8);
      else if (id === "data") dataBytes = Math.min(size, b.length - start);
      else if (id === "LIST" && b.toString("ascii", start, start + 4) === "INFO") {
        for (let p = start + 4; p + 8 <= start + size; ) {
          const sid = b.toString("ascii", p, p + 4);
          const ssize = b.readUInt32LE(p + 4);
          if (sid === "ICMT") text = b.toString("utf8", p + 8, p + 8 + ssize).replace(/\0+$/, "");
          p += 8 + ssize + (ssize % 2);
        }
      }
      at = start + size + (size % 2);
    }
    return { ...(text !== undefined ? { text } : {}), ...(byteRate ? { seconds: dataBytes / byteRate } : {}) };
  }
  if (b.length >= 10 && b.toString("ascii", 0, 3) === "ID3") {
    const size = ((b[6] & 0x7f) << 21) | ((b[7] & 0x7f) << 14) | ((b[8] & 0x7f) << 7) | (b[9] & 0x7f);
    let text: string | undefined;
    for (let p = 10; p + 10 <= 10 + size; ) {
      const id = b.toString("ascii", p, p + 4);
      const fsize = b.readUInt32BE(p + 4);
      if (fsize === 0) break;
      if (id === "COMM" && b[p + 10] === 3) text = b.toString("utf8", p + 15, p + 10 + fsize);
      p += 10 + fsize;
    }
    const frames = Math.floor((b.length - 10 - size) / MP3_FRAME.length);
    return { ...(text !== undefined ? { text } : {}), seconds: frames * MP3_FRAME_SECONDS };
  }
  return {};
}
