// One pattern the screens share: act on the server, then reload what the screen shows, with a
// busy flag (buttons disabled meanwhile) and the error of the last failed try in words.
import { useRef, useState } from "preact/hooks";
import { asError } from "./ErrorText";

/** An error as the screens show it (`errors.<code>`, with a wait time when the server said). */
export type ShownError = ReturnType<typeof asError>;

export interface RunOptions {
  /** Reload after a success (default true, when the hook was given a reload). */
  reload?: boolean;
  /** On success stay busy: the screen is about to go away (a new room, a signed-in app). */
  keepBusy?: boolean;
}

export interface Action {
  /** True while an action (and the reload after it) runs. */
  busy: boolean;
  /** The last failure, cleared when the next action starts. */
  error: ShownError | null;
  /** Show an error that did not come from `run` (a failed load, say), or clear it. */
  setError: (error: ShownError | null) => void;
  /** Run `work`, then the reload; true when it succeeded, false when it failed (error set). */
  run: (work: () => Promise<unknown> | unknown, options?: RunOptions) => Promise<boolean>;
}

/**
 * Act, then reload, with busy and error. `reload` runs after each successful action (a failed
 * reload is the reload's own business: it shows its error through `setError`); `onError` also
 * gets the raw failure, for screens that read more out of it (the fields a 422 names).
 */
export function useAction(
  options: { reload?: () => Promise<unknown> | unknown; onError?: (error: unknown) => void } = {},
): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ShownError | null>(null);
  // The latest options, so a run started before a re-render still reloads with fresh closures.
  const latest = useRef(options);
  latest.current = options;

  async function run(work: () => Promise<unknown> | unknown, runOptions: RunOptions = {}): Promise<boolean> {
    setBusy(true);
    setError(null);
    let succeeded = false;
    try {
      await work();
      const reload = latest.current.reload;
      if (reload && runOptions.reload !== false) await reload();
      succeeded = true;
    } catch (e) {
      setError(asError(e));
      latest.current.onError?.(e);
    } finally {
      if (!(succeeded && runOptions.keepBusy)) setBusy(false);
    }
    return succeeded;
  }

  return { busy, error, setError, run };
}
