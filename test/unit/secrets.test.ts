import { execFileSync, spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BrewkitError, UserInputError } from "../../src/errors.ts";
import {
  SecretStore,
  loadSecretStore,
  loadSecretsConfig,
  maxSecretBytes,
  parseSecretFlag,
  parseSecretFlags,
  userConfigPath,
} from "../../src/secrets/index.ts";

let dir: string;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "brewkit-secrets-"));
});

afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** Runs `fn`, expecting a BrewkitError, and returns it. */
function thrown(fn: () => unknown): BrewkitError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BrewkitError);
    return err as BrewkitError;
  }
  throw new Error("expected an error");
}

async function rejected(promise: Promise<unknown>): Promise<BrewkitError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(BrewkitError);
    return err as BrewkitError;
  }
  throw new Error("expected a rejection");
}

describe("parseSecretFlag", () => {
  const context = { cwd: "/srv/app", env: { SET_VAR: "x" } };

  it("reads id=,env=", () => {
    expect(parseSecretFlag("id=npm,env=NPM_TOKEN", context)).toEqual({
      kind: "env",
      id: "npm",
      env: "NPM_TOKEN",
      origin: "--secret id=npm,env=NPM_TOKEN",
    });
  });

  it("reads src= and source=, resolving relative paths against cwd", () => {
    expect(parseSecretFlag("id=netrc,src=/home/u/.netrc", context)).toMatchObject({ kind: "file", id: "netrc", path: "/home/u/.netrc" });
    expect(parseSecretFlag("id=netrc,source=conf/netrc", context)).toMatchObject({ kind: "file", path: "/srv/app/conf/netrc" });
  });

  it("accepts keys in any case and order", () => {
    expect(parseSecretFlag("ENV=TOKEN,Id=npm", context)).toMatchObject({ kind: "env", id: "npm", env: "TOKEN" });
  });

  it("type=env takes the variable from src= (buildx) or env=, else the id", () => {
    expect(parseSecretFlag("type=env,id=npm,src=NPM_TOKEN", context)).toMatchObject({ kind: "env", env: "NPM_TOKEN" });
    expect(parseSecretFlag("type=env,id=npm,env=NPM_TOKEN", context)).toMatchObject({ kind: "env", env: "NPM_TOKEN" });
    expect(parseSecretFlag("type=env,id=API_KEY", context)).toMatchObject({ kind: "env", env: "API_KEY" });
  });

  it("type=file without src reads the file named like the id", () => {
    expect(parseSecretFlag("type=file,id=token", context)).toMatchObject({ kind: "file", path: "/srv/app/token" });
  });

  it("id alone follows Docker: the variable of that name when set, else the file of that name", () => {
    expect(parseSecretFlag("id=SET_VAR", context)).toMatchObject({ kind: "env", env: "SET_VAR" });
    expect(parseSecretFlag("id=UNSET_VAR", context)).toMatchObject({ kind: "file", path: "/srv/app/UNSET_VAR" });
  });

  it("honours CSV quoting, so a path may contain commas", () => {
    expect(parseSecretFlag(`id=a,"src=/tmp/x,y"`, context)).toMatchObject({ path: "/tmp/x,y" });
    expect(parseSecretFlag(`id=a,"src=/tmp/say ""hi"""`, context)).toMatchObject({ path: `/tmp/say "hi"` });
  });

  it("rejects a spec without id, naming the flag and the fix", () => {
    const err = thrown(() => parseSecretFlag("env=NPM_TOKEN", context));
    expect(err).toBeInstanceOf(UserInputError);
    expect(err.code).toBe("SECRET_FLAG_INVALID");
    expect(err.message).toBe(`invalid --secret "env=NPM_TOKEN": no id given`);
    expect(err.hint).toContain("--secret id=NAME,env=NPM_TOKEN");
    expect(thrown(() => parseSecretFlag("src=./token", context)).hint).toContain("--secret id=NAME,src=./token");
  });

  it.each([
    ["", "the value is empty"],
    ["npm", `field "npm" is not a key=value pair`],
    ["id=npm,", `field "" is not a key=value pair`],
    ["id=", `"id" has an empty value`],
    ["id=npm,path=/x", `unknown key "path"`],
    ["id=npm,type=ssh", `unsupported type "ssh"`],
    ["id=npm,env=A,src=/b", "both env and src given"],
    ["id=npm,type=file,env=A", "type=file takes a file, not env"],
    [`id=npm,"src=/x`, "unterminated quoted field"],
    [`id=npm,"src=/x"y`, "unexpected text after a closing quote"],
  ])("rejects %j: %s", (value, why) => {
    const err = thrown(() => parseSecretFlag(value, context));
    expect(err).toBeInstanceOf(UserInputError);
    expect(err.message).toBe(`invalid --secret "${value}": ${why}`);
    expect(err.hint).toBeTruthy();
  });

  it("refuses the same id twice across flags", () => {
    const err = thrown(() => parseSecretFlags(["id=npm,env=A", "id=npm,src=/b"], context));
    expect(err.code).toBe("SECRET_FLAG_DUPLICATE");
    expect(err.message).toContain(`secret "npm" is given twice`);
    expect(err.message).toContain("--secret id=npm,src=/b");
  });
});

