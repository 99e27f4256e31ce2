// Audio for the fakes: WAVs that "say" a sentence (the text rides in a RIFF LIST/INFO/ICMT comment, so
// transcribing one hears it back), what the fake transcription service hears in an upload, the timing of
// what it heard (segments, words, SRT, WebVTT), the speech it makes (WAV, PCM, silent MP3 frames, and
// placeholder Opus/AAC/FLAC bytes), multipart parsing, and the raw bytes of a request body.

/** Sample rate of the speech the fake makes (OpenAI's TTS: 24 kHz, 16-bit, mono). */
export const TTS_SAMPLE_RATE = 24_000;
/** Speech lasts this long per character of input (at speed 1) … */
export const TTS_SECONDS_PER_CHAR = 0.06;
/** … up to this many seconds. */
export const TTS_MAX_SECONDS = 30;
/** What the fake hears in a file without a WAV comment. */
export const DEFAULT_HEARD_TEXT = 'Hello from the fake transcription service.';
/** A file that is not a WAV lasts its size over this (16 kB/s, i.e. 128 kbit/s). */
export const NON_WAV_BYTES_PER_SECOND = 16_000;

// ---------------------------------------------------------------------------------------------
// WAV

/** A quiet 440 Hz sine tone, 16-bit little-endian mono samples. */
export function pcmTone(seconds: number, sampleRate = TTS_SAMPLE_RATE): Buffer {
  const n = Math.max(0, Math.round(seconds * sampleRate));
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(1600 * Math.sin((2 * Math.PI * 440 * i) / sampleRate)), i * 2);
  return out;
}

/** A RIFF/WAVE file around 16-bit mono PCM samples: `fmt `, then (with a comment) `LIST`/`INFO`/`ICMT`, then `data`. */
export function wavFromPcm(pcm: Buffer, o: { sampleRate?: number; comment?: string } = {}): Buffer {
  const rate = o.sampleRate ?? TTS_SAMPLE_RATE;
  const chunk = (id: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(data.length, 4);
    return Buffer.concat([head, data, Buffer.alloc(data.length % 2)]); // chunks are padded to an even length
  };
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(1, 0); // PCM
  fmt.writeUInt16LE(1, 2); // mono
  fmt.writeUInt32LE(rate, 4);
  fmt.writeUInt32LE(rate * 2, 8); // byte rate
  fmt.writeUInt16LE(2, 12); // block align
  fmt.writeUInt16LE(16, 14); // bits per sample
  const parts = [chunk('fmt ', fmt)];
  if (o.comment !== undefined) {
    const icmt = chunk('ICMT', Buffer.concat([Buffer.from(o.comment, 'utf8'), Buffer.alloc(1)])); // NUL-terminated
    parts.push(chunk('LIST', Buffer.concat([Buffer.from('INFO', 'latin1'), icmt])));
  }
  parts.push(chunk('data', pcm));
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...parts]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/**
 * A WAV (24 kHz, 16-bit mono, a quiet sine tone) lasting `seconds` that "says" `text`: the fake
 * transcription service hears the text of its `ICMT` comment. Upload it to make a transcription predictable.
 */
export function wavWithText(text: string, seconds: number): Buffer {
  return wavFromPcm(pcmTone(seconds), { comment: text });
}

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  byteRate: number;
  /** The sample bytes of the `data` chunk. */
  data: Buffer;
  seconds: number;
  /** The `LIST`/`INFO`/`ICMT` comment, without its NUL terminator. */
  comment?: string;
}

/** Read a RIFF/WAVE file's format, samples and comment; null when `bytes` is not one. A `data` size of
 *  0xFFFFFFFF (a streamed WAV) or past the end means "to the end of the file". */
