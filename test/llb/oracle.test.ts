// The TypeScript builder must produce the very bytes BuildKit's Go client produces.
// The Go side is live: test/oracle builds the same graphs with client/llb at the
// pinned BuildKit version. Without Go (or a prebuilt oracle in
// BREWKIT_LLB_ORACLE) this suite fails rather than skips.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { definitionToJSON, digestOf, marshal, normalizeImageRef } from "../../src/llb/index.ts";
import { encodeOpMetadata } from "../../src/llb/encode.ts";
import type { Pb_OpMetadata } from "../../src/proto/generated.ts";
import { graphs, refInputs } from "./graphs.ts";

interface OracleMetadata {
  ignoreCache: boolean;
  description?: Record<string, string>;
  caps: string[];
  bytes: string;
}

interface OracleDefinition {
  def: string[];
  digests: string[];
  metadata: Record<string, OracleMetadata>;
}

interface OracleOutput {
  graphs: Record<string, OracleDefinition>;
  refs: Record<string, { ref?: string; error?: boolean }>;
}

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

async function runOracle(): Promise<OracleOutput> {
  const prebuilt = process.env.BREWKIT_LLB_ORACLE;
  const [cmd, args] = prebuilt ? [prebuilt, []] : ["go", ["run", "./test/oracle"]];
  const { stdout } = await promisify(execFile)(cmd, args, { cwd: repoRoot, maxBuffer: 64 << 20 }).catch((err: unknown) => {
    throw new Error(`the Go LLB oracle could not run (${cmd} ${args.join(" ")}); install Go or set BREWKIT_LLB_ORACLE`, { cause: err });
  });
  return JSON.parse(stdout) as OracleOutput;
}

function comparableMetadata(md: Pb_OpMetadata): OracleMetadata {
  const out: OracleMetadata = {
    ignoreCache: md.ignore_cache === true,
    caps: Object.keys(md.caps ?? {}).sort(),
    bytes: Buffer.from(encodeOpMetadata(md)).toString("base64"),
  };
  if (md.description) out.description = md.description;
  return out;
}

const tsGraphs = graphs();
let oracleRun: OracleOutput | Error;

// The first `go run` compiles BuildKit's client packages: minutes on a small machine.
beforeAll(async () => {
  oracleRun = await runOracle().catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
}, 900_000);

/** The oracle's output; every test fails (none is skipped) when it could not run. */
function oracle(): OracleOutput {
  if (oracleRun instanceof Error) throw oracleRun;
  return oracleRun;
}

describe("LLB graphs are byte-identical to BuildKit's Go client", () => {
  it("covers the same graphs on both sides", () => {
    expect(Object.keys(tsGraphs).sort()).toEqual(Object.keys(oracle().graphs).sort());
    expect(Object.keys(tsGraphs).length).toBeGreaterThanOrEqual(15);
  });

  for (const [name, graph] of Object.entries(tsGraphs)) {
    it(name, () => {
      const want = oracle().graphs[name];
      expect(want, `oracle has no graph ${name}`).toBeDefined();
      const got = marshal(graph.state, graph.opts);
      const gotDef = got.def.map((b) => Buffer.from(b).toString("base64"));
      // On a mismatch, show both sides decoded: far easier to read than base64.
      if (JSON.stringify(gotDef) !== JSON.stringify(want!.def)) {
        const decode = (def: Uint8Array[]) => definitionToJSON({ def, metadata: {} }).ops.map((o) => o.op);
        expect(decode(got.def)).toEqual(decode(want!.def.map((b) => Buffer.from(b, "base64"))));
      }
      expect(gotDef).toEqual(want!.def);
      expect(got.digests).toEqual(want!.digests);
      expect(got.def.map(digestOf)).toEqual(want!.digests);
      const gotMeta = Object.fromEntries(Object.entries(got.metadata).map(([d, md]) => [d, comparableMetadata(md)]));
      expect(gotMeta).toEqual(want!.metadata);
    });
  }
});

describe("image references normalize like distribution/reference", () => {
  it("covers the same inputs on both sides", () => {
    expect([...refInputs].sort()).toEqual(Object.keys(oracle().refs).sort());
  });

  for (const input of refInputs) {
    it(JSON.stringify(input), () => {
      const want = oracle().refs[input]!;
      if (want.error) expect(() => normalizeImageRef(input)).toThrow(/invalid image reference/);
      else expect(normalizeImageRef(input)).toBe(want.ref);
    });
  }
});
