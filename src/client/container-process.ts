import { BuildError } from "../errors.ts";
import type { Moby_Buildkit_V1_Frontend_ExecMessage as ExecMessage, Moby_Buildkit_V1_Frontend_InitMessage as InitMessage } from "../proto/generated.ts";
import { codecFor } from "../proto/registry.ts";
import { readMessages, writeMessage, type GrpcConnection } from "./grpc-connection.ts";

/** How a process in a container ended. */
export interface ProcessExit {
  /** Its exit code (255 when the daemon could not tell). */
  code: number;
  /** What the daemon said went wrong, if anything (e.g. the command was not found). */
  error?: string;
}

/** What a process reads and writes: its terminal on this side. */
export interface ProcessIo {
  /** Output of the process (stdout, and stderr too with a TTY). */
  stdout: (data: Uint8Array) => void;
  /** Standard error (without a TTY). */
  stderr: (data: Uint8Array) => void;
}

const execMessages = () => codecFor<ExecMessage>("moby.buildkit.v1.frontend.ExecMessage");

/**
 * A process started in a container of a gateway build (LLBBridge.ExecProcess: one
 * bidirectional stream of ExecMessages, carrying the build's id in `metadata`). Input,
 * terminal size and signals go to it; its output comes to `io`; `exited` resolves when
 * the daemon says it is done. Start it with `GatewayClient.startProcess`.
 */
export class ContainerProcess {
  /** Resolves with the exit once the process ended and its output was delivered. */
  readonly exited: Promise<ProcessExit>;
  private readonly call;
  private readonly id = "shell";

  constructor(connection: GrpcConnection, metadata: Readonly<Record<string, string>>, init: InitMessage, io: ProcessIo, signal?: AbortSignal) {
    this.call = connection.startCall("/moby.buildkit.v1.frontend.LLBBridge/ExecProcess", { metadata, signal });
    let exit: ProcessExit | undefined;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    readMessages(this.call, (bytes) => {
      const message = execMessages().decode(bytes);
      if (message.File?.Data && message.File.Data.length > 0) (message.File.Fd === 2 ? io.stderr : io.stdout)(message.File.Data);
      if (message.Exit) {
        exit = { code: message.Exit.Code ?? 0, ...(message.Exit.Error?.message ? { error: message.Exit.Error.message } : {}) };
        // The daemon says Done once every stream of the process is closed, our input included.
        this.endInput();
      }
      if (message.Done) resolveDone();
    });
    this.exited = Promise.race([
      done.then(() => {
        this.call.stream.end();
        return exit ?? { code: 255, error: "the daemon sent no exit status" };
      }),
      // The stream ending first is a failure: of the call, or of a daemon that broke off.
      this.call.done.then(
        () => exit ?? { code: 255, error: "the process stream ended without an exit status" },
        (err: unknown) => {
          throw new BuildError("SHELL_FAILED", `the shell's process stream failed: ${(err as Error).message}`, { cause: err });
        },
      ),
    ]);
    this.exited.catch(() => undefined);
    this.send({ Init: init });
  }

  /** Sends bytes to the process's standard input. */
  write(data: Uint8Array): void {
    this.send({ File: { Fd: 0, Data: data } });
  }

  /** Closes its standard input. */
  endInput(): void {
    this.send({ File: { Fd: 0, EOF: true } });
  }

  /** Tells the process's terminal its new size. */
  resize(rows: number, cols: number): void {
    if (rows > 0 && cols > 0) this.send({ Resize: { Rows: rows, Cols: cols } });
  }

  /** Sends a signal by name (`INT`, `TERM`, ...). */
  kill(name: string): void {
    this.send({ Signal: { Name: name } });
  }

  private send(message: Omit<ExecMessage, "ProcessID">): void {
    if (this.call.stream.writableEnded || this.call.stream.destroyed) return;
    writeMessage(this.call.stream, execMessages().encode({ ProcessID: this.id, ...message }));
  }
}
