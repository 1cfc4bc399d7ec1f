import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { ControlClient } from "../../src/client/control.ts";
import { ProtocolError } from "../../src/errors.ts";
import { redactWrites } from "../../src/cli/redacted-output.ts";
import { ProgressTracker, rawJsonWriter, StatusRedactor, type ProgressEvent } from "../../src/progress/index.ts";
import type { Moby_Buildkit_V1_StatusResponse as StatusResponse } from "../../src/proto/generated.ts";
import { Redactor, SecretStore, isRedactable, maxEncodedBytes, maxSecretBytes, minRedactedLength } from "../../src/secrets/index.ts";
import { followStatus } from "../../src/solve/status.ts";

const secret = "tok/en+va:lue@9Zq y~x";
const b64 = (s: string) => Buffer.from(s).toString("base64");
const hex = (s: string) => Buffer.from(s).toString("hex");

/** Every piece of `encoded` that is `min` characters long: none may survive redaction. */
function pieces(encoded: string, min = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i + min <= encoded.length; i++) out.push(encoded.slice(i, i + min));
  return out;
}

function redactorOf(...values: string[]): Redactor {
  const redactor = new Redactor();
  for (const value of values) redactor.add(value);
  return redactor;
}

describe("Redactor", () => {
  it("hides a value wherever it appears in a line", () => {
    const r = redactorOf(secret);
    expect(r.redact(`token=${secret}; again ${secret}!`)).toBe("token=***; again ***!");
    expect(r.redact("nothing here")).toBe("nothing here");
  });

  it("hides base64 of a value at each of the three alignments inside a longer encoded string, and base64url", () => {
    const r = redactorOf(secret);
    // The core of the value's encoding (the characters that depend on it alone) differs with the offset.
    const core = (prefix: string) => {
      const encoded = b64(prefix + secret);
      return encoded.slice(Math.ceil((prefix.length * 8) / 6), Math.floor(((prefix.length + secret.length) * 8) / 6));
    };
    for (const prefix of ["", "u", "us", "user:", "Basic user:"]) {
      for (const suffix of ["", "\n", ":tail"]) {
        const encoded = b64(prefix + secret + suffix);
        const shown = r.redact(`Authorization: ${encoded}`);
        expect(shown, `${prefix}|${suffix}`).toContain("***");
        expect(shown, `${prefix}|${suffix}`).not.toContain(core(prefix));
        for (const piece of pieces(core(prefix))) expect(shown).not.toContain(piece);
      }
    }
    const url = Buffer.from(`x${secret}`).toString("base64url");
    expect(r.redact(url)).not.toContain(url.slice(2, 20));
  });

  it("hides the URL-encoded, hex and JSON-escaped forms", () => {
    const quoted = 'pa"ss\\word-1';
    const r = redactorOf(secret, quoted);
    const shown = r.redact(
      [`https://me:${encodeURIComponent(secret)}@host/`, encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()), new URLSearchParams({ t: secret }).toString(), hex(secret), hex(secret).toUpperCase(), JSON.stringify({ quoted })].join(" "),
    );
    expect(shown).toBe("https://me:***@host/ *** t=*** *** *** {\"quoted\":\"***\"}");
  });

  it("hides each line of a multi-line value, and the value without its final newline", () => {
    const netrc = "machine example.com\nlogin robot\npassword hunter2-x\n";
    const r = redactorOf(netrc);
    expect(r.redact("line: password hunter2-x")).toBe("line: ***");
    expect(r.redact("machine example.com")).toBe("***");
    expect(r.redact(b64(netrc))).not.toContain(b64(netrc).slice(4, 40));
    expect(redactorOf("abcd1234\n").redact("value abcd1234 end")).toBe("value *** end");
  });

  it("hides the pieces of a long value's base64 that a line wrap cut apart", () => {
    const long = `github_pat_${"A1b2C3d4E5".repeat(9)}`;
    const r = redactorOf(long);
    for (const prefix of ["", "x", "user:"]) {
      const wrapped = b64(prefix + long).replace(/.{76}/g, "$&\n");
      const shown = wrapped.split("\n").map((line) => r.redact(line));
      expect(shown.join("\n")).toContain("***");
      for (const piece of pieces(b64(prefix + long).slice(8), 9)) expect(shown.join("\n")).not.toContain(piece);
    }
  });

  it(`leaves values shorter than ${minRedactedLength} characters alone, so short words stay readable`, () => {
    const r = new Redactor();
    expect(r.add("abc")).toBe(false);
    expect(r.active).toBe(false);
    expect(r.redact("abc abcd")).toBe("abc abcd");
    expect(isRedactable("abc")).toBe(false);
    expect(isRedactable("abcd")).toBe(true);
    expect(r.add("abcd")).toBe(true);
    expect(r.redact("abc abcd")).toBe("abc ***");
  });

  it("hides a value as large as the largest secret served (500 KiB); its encodings only up to 4 KiB", () => {
    const big = randomBytes(maxSecretBytes / 2).toString("hex");
    const key = randomBytes(maxEncodedBytes / 2).toString("hex");
    const r = redactorOf(big, key);
    expect(r.redact(`start ${big} end`)).toBe("start *** end");
    expect(r.redact(encodeURIComponent(`=${big}`))).toBe("%3D***");
    expect(r.redact(b64(key))).toBe("***");
    expect(r.redact(b64(big).slice(0, 100))).toBe(b64(big).slice(0, 100));
  });

  it("splits a long streamed text so that no value straddles the part shown now and the part held", () => {
    const r = redactorOf(secret);
    const text = `${"x".repeat(100)}${secret}${"y".repeat(5)}`;
    for (let end = 90; end <= text.length; end++) {
      const [now, later] = r.splitStreamed(text.slice(0, end));
      expect(now + later).toBe(text.slice(0, end));
      expect(r.redact(now) + r.redact(later + text.slice(end))).not.toContain(secret.slice(0, 6));
    }
  });
});

