// Stopping long commands: SIGINT (Ctrl-C), SIGTERM (kill, service managers, timeouts) and SIGHUP (a closed
// terminal) all ask the command to stop at the next safe point — after the current training step, decode step or
// prefill chunk — so that what it writes is complete. A second signal quits at once. The exit code is 128 + the
// number of the first signal, as a shell reports a process killed by it.
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
type Sig = keyof typeof SIGNALS;

export interface SignalStop {
  signal: AbortSignal;
  /** 128 + the first signal's number, or undefined when none came. */
  exitCode(): number | undefined;
  /** Removes the handlers. */
  done(): void;
}

export function abortOnSignals(onFirst?: (sig: Sig) => void): SignalStop {
  const ctl = new AbortController();
  let first: Sig | undefined;
  const handlers = (Object.keys(SIGNALS) as Sig[]).map((sig) => {
    const h = () => {
      if (first) process.exit(128 + SIGNALS[first]);
      first = sig;
      onFirst?.(sig);
      ctl.abort();
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return {
    signal: ctl.signal,
    exitCode: () => (first ? 128 + SIGNALS[first] : undefined),
    done: () => {
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}
