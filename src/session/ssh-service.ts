import { statSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { decodeBytesMessage, encodeBytesMessage } from "../client/bytes-message.ts";
import { UserInputError } from "../errors.ts";
import { codecFor } from "../proto/registry.ts";
import { GrpcStatus, StatusError } from "../grpc/wire.ts";
import type { GrpcStatusCode } from "../grpc/wire.ts";
import type { ServerStreamCall } from "./grpc-server.ts";
import type { SessionService } from "./services.ts";
import { streamMethod, unaryMethod } from "./services.ts";

/** The agent id a build uses when it names none (BuildKit's `sshforward.DefaultID`). */
export const defaultSshId = "default";

/** Options of `sshService`. */
export interface SshServiceOptions {
  /**
   * Pass the agent protocol through untouched. By default, like BuildKit's own client,
   * only listing keys and signing reach the agent: a build step must not add, remove
   * or lock the user's keys, nor call agent extensions.
   */
  raw?: boolean;
}

/**
 * moby.sshforward.v1.SSH: forwards the host's ssh-agent into steps that mount it.
 * `agents` maps agent ids to unix socket paths. Each connection a step makes to its
 * mounted socket arrives as one ForwardAgent stream carrying raw agent-protocol bytes.
 */
export function sshService(agents: ReadonlyMap<string, string>, options: SshServiceOptions = {}): SessionService {
  const checkRequests = codecFor<{ ID: string }>("moby.sshforward.v1.CheckAgentRequest");

  const checkAgent = async (request: Buffer): Promise<Buffer> => {
    let id: string;
    try {
      id = checkRequests.decode(request).ID || defaultSshId;
    } catch (err) {
      throw new StatusError(GrpcStatus.INVALID_ARGUMENT, `malformed CheckAgentRequest: ${(err as Error).message}`);
    }
    if (!agents.has(id)) throw new StatusError(GrpcStatus.NOT_FOUND, `no ssh agent "${id}" is forwarded by the client`);
    return Buffer.alloc(0); // CheckAgentResponse{}
  };

  const forwardAgent = (call: ServerStreamCall) => {
    const id = call.metadata.get("buildkit.ssh.id")[0] || defaultSshId;
    const socketPath = agents.get(id);
    if (socketPath === undefined) {
      return call.fail(GrpcStatus.NOT_FOUND, `no ssh agent "${id}" is forwarded by the client`);
    }
    pipeAgent(call, id, socketPath, options.raw ? undefined : new ReadOnlyAgentFilter());
  };

  return {
    methods: {
      "/moby.sshforward.v1.SSH/CheckAgent": unaryMethod(checkAgent),
      "/moby.sshforward.v1.SSH/ForwardAgent": streamMethod(forwardAgent),
    },
  };
}

/**
 * Pipes one ForwardAgent stream to a fresh connection to the agent, with backpressure
 * both ways. Daemon EOF half-closes the socket (the agent still answers what it got);
 * agent EOF ends the stream with OK; errors end it with a status.
 */
function pipeAgent(call: ServerStreamCall, id: string, socketPath: string, filter: ReadOnlyAgentFilter | undefined): void {
  const socket = net.createConnection({ path: socketPath, allowHalfOpen: true });
  let finished = false;

  const finish = (error?: { code: GrpcStatusCode; details: string }) => {
    if (finished) return;
    finished = true;
    if (error === undefined) {
      socket.end();
      call.end();
    } else {
      socket.destroy();
      call.fail(error.code, error.details);
    }
  };
  const toDaemon = (data: Buffer) => {
    if (finished || data.length === 0) return;
    if (!call.write(encodeBytesMessage(data))) socket.pause();
  };
  const toAgent = (data: Buffer) => {
    if (finished || data.length === 0) return;
    if (!socket.write(data)) call.pause();
  };

  call.on("data", (message: Buffer) => {
    try {
      const data = decodeBytesMessage(message);
      if (filter === undefined) return toAgent(data);
      const { toAgent: requests, toClient: replies } = filter.fromClient(data);
      requests.forEach(toAgent);
      replies.forEach(toDaemon);
    } catch (err) {
      finish({ code: GrpcStatus.INVALID_ARGUMENT, details: `ssh agent "${id}": ${(err as Error).message}` });
    }
  });
  call.on("end", () => {
    if (!finished) socket.end();
  });
  call.on("drain", () => socket.resume());
  call.on("cancelled", () => {
    finished = true;
    socket.destroy();
  });

  socket.on("data", (chunk: Buffer) => {
    if (filter === undefined) return toDaemon(chunk);
    try {
      filter.fromAgent(chunk).forEach(toDaemon);
    } catch (err) {
      finish({ code: GrpcStatus.INTERNAL, details: `ssh agent "${id}": ${(err as Error).message}` });
    }
  });
  socket.on("drain", () => call.resume());
  socket.on("end", () => finish());
  socket.on("error", (err) => finish({ code: GrpcStatus.UNAVAILABLE, details: `ssh agent "${id}" at ${socketPath}: ${err.message}` }));
}

const agentFailure = Buffer.from([0, 0, 0, 1, 5]); // SSH_AGENT_FAILURE
const allowedRequests = new Set([
  11, // SSH2_AGENTC_REQUEST_IDENTITIES
  13, // SSH2_AGENTC_SIGN_REQUEST
]);
// OpenSSH's agent drops connections sending more (AGENT_MAX_LEN); refusing early bounds buffering.
const maxAgentMessage = 256 * 1024;

/**
 * The read-only view of an agent: requests other than listing keys and signing are
 * answered SSH_AGENT_FAILURE here and never reach the agent. Replies leave in request
 * order, so a refused request queued behind a forwarded one waits for its answer.
 */
class ReadOnlyAgentFilter {
  private requests: Buffer = Buffer.alloc(0);
  private replies: Buffer = Buffer.alloc(0);
  // One entry per request in flight: undefined when the agent answers, else the local answer.
  private readonly inFlight: Array<Buffer | undefined> = [];

  fromClient(chunk: Buffer): { toAgent: Buffer[]; toClient: Buffer[] } {
    const [frames, rest] = splitFrames(Buffer.concat([this.requests, chunk]), "request");
    this.requests = rest;
    const toAgent: Buffer[] = [];
    for (const frame of frames) {
      const type = frame.length > 4 ? frame[4]! : -1;
      if (allowedRequests.has(type)) {
        this.inFlight.push(undefined);
        toAgent.push(frame);
      } else {
        this.inFlight.push(agentFailure);
      }
    }
    return { toAgent, toClient: this.releaseLocal() };
  }

  fromAgent(chunk: Buffer): Buffer[] {
    const [frames, rest] = splitFrames(Buffer.concat([this.replies, chunk]), "reply");
    this.replies = rest;
    const toClient: Buffer[] = [];
    for (const frame of frames) {
      if (this.inFlight.length === 0 || this.inFlight[0] !== undefined) throw new Error("the agent sent a reply nobody asked for");
      this.inFlight.shift();
      toClient.push(frame, ...this.releaseLocal());
    }
    return toClient;
  }

  private releaseLocal(): Buffer[] {
    const ready: Buffer[] = [];
    while (this.inFlight.length > 0 && this.inFlight[0] !== undefined) ready.push(this.inFlight.shift()!);
    return ready;
  }
}

// Agent messages are a uint32 big-endian length followed by that many bytes (type first).
function splitFrames(buffer: Buffer, what: string): [Buffer[], Buffer] {
  const frames: Buffer[] = [];
  let offset = 0;
  while (buffer.length - offset >= 4) {
    const length = buffer.readUInt32BE(offset);
    if (length > maxAgentMessage) throw new Error(`agent ${what} of ${length} bytes exceeds ${maxAgentMessage}`);
    if (buffer.length - offset - 4 < length) break;
    frames.push(buffer.subarray(offset, offset + 4 + length));
    offset += 4 + length;
  }
  return [frames, buffer.subarray(offset)];
}

/** One `--ssh` flag: `ID` (the agent in $SSH_AUTH_SOCK) or `ID=SOCKET`, like buildx. */
export function parseSshFlag(value: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { id: string; socket: string } {
  const eq = value.indexOf("=");
  const id = (eq < 0 ? value : value.slice(0, eq)).trim();
  const target = eq < 0 ? "" : value.slice(eq + 1);
  if (id === "") {
    throw new UserInputError("SSH_FLAG_INVALID", `invalid --ssh "${value}": no id given`, { hint: "use --ssh default or --ssh ID=/path/to/agent.sock" });
  }
  if (target.includes(",")) {
    throw new UserInputError("SSH_FLAG_INVALID", `invalid --ssh "${value}": brewkit forwards one agent socket per id, not key files`, {
      hint: `load the keys into an agent (ssh-add KEY) and pass --ssh ${id}=/path/to/agent.sock`,
    });
  }
  if (target !== "") return { id, socket: path.resolve(cwd, target) };
  const socket = env.SSH_AUTH_SOCK;
  if (!socket) {
    throw new UserInputError("SSH_AGENT_MISSING", `--ssh ${id} forwards the agent in SSH_AUTH_SOCK, but SSH_AUTH_SOCK is not set`, {
      hint: `start an agent (eval "$(ssh-agent)" && ssh-add) or pass --ssh ${id}=/path/to/agent.sock`,
    });
  }
  return { id, socket };
}

/**
 * The agent socket of every ssh id the build uses (empty id: `default`), for
 * `sshService`: from `--ssh` flags when given, else $SSH_AUTH_SOCK. Every socket
 * must exist, so a missing agent fails before the build rather than inside a step.
 */
export function sshAgentSockets(ids: Iterable<string>, flags: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const fromFlags = new Map<string, string>();
  for (const flag of flags) {
    const { id, socket } = parseSshFlag(flag, env);
    fromFlags.set(id, socket);
  }
  const agents = new Map<string, string>();
  for (const rawId of ids) {
    const id = rawId || defaultSshId;
    if (agents.has(id)) continue;
    const flagged = fromFlags.get(id);
    const socket = flagged ?? env.SSH_AUTH_SOCK;
    const origin = flagged !== undefined ? `--ssh ${id}` : "SSH_AUTH_SOCK";
    if (!socket) {
      throw new UserInputError("SSH_AGENT_MISSING", `the build forwards ssh agent "${id}", but SSH_AUTH_SOCK is not set`, {
        hint: `start an agent (eval "$(ssh-agent)" && ssh-add) or pass --ssh ${id}=/path/to/agent.sock`,
      });
    }
    checkAgentSocket(id, socket, origin);
    agents.set(id, socket);
  }
  return agents;
}

function checkAgentSocket(id: string, socket: string, origin: string): void {
  let isSocket: boolean;
  try {
    isSocket = statSync(socket).isSocket();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : `cannot be used (${code ?? (err as Error).message})`;
    throw new UserInputError("SSH_AGENT_MISSING", `ssh agent "${id}": socket ${socket} (from ${origin}) ${why}`, {
      hint: `is the agent still running? start one (eval "$(ssh-agent)" && ssh-add) or pass --ssh ${id}=/path/to/agent.sock`,
    });
  }
  if (!isSocket) {
    throw new UserInputError("SSH_AGENT_MISSING", `ssh agent "${id}": ${socket} (from ${origin}) is not a socket`, {
      hint: `brewkit forwards a running agent, not key files: ssh-add the key and pass the agent's socket (--ssh ${id}=/path/to/agent.sock)`,
    });
  }
}