describe("SecretStore", () => {
  it("teaches every value it reads to its redactor", async () => {
    const store = new SecretStore([{ kind: "env", id: "t", env: "T", origin: "test" }], { T: "value-1234" });
    expect(store.redactor.redact("value-1234")).toBe("value-1234");
    await store.read("t");
    expect(store.redactor.redact("is value-1234")).toBe("is ***");
  });
});

const ts = (seconds: number, nanos = 0) => ({ seconds, nanos });
const log = (text: string | Buffer, seconds: number, vertex = "v") => ({ vertex, stream: 1, timestamp: ts(seconds), msg: typeof text === "string" ? Buffer.from(text) : text });
const linesOf = (events: ProgressEvent[]) => events.flatMap((e) => (e.kind === "log" ? [e.line] : []));

describe("StatusRedactor", () => {
  it("hides a value that the daemon cut between two log chunks, keeping every other byte", () => {
    const redaction = new StatusRedactor(redactorOf(secret));
    const tracker = new ProgressTracker();
    tracker.update({ vertexes: [{ digest: "v", name: "step", started: ts(1) }] });
    const cut = 7;
    const messages = [
      { logs: [log(`one\nsecret is ${secret.slice(0, cut)}`, 1)] },
      { logs: [log(`${secret.slice(cut)} ok\ntwo`, 2)] },
    ];
    const out = messages.map((m) => redaction.redact(m));
    const rest = redaction.flush();
    const shown = [...out, ...(rest ? [rest] : [])].flatMap((m) => (m.logs ?? []).map((l) => Buffer.from(l.msg!).toString()));
    expect(shown.join("")).toBe("one\nsecret is *** ok\ntwo");
    for (const m of [...out, ...(rest ? [rest] : [])]) tracker.update(m);
    expect(tracker.all[0]!.logTail).toEqual(["one", "secret is *** ok"]);
  });

  it("hides values in step names, errors and warnings", () => {
    const redaction = new StatusRedactor(redactorOf(secret));
    const out = redaction.redact({
      vertexes: [{ digest: "v", name: `echo ${secret}`, error: `failed with ${secret}` }],
      warnings: [{ vertex: "v", short: Buffer.from(`w ${secret}`), detail: [Buffer.from(secret)] }],
    });
    expect(JSON.stringify(out)).not.toContain(secret.slice(0, 8));
    expect(out.vertexes![0]!.name).toBe("echo ***");
    expect(out.vertexes![0]!.error).toBe("failed with ***");
    expect(Buffer.from(out.warnings![0]!.short!).toString()).toBe("w ***");
  });

  it("passes a line without a break on once it is long, holding back only what may begin a value", () => {
    const redaction = new StatusRedactor(redactorOf(secret));
    const big = "z".repeat(70_000);
    const first = redaction.redact({ logs: [log(`${big}${secret.slice(0, 5)}`, 1)] });
    const shownFirst = Buffer.from(first.logs![0]!.msg!).toString();
    expect(shownFirst.length).toBeGreaterThan(60_000);
    const second = redaction.redact({ logs: [log(`${secret.slice(5)}\n`, 2)] });
    expect(shownFirst + Buffer.from(second.logs![0]!.msg!).toString()).toBe(`${big}***\n`);
  });

  it("keeps a multi-byte character cut between chunks", () => {
    const redaction = new StatusRedactor(redactorOf(secret));
    const bytes = Buffer.from("é\n");
    const out = [redaction.redact({ logs: [log(bytes.subarray(0, 1), 1)] }), redaction.redact({ logs: [log(bytes.subarray(1), 2)] })];
    expect(out.flatMap((m) => m.logs ?? []).map((l) => Buffer.from(l.msg!).toString()).join("")).toBe("é\n");
  });
});