describe("userConfigPath", () => {
  it("prefers BREWKIT_CONFIG, then BREWKIT_HOME, then ~/.brewkit", () => {
    expect(userConfigPath({ BREWKIT_CONFIG: "/etc/bk.json", BREWKIT_HOME: "/opt/bk" })).toBe("/etc/bk.json");
    expect(userConfigPath({ BREWKIT_HOME: "/opt/bk" })).toBe("/opt/bk/config.json");
    expect(userConfigPath({})).toBe(path.join(os.homedir(), ".brewkit", "config.json"));
  });
});

describe("loadSecretsConfig", () => {
  const write = async (content: string) => {
    const file = path.join(dir, "config.json");
    await fsp.writeFile(file, content);
    return file;
  };

  it("treats a missing file as no secrets", async () => {
    expect(await loadSecretsConfig(path.join(dir, "nope.json"))).toEqual([]);
  });

  it("reads env and file entries; file paths are relative to the config file or ~/", async () => {
    const file = await write(
      JSON.stringify({
        secrets: { npm: { env: "NPM_TOKEN" }, netrc: { file: "creds/netrc" }, abs: { file: "/etc/token" }, home: { file: "~/.token" } },
        unrelated: { ignored: true },
      }),
    );
    expect(await loadSecretsConfig(file)).toEqual([
      { kind: "env", id: "npm", env: "NPM_TOKEN", origin: file },
      { kind: "file", id: "netrc", path: path.join(dir, "creds/netrc"), origin: file },
      { kind: "file", id: "abs", path: "/etc/token", origin: file },
      { kind: "file", id: "home", path: path.join(os.homedir(), ".token"), origin: file },
    ]);
  });

  it("accepts a file without secrets", async () => {
    expect(await loadSecretsConfig(await write("{}"))).toEqual([]);
  });

  it("reports invalid JSON with the file and line", async () => {
    const file = await write('{\n  "secrets": {\n    "npm": { "env": "X" },\n  }\n}\n');
    const err = await rejected(loadSecretsConfig(file));
    expect(err).toBeInstanceOf(UserInputError);
    expect(err.code).toBe("USER_CONFIG_INVALID");
    expect(err.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:4 is not valid JSON`));
    expect(err.context).toEqual({ file, line: 4 });
  });

  it("reports an empty file as invalid JSON", async () => {
    const file = await write("");
    expect((await rejected(loadSecretsConfig(file))).message).toContain(`${file}:1 is not valid JSON`);
  });

  it.each([
    ["[]", "the top level", "the top level must be a JSON object"],
    [`{"secrets": []}`, `"secrets"`, `"secrets" must be an object`],
    [`{"secrets": {"npm": "NPM_TOKEN"}}`, "secrets.npm", `secrets.npm must be { "env": "VARIABLE" } or { "file": "PATH" }`],
    [`{"secrets": {"npm": {}}}`, "secrets.npm", `secrets.npm must have exactly one of "env" or "file"`],
    [`{"secrets": {"npm": {"env": "A", "file": "b"}}}`, "secrets.npm", `secrets.npm must have exactly one of "env" or "file"`],
    [`{"secrets": {"npm": {"value": "hunter2"}}}`, "secrets.npm.value", `secrets.npm.value is not a known key`],
    [`{"secrets": {"npm": {"env": 3}}}`, "secrets.npm.env", "secrets.npm.env must be a non-empty string"],
    [`{"secrets": {"npm": {"file": ""}}}`, "secrets.npm.file", "secrets.npm.file must be a non-empty string"],
  ])("rejects %s naming the field", async (content, field, message) => {
    const file = await write(content);
    const err = await rejected(loadSecretsConfig(file));
    expect(err).toBeInstanceOf(UserInputError);
    expect(err.message).toContain(`${file}: ${message}`);
    expect(err.context).toEqual({ file, field });
    expect(err.hint).toContain(`"secrets"`);
  });

  it("reports an unreadable config file", async () => {
    const err = await rejected(loadSecretsConfig(dir)); // a directory: EISDIR
    expect(err.code).toBe("USER_CONFIG_UNREADABLE");
    expect(err.message).toContain(dir);
  });
});

describe("SecretStore", () => {
  it("reads env values at request time, not at construction", async () => {
    const env: NodeJS.ProcessEnv = {};
    const store = new SecretStore([{ kind: "env", id: "npm", env: "NPM_TOKEN", origin: "test" }], env);
    expect(await store.read("npm")).toBeUndefined();
    env.NPM_TOKEN = "tok-1";
    expect((await store.read("npm"))?.toString()).toBe("tok-1");
    env.NPM_TOKEN = "";
    expect(await store.read("npm")).toEqual(Buffer.alloc(0));
  });

  it("reads files at request time and re-reads regular files", async () => {
    const file = path.join(dir, "token");
    const store = new SecretStore([{ kind: "file", id: "t", path: file, origin: "test" }], {});
    expect(await store.read("t")).toBeUndefined();
    await fsp.writeFile(file, "v1");
    expect((await store.read("t"))?.toString()).toBe("v1");
    await fsp.writeFile(file, "v2");
    expect((await store.read("t"))?.toString()).toBe("v2");
  });

  it("keeps the value of a pipe, which can be read only once", async () => {
    const fifo = path.join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const writer = spawn("sh", ["-c", `printf piped > "${fifo}"`], { stdio: "inherit" });
    const written = new Promise((resolve) => writer.on("exit", resolve));
    const store = new SecretStore([{ kind: "file", id: "p", path: fifo, origin: "test" }], {});
    expect((await store.read("p"))?.toString()).toBe("piped");
    expect(await written).toBe(0);
    expect((await store.read("p"))?.toString()).toBe("piped");
  });

  it("returns undefined for an id with no source", async () => {
    expect(await new SecretStore([], {}).read("nope")).toBeUndefined();
  });

  it("caps values at 500 KiB like BuildKit's client", async () => {
    expect(maxSecretBytes).toBe(512000);
    const file = path.join(dir, "big");
    await fsp.writeFile(file, Buffer.alloc(maxSecretBytes, 1));
    const env = { BIG: "x".repeat(maxSecretBytes + 1) };
    const store = new SecretStore(
      [
        { kind: "file", id: "f", path: file, origin: "test" },
        { kind: "env", id: "e", env: "BIG", origin: "--secret id=e,env=BIG" },
      ],
      env,
    );
    expect((await store.read("f"))?.length).toBe(maxSecretBytes);

    await fsp.appendFile(file, "!");
    const fileErr = await rejected(store.read("f"));
    expect(fileErr.code).toBe("SECRET_TOO_LARGE");
    expect(fileErr.message).toBe(`secret "f" from file ${file} (from test) is larger than 500 KiB`);

    const envErr = await rejected(store.read("e"));
    expect(envErr.code).toBe("SECRET_TOO_LARGE");
    expect(envErr.message).toContain("environment variable BIG (from --secret id=e,env=BIG)");
    expect(envErr.message).not.toContain("xxx");
  });

  it("reports a directory as unreadable", async () => {
    const store = new SecretStore([{ kind: "file", id: "d", path: dir, origin: "test" }], {});
    const err = await rejected(store.read("d"));
    expect(err.code).toBe("SECRET_UNREADABLE");
    expect(err.message).toContain(dir);
  });

  it("lists required secrets without a value, once each, skipping optional ones", async () => {
    const present = path.join(dir, "present");
    await fsp.writeFile(present, "x");
    const store = new SecretStore(
      [
        { kind: "env", id: "set", env: "SET", origin: "cfg" },
        { kind: "env", id: "unset", env: "UNSET", origin: "cfg" },
        { kind: "file", id: "file", path: present, origin: "cfg" },
        { kind: "file", id: "gone", path: path.join(dir, "gone"), origin: "cfg" },
      ],
      { SET: "" },
    );
    const missing = store.missing([
      { id: "set", optional: false },
      { id: "unset", optional: false },
      { id: "file", optional: false },
      { id: "gone", optional: false },
      { id: "nowhere", optional: false },
      { id: "nowhere", optional: false },
      { id: "maybe", optional: true },
    ]);
    expect(missing).toEqual([
      { id: "unset", problem: "environment variable UNSET (from cfg) is not set" },
      { id: "gone", problem: `file ${path.join(dir, "gone")} (from cfg) does not exist` },
      { id: "nowhere", problem: "not provided" },
    ]);
  });

  it("fails before a build with every missing id and how to provide it", () => {
    const store = new SecretStore([], {}, "/home/u/.brewkit/config.json");
    expect(() => store.assertAvailable([{ id: "npm", optional: true }])).not.toThrow();
    const err = thrown(() =>
      store.assertAvailable([
        { id: "npm", optional: false },
        { id: "netrc", optional: false },
      ]),
    );
    expect(err).toBeInstanceOf(UserInputError);
    expect(err.code).toBe("SECRETS_MISSING");
    expect(err.message).toBe(`the build needs secrets "npm", "netrc" but no value is available:\n  npm: not provided\n  netrc: not provided`);
    expect(err.hint).toContain("--secret id=npm,env=VARIABLE");
    expect(err.hint).toContain("--secret id=npm,src=FILE");
    expect(err.hint).toContain("/home/u/.brewkit/config.json");
  });

  it("says how to provide each missing secret, from where each one is expected", () => {
    const store = new SecretStore(
      [
        { kind: "env", id: "token", env: "GH_TOKEN", origin: "--secret id=token,env=GH_TOKEN" },
        { kind: "file", id: "netrc", path: "/home/u/.netrc", origin: "/home/u/.brewkit/config.json" },
      ],
      {},
      "/home/u/.brewkit/config.json",
    );
    const err = thrown(() =>
      store.assertAvailable([
        { id: "npm", optional: false },
        { id: "token", optional: false },
        { id: "netrc", optional: false },
      ]),
    );
    const hint = err.hint!.split("\n");
    expect(hint[0]).toBe("provide each one:");
    expect(hint[1]).toBe(`  npm: --secret id=npm,env=VARIABLE or --secret id=npm,src=FILE, or add "npm": { "env": "VARIABLE" } to "secrets" in /home/u/.brewkit/config.json`);
    expect(hint[2]).toBe("  token: set GH_TOKEN, or give --secret id=token,src=FILE");
    expect(hint[3]).toBe("  netrc: put the value in the file /home/u/.netrc, or give --secret id=netrc,env=VARIABLE");
    expect(hint[4]).toContain("optional: true");
  });
});

describe("loadSecretStore", () => {
  it("layers --secret flags over the config file named by BREWKIT_CONFIG", async () => {
    const config = path.join(dir, "bk.json");
    await fsp.writeFile(path.join(dir, "netrc"), "machine x");
    await fsp.writeFile(config, JSON.stringify({ secrets: { npm: { env: "CONFIG_TOKEN" }, netrc: { file: "netrc" } } }));
    const env = { BREWKIT_CONFIG: config, CONFIG_TOKEN: "from-config", FLAG_TOKEN: "from-flag" };
    const store = await loadSecretStore({ flags: ["id=npm,env=FLAG_TOKEN"], env, cwd: dir });
    expect(store.configFile).toBe(config);
    expect((await store.read("npm"))?.toString()).toBe("from-flag");
    expect((await store.read("netrc"))?.toString()).toBe("machine x");
    expect(store.source("npm")?.origin).toBe("--secret id=npm,env=FLAG_TOKEN");
  });

  it("uses config.json under BREWKIT_HOME when BREWKIT_CONFIG is unset", async () => {
    await fsp.writeFile(path.join(dir, "config.json"), JSON.stringify({ secrets: { npm: { env: "T" } } }));
    const store = await loadSecretStore({ env: { BREWKIT_HOME: dir, T: "home" } });
    expect(store.configFile).toBe(path.join(dir, "config.json"));
    expect((await store.read("npm"))?.toString()).toBe("home");
  });

  it("works without any config file", async () => {
    const store = await loadSecretStore({ env: { BREWKIT_HOME: dir } });
    expect(store.ids()).toEqual([]);
  });
});
