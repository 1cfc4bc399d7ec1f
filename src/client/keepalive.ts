import type http2 from "node:http2";

/** When brewkit checks that a daemon it talks to over the network still answers. */
export interface KeepaliveOptions {
  /** A connection with calls in flight that received nothing for this long is checked. */
  intervalMs: number;
  /** How long the daemon may take to answer a check before the connection is given up. */
  timeoutMs: number;
}

/** For tcp:// daemons: a vanished daemon fails the calls in flight within about 30 s. */
export const defaultKeepalive: KeepaliveOptions = { intervalMs: 10_000, timeoutMs: 10_000 };

/**
 * The keepalive of a connection to `target`: none for a unix socket (a daemon that
 * goes away closes it), else the default. BREWKIT_KEEPALIVE_MS sets both the interval
 * and the timeout (tests use it to see a vanished daemon quickly).
 */
export function keepaliveFor(target: string, env: NodeJS.ProcessEnv = process.env): KeepaliveOptions | undefined {
  if (target.startsWith("unix://")) return undefined;
  const ms = Number(env.BREWKIT_KEEPALIVE_MS);
  return Number.isInteger(ms) && ms > 0 ? { intervalMs: ms, timeoutMs: ms } : defaultKeepalive;
}

/** What the keepalive needs from the connection it watches. */
export interface KeepaliveHooks {
  /** True while calls are in flight (a connection without them is not checked). */
  busy(): boolean;
  /** Makes a small call; resolves when the daemon answers it, whatever the answer. */
  call(): Promise<void>;
  /** The daemon did not answer in time: give up the connection with this reason. */
  lost(reason: string): void;
}

/**
 * Checks that the daemon still answers when a connection with calls in flight has
 * received nothing for a while, so that a daemon (or a network) that vanished ends
 * those calls with an error instead of leaving them waiting forever.
 *
 * The check is an HTTP/2 PING. gRPC servers (buildkitd's, with Go's default policy)
 * close a connection that sends more than two PINGs within five minutes without them
 * having sent anything in between; so when a PING was all the daemon sent since the
 * last check, the next check is a small call instead (a health check, whose answer
 * counts as the daemon sending something, whatever its status). During a build the
 * daemon checks the session's health every few seconds, so no check is needed.
 */
export function keepConnectionAlive(session: http2.ClientHttp2Session, options: KeepaliveOptions, hooks: KeepaliveHooks): void {
  // Bytes received, as far as they have been accounted for.
  let seen = bytesRead(session);
  let pingedSinceNews = false;
  let deadline: NodeJS.Timeout | undefined;
  const timer = setInterval(() => {
    if (deadline || session.destroyed || session.connecting) return;
    const read = bytesRead(session);
    const news = read !== seen;
    seen = read;
    if (news) pingedSinceNews = false;
    if (news || !hooks.busy()) return;
    deadline = setTimeout(() => hooks.lost(`the daemon did not answer a keepalive check within ${options.timeoutMs} ms`), options.timeoutMs);
    deadline.unref();
    const answered = () => {
      clearTimeout(deadline);
      deadline = undefined;
    };
    // A connection the daemon is closing (GOAWAY) takes no new calls: PINGs only.
    if (!pingedSinceNews || session.closed) {
      pingedSinceNews = true;
      session.ping((err) => {
        if (err) return;
        // The PING's answer is not news: only what the daemon sends after it is.
        seen = bytesRead(session);
        answered();
      });
    } else {
      hooks.call().then(answered, () => undefined);
    }
  }, options.intervalMs);
  timer.unref();
  session.once("close", () => {
    clearInterval(timer);
    clearTimeout(deadline);
  });
}

function bytesRead(session: http2.ClientHttp2Session): number {
  return session.destroyed ? 0 : (session.socket?.bytesRead ?? 0);
}
