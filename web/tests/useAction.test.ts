// @vitest-environment happy-dom
// useAction: act, then reload, with busy and error, rendered in a real Preact tree.
import { h, render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../src/api/client";
import { useAction, type Action } from "../src/ui/useAction";

/** A promise resolved or rejected from outside, to hold an action mid-flight. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

let root: HTMLElement | null = null;

/** Render a component that uses the hook; `latest()` is what the last render saw. */
function mount(options: Parameters<typeof useAction>[0] = {}) {
  let seen: Action | null = null;
  let renders = 0;
  function Probe() {
    seen = useAction(options);
    renders += 1;
    return null;
  }
  root = document.createElement("div");
  document.body.appendChild(root);
  act(() => render(h(Probe, null), root!));
  return { latest: () => seen as unknown as Action, renders: () => renders };
}

afterEach(() => {
  if (root) act(() => render(null, root!));
  root?.remove();
  root = null;
});

describe("useAction", () => {
  it("is busy while the work and then the reload run, and not after", async () => {
    const work = deferred();
    const reload = deferred();
    const order: string[] = [];
    const probe = mount({
      reload: () => {
        order.push("reload");
        return reload.promise;
      },
    });
    expect(probe.latest().busy).toBe(false);

    let result: Promise<boolean> | null = null;
    await act(async () => {
      result = probe.latest().run(() => {
        order.push("work");
        return work.promise;
      });
    });
    expect(probe.latest().busy).toBe(true);
    expect(order).toEqual(["work"]);

    await act(async () => work.resolve());
    expect(order).toEqual(["work", "reload"]);
    expect(probe.latest().busy).toBe(true); // still reloading

    await act(async () => reload.resolve());
    expect(probe.latest().busy).toBe(false);
    expect(probe.latest().error).toBeNull();
    expect(await result!).toBe(true);
  });

  it("shows a failure in words (code and wait time), skips the reload, and clears it on the next run", async () => {
    let reloads = 0;
    const raw: unknown[] = [];
    const probe = mount({ reload: () => void (reloads += 1), onError: (e) => raw.push(e) });
    const failure = new ApiError(429, "rate_limited", "slow down", 30);

    let ok: boolean | null = null;
    await act(async () => {
      ok = await probe.latest().run(() => Promise.reject(failure));
    });
    expect(ok).toBe(false);
    expect(probe.latest().error).toEqual({ code: "rate_limited", retryAfter: 30 });
    expect(probe.latest().busy).toBe(false);
    expect(reloads).toBe(0);
    expect(raw).toEqual([failure]);

    const next = deferred();
    await act(async () => {
      void probe.latest().run(() => next.promise);
    });
    expect(probe.latest().error).toBeNull(); // cleared as the next try starts
    await act(async () => next.resolve());
    expect(reloads).toBe(1);
  });

  it("turns anything thrown into an error code, `unknown` when it has none", async () => {
    const probe = mount();
    await act(async () => {
      await probe.latest().run(() => {
        throw { code: "no_valid_numbers" };
      });
    });
    expect(probe.latest().error).toEqual({ code: "no_valid_numbers", retryAfter: null });
    await act(async () => {
      await probe.latest().run(() => {
        throw new Error("boom");
      });
    });
    expect(probe.latest().error).toEqual({ code: "unknown", retryAfter: null });
  });

  it("can skip the reload for one run", async () => {
    let reloads = 0;
    const probe = mount({ reload: () => void (reloads += 1) });
    await act(async () => {
      await probe.latest().run(() => undefined, { reload: false });
    });
    expect(reloads).toBe(0);
    await act(async () => {
      await probe.latest().run(() => undefined);
    });
    expect(reloads).toBe(1);
  });

  it("a failed reload is a failed action (the error shows)", async () => {
    const probe = mount({ reload: () => Promise.reject(new ApiError(0, "network", "network error")) });
    let ok: boolean | null = null;
    await act(async () => {
      ok = await probe.latest().run(() => undefined);
    });
    expect(ok).toBe(false);
    expect(probe.latest().error?.code).toBe("network");
  });

  it("keepBusy stays busy after a success (the screen is leaving) but not after a failure", async () => {
    const probe = mount();
    await act(async () => {
      await probe.latest().run(() => undefined, { keepBusy: true });
    });
    expect(probe.latest().busy).toBe(true);

    const other = mount();
    await act(async () => {
      await other.latest().run(() => Promise.reject(new ApiError(400, "invalid_code", "no")), { keepBusy: true });
    });
    expect(other.latest().busy).toBe(false);
    expect(other.latest().error?.code).toBe("invalid_code");
  });

  it("setError shows and clears an error from elsewhere (a failed load)", async () => {
    const probe = mount();
    await act(async () => probe.latest().setError({ code: "not_found", retryAfter: null }));
    expect(probe.latest().error?.code).toBe("not_found");
    await act(async () => probe.latest().setError(null));
    expect(probe.latest().error).toBeNull();
  });

  it("reloads with the newest reload function, not the one of the render that started the run", async () => {
    const calls: string[] = [];
    let which = "first";
    let rerender: () => void = () => undefined;
    let seen: Action | null = null;
    function Probe() {
      const name = which;
      seen = useAction({ reload: () => void calls.push(name) });
      return null;
    }
    root = document.createElement("div");
    document.body.appendChild(root);
    rerender = () => act(() => render(h(Probe, { key: "same" }), root!));
    rerender();
    const work = deferred();
    await act(async () => {
      void (seen as unknown as Action).run(() => work.promise);
    });
    which = "second";
    rerender();
    await act(async () => work.resolve());
    expect(calls).toEqual(["second"]);
  });
});
