import { describe, expect, it } from "vitest";
import { parseDaemonAddress } from "../../src/client/address.ts";

describe("parseDaemonAddress", () => {
  it("accepts unix sockets and tcp addresses", () => {
    expect(parseDaemonAddress("unix:///run/buildkit/buildkitd.sock").target).toBe("unix:///run/buildkit/buildkitd.sock");
    expect(parseDaemonAddress("tcp://127.0.0.1:1234").target).toBe("127.0.0.1:1234");
  });

  it("explains what is wrong with a bad address", () => {
    expect(() => parseDaemonAddress("buildkitd.sock")).toThrow(/is not a URL/);
    expect(() => parseDaemonAddress("http://x:1")).toThrow(/unsupported daemon address scheme "http:"/);
    expect(() => parseDaemonAddress("tcp://host")).toThrow(/needs a host and a port/);
  });
});