export function readWav(bytes: Buffer): WavInfo | null {
  if (bytes.length < 12 || bytes.toString('latin1', 0, 4) !== 'RIFF' || bytes.toString('latin1', 8, 12) !== 'WAVE') return null;
  let fmt: Buffer | undefined;
  let data: Buffer | undefined;
  let comment: string | undefined;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = bytes.toString('latin1', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    const body = bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + size));
    if (id === 'fmt ') fmt = body;
    else if (id === 'data') data = body;
    else if (id === 'LIST' && body.toString('latin1', 0, 4) === 'INFO') {
      for (let k = 4; k + 8 <= body.length; ) {
        const sub = body.toString('latin1', k, k + 4);
        const len = body.readUInt32LE(k + 4);
        if (sub === 'ICMT') {
          const raw = body.subarray(k + 8, k + 8 + len);
          const nul = raw.indexOf(0);
          comment = raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8');
        }
        k += 8 + len + (len % 2);
      }
    }
    at += 8 + size + (size % 2);
  }
  if (!fmt || fmt.length < 16 || !data) return null;
  const byteRate = fmt.readUInt32LE(8);
  return {
    sampleRate: fmt.readUInt32LE(4),
    channels: fmt.readUInt16LE(2),
    bitsPerSample: fmt.readUInt16LE(14),
    byteRate,
    data,
    seconds: byteRate > 0 ? data.length / byteRate : 0,
    ...(comment === undefined ? {} : { comment }),
  };
}

/** What the fake transcription service hears in an uploaded file: a WAV's length from its header and
 *  its ICMT comment (else DEFAULT_HEARD_TEXT); any other file lasts bytes / NON_WAV_BYTES_PER_SECOND. */
export function hearAudio(bytes: Buffer): { seconds: number; text: string; wav: boolean } {
  const wav = readWav(bytes);
  if (wav) return { seconds: wav.seconds, text: wav.comment ?? DEFAULT_HEARD_TEXT, wav: true };
  return { seconds: bytes.length / NON_WAV_BYTES_PER_SECOND, text: DEFAULT_HEARD_TEXT, wav: false };
}

// ---------------------------------------------------------------------------------------------
// Timing of what was heard

export interface TimedSegment {
  start: number;
  end: number;
  /** The sentence, trimmed (Whisper's segment JSON adds a leading space; SRT and WebVTT do not). */
  text: string;
  words: Array<{ word: string; start: number; end: number }>;
}

const ms = (x: number) => Math.round(x * 1000) / 1000;

/** The text's sentences (ending in . ! or ?), in order; the whole text when it has no sentence end. */
export function sentencesOf(text: string): string[] {
  const found = (text.match(/[^.!?]+(?:[.!?]+|$)/g) ?? []).map((s) => s.trim()).filter(Boolean);
  return found.length ? found : [text.trim()];
}

/** One segment per sentence, spread evenly over `seconds`; within a segment its words (punctuation
 *  stripped, as Whisper's word timestamps are) spread evenly too. Times in seconds, to the millisecond. */
export function timedSegments(text: string, seconds: number): TimedSegment[] {
  const sentences = sentencesOf(text);
  const span = seconds / sentences.length;
  return sentences.map((s, i) => {
    const start = i * span;
    const words = s.split(/\s+/u).map((w) => w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '')).filter(Boolean);
    const step = span / Math.max(1, words.length);
    return {
      start: ms(start),
      end: ms(start + span),
      text: s,
      words: words.map((word, k) => ({ word, start: ms(start + k * step), end: ms(start + (k + 1) * step) })),
    };
  });
}