describe("rawjson", () => {
  it("writes log bytes as base64", () => {
    const lines: string[] = [];
    rawJsonWriter((l) => lines.push(l))("app", { logs: [log("hello\n", 1)], warnings: [{ short: Buffer.from("careful") }] });
    const parsed = JSON.parse(lines[0]!) as { job: string; logs: Array<{ msg: string }>; warnings: Array<{ short: string }> };
    expect(parsed.job).toBe("app");
    expect(typeof parsed.logs[0]!.msg).toBe("string");
    expect(Buffer.from(parsed.logs[0]!.msg, "base64").toString()).toBe("hello\n");
    expect(Buffer.from(parsed.warnings[0]!.short, "base64").toString()).toBe("careful");
  });
});

describe("redactWrites", () => {
  it("hides known values in every write, strings and bytes, and leaves bytes untouched while it knows none", () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    const redactor = new Redactor();
    redactWrites(stream, redactor);
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
    stream.write(binary);
    redactor.add(secret);
    stream.write(`error: ${secret}\n`);
    stream.write(Buffer.from(`hint: ${secret}\n`));
    stream.write(binary);
    const out = Buffer.concat(chunks);
    expect(out.subarray(0, 4)).toEqual(binary);
    expect(out.subarray(4, -4).toString()).toBe("error: ***\nhint: ***\n");
    expect(out.subarray(-4)).toEqual(binary);
  });
});

/** A Control client whose Status stream is scripted: each call yields its messages, then fails with `error` if given. */
function scriptedControl(calls: Array<{ messages: StatusResponse[]; error?: Error }>): { control: ControlClient; opened: () => number } {
  let opened = 0;
  const control = {
    async *status(_ref: string, signal?: AbortSignal) {
      const call = calls[opened++];
      if (!call) throw new Error("no more streams");
      for (const message of call.messages) {
        if (signal?.aborted) throw new Error("aborted");
        yield message;
      }
      if (call.error) throw call.error;
    },
  } as unknown as ControlClient;
  return { control, opened: () => opened };
}