function clock(seconds: number, sep: ',' | '.'): string {
  const total = Math.round(seconds * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(Math.floor(total / 3_600_000))}:${pad(Math.floor(total / 60_000) % 60)}:${pad(Math.floor(total / 1000) % 60)}${sep}${pad(total % 1000, 3)}`;
}

/** SubRip: `1\n00:00:00,000 --> 00:00:02,000\ntext\n\n` per segment. */
export function toSrt(segments: TimedSegment[]): string {
  return segments.map((s, i) => `${i + 1}\n${clock(s.start, ',')} --> ${clock(s.end, ',')}\n${s.text}\n\n`).join('');
}

/** WebVTT: `WEBVTT\n\n`, then `00:00:00.000 --> 00:00:02.000\ntext\n\n` per segment. */
export function toVtt(segments: TimedSegment[]): string {
  return `WEBVTT\n\n${segments.map((s) => `${clock(s.start, '.')} --> ${clock(s.end, '.')}\n${s.text}\n\n`).join('')}`;
}

// ---------------------------------------------------------------------------------------------
// Speech

export type SpeechFormat = 'mp3' | 'opus' | 'aac' | 'flac' | 'wav' | 'pcm';

export const SPEECH_CONTENT_TYPES: Readonly<Record<SpeechFormat, string>> = {
  mp3: 'audio/mpeg',
  opus: 'audio/opus',
  aac: 'audio/aac',
  flac: 'audio/flac',
  wav: 'audio/wav',
  pcm: 'audio/pcm',
};

/** One silent MPEG-1 Layer III frame: 128 kbit/s, 44.1 kHz, joint stereo, no padding (417 bytes, 1152
 *  samples), all side information and main data zero. */
export const MP3_SILENT_FRAME: Buffer = Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), Buffer.alloc(413)]);
export const MP3_FRAME_SECONDS = 1152 / 44_100;

/** How long the fake's speech of `input` lasts: TTS_SECONDS_PER_CHAR a character (code point) over `speed`, at most TTS_MAX_SECONDS. */
export function speechSeconds(input: string, speed = 1): number {
  return Math.min(TTS_MAX_SECONDS, ([...input].length * TTS_SECONDS_PER_CHAR) / speed);
}

/**
 * The fake's speech of `input` in `format`. `wav` is a real WAV (wavWithText: transcribing it gives `input`
 * back); `pcm` its samples, raw; `mp3` silent MPEG frames covering the duration (decodable as silence).
 * `opus`, `aac` and `flac` are NOT decodable: their container's magic (Ogg `OggS` … `OpusHead`, an ADTS
 * header, `fLaC`), then zeros, 8,000 bytes a second.
 */
export function speechAudio(input: string, format: SpeechFormat, speed = 1): { bytes: Buffer; seconds: number; contentType: string } {
  const seconds = speechSeconds(input, speed);
  const filler = (head: Buffer) => Buffer.concat([head, Buffer.alloc(Math.max(64, Math.round(seconds * 8000)))]);
  let bytes: Buffer;
  switch (format) {
    case 'wav':
      bytes = wavWithText(input, seconds);
      break;
    case 'pcm':
      bytes = pcmTone(seconds);
      break;
    case 'mp3':
      bytes = Buffer.concat(Array.from({ length: Math.max(1, Math.ceil(seconds / MP3_FRAME_SECONDS)) }, () => MP3_SILENT_FRAME));
      break;
    case 'opus': {
      const page = Buffer.alloc(28);
      page.write('OggS', 0, 'latin1');
      page[5] = 0x02; // beginning of stream
      bytes = filler(Buffer.concat([page, Buffer.from('OpusHead', 'latin1')]));
      break;
    }
    case 'aac':
      bytes = filler(Buffer.from([0xff, 0xf1, 0x58, 0x40, 0x00, 0x1f, 0xfc])); // ADTS: MPEG-4 AAC LC, 24 kHz, mono
      break;
    case 'flac':
      bytes = filler(Buffer.from('fLaC', 'latin1'));
      break;
  }
  return { bytes, seconds, contentType: SPEECH_CONTENT_TYPES[format] };
}

// ---------------------------------------------------------------------------------------------
// Multipart bodies

export interface UploadedFile {
  filename: string;
  /** The part's Content-Type (`application/octet-stream` when it had none). */
  type: string;
  size: number;
  bytes: Buffer;
}

/** A multipart/form-data body's parts in order, parsed by the web platform (undici's Response.formData()). */
export async function parseMultipart(bytes: Buffer, contentType: string): Promise<Array<[name: string, value: string | UploadedFile]>> {
  const form = await new Response(new Uint8Array(bytes), { headers: { 'content-type': contentType } }).formData();
  const out: Array<[string, string | UploadedFile]> = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') {
      out.push([name, value]);
      continue;
    }
    const data = Buffer.from(await value.arrayBuffer());
    out.push([name, { filename: value.name, type: value.type || 'application/octet-stream', size: data.length, bytes: data }]);
  }
  return out;
}