describe("followStatus", () => {
  const running = { digest: "v", name: "step", started: ts(1) };
  const done = { ...running, completed: ts(5) };

  it("warns, naming the job, when the Status stream fails, and reopens it: the final state arrives and no log line is shown twice", async () => {
    const { control, opened } = scriptedControl([
      { messages: [{ vertexes: [running] }, { logs: [log("first\n", 2)] }], error: new Error("connection reset") },
      // The reopened stream repeats what was sent (the daemon replays a finished build's record).
      { messages: [{ vertexes: [running] }, { logs: [log("first\n", 2)] }, { logs: [log("second\nthird", 3)] }, { vertexes: [done] }] },
    ]);
    const warnings: string[] = [];
    const events: ProgressEvent[] = [];
    const { tracker, done: finished } = followStatus(control, "ref", "app", new AbortController().signal, {
      onWarning: (m) => warnings.push(m),
      onEvent: (_job, e) => events.push(e),
    });
    await finished;
    expect(opened()).toBe(2);
    expect(warnings).toEqual(["progress of app was interrupted (connection reset); reconnecting"]);
    expect(linesOf(events)).toEqual(["first", "second", "third"]);
    expect(tracker.all[0]!.completed).toBe(5000);
    expect(tracker.summary()).toEqual({ total: 1, completed: 1, cached: 0, errored: 0 });
  });

  it("says so when the stream cannot be reopened, and keeps what it had (partial lines included)", async () => {
    const failure = { messages: [], error: new Error("daemon gone") };
    const { control, opened } = scriptedControl([{ messages: [{ vertexes: [running] }, { logs: [log("half a line", 2)] }], error: new Error("daemon gone") }, failure, failure, failure]);
    const warnings: string[] = [];
    const events: ProgressEvent[] = [];
    const { tracker, done: finished } = followStatus(control, "ref", "app", new AbortController().signal, {
      onWarning: (m) => warnings.push(m),
      onEvent: (_job, e) => events.push(e),
    });
    await finished;
    expect(opened()).toBe(4);
    expect(warnings.at(-1)).toBe("progress of app stopped: daemon gone; the build goes on, and its outcome is reported when it ends");
    expect(warnings.filter((w) => w.includes("reconnecting"))).toHaveLength(3);
    expect(linesOf(events)).toEqual(["half a line"]);
    expect(tracker.all[0]!.name).toBe("step");
  });

  it("reports a Status message it cannot read at once, without reopening the stream to read it again", async () => {
    const unreadable = new ProtocolError("DAEMON_PROTOCOL", "the daemon at unix:///d.sock answered Status with a message brewkit cannot read: truncated");
    const { control, opened } = scriptedControl([{ messages: [{ vertexes: [running] }], error: unreadable }, { messages: [{ vertexes: [done] }] }]);
    const warnings: string[] = [];
    const { tracker, done: finished } = followStatus(control, "ref", "app", new AbortController().signal, { onWarning: (m) => warnings.push(m) });
    await finished;
    expect(opened()).toBe(1);
    expect(warnings).toEqual([`progress of app stopped: ${unreadable.message}; the build goes on, and its outcome is reported when it ends`]);
    expect(tracker.all[0]!.name).toBe("step");
  });

  it("stays quiet when the stream ends because the build was cancelled", async () => {
    const abort = new AbortController();
    abort.abort();
    const { control } = scriptedControl([{ messages: [], error: new Error("cancelled") }]);
    const warnings: string[] = [];
    await followStatus(control, "ref", "app", abort.signal, { onWarning: (m) => warnings.push(m) }).done;
    expect(warnings).toEqual([]);
  });

  it("hides secret values from the tracker and the raw listener", async () => {
    const { control } = scriptedControl([{ messages: [{ vertexes: [running] }, { logs: [log(`the ${secret.slice(0, 4)}`, 2)] }, { logs: [log(`${secret.slice(4)} is out\n`, 3)] }, { vertexes: [done] }] }]);
    const raw: string[] = [];
    const { tracker, done: finished } = followStatus(control, "ref", "app", new AbortController().signal, {
      redactor: redactorOf(secret),
      onStatus: (_job, m) => rawJsonWriter((l) => raw.push(l))("app", m),
    });
    await finished;
    expect(tracker.all[0]!.logTail).toEqual(["the *** is out"]);
    const logged = raw.flatMap((l) => (JSON.parse(l) as { logs?: Array<{ msg: string }> }).logs ?? []).map((l) => Buffer.from(l.msg, "base64").toString());
    expect(logged.join("")).toBe("the *** is out\n");
  });
});
