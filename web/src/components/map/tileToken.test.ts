import { describe, expect, it } from "vitest";
import type { Clock, TileTokenOut } from "./tileToken";
import { RETRY_MS, TileTokenControl, TileTokenManager, tileLayer, tileTransform, tokenOf } from "./tileToken";

/** A clock driven by the test: timers fire when time is advanced past them. */
class FakeClock implements Clock {
  t = 1_000_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown) {
    this.timers.delete(h as number);
  }
  pending() {
    return [...this.timers.values()].map((x) => x.at - this.t);
  }
  async advance(ms: number) {
    this.t += ms;
    for (const [id, timer] of [...this.timers]) {
      if (timer.at <= this.t) {
        this.timers.delete(id);
        timer.fn();
      }
    }
    await flush();
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));

/** A token endpoint stand-in: answers in order (a token, or an error to throw). */
function endpoint(answers: (TileTokenOut | Error)[]) {
  const calls: number[] = [];
  const fetch = async () => {
    calls.push(calls.length);
    const a = answers.shift();
    if (a === undefined) throw new Error("no more answers");
    if (a instanceof Error) throw a;
    return a;
  };
  return { fetch, calls };
}

const HOUR = 3600;

describe("the map's tile token", () => {
  it("is fetched once for concurrent callers and renewed before it expires", async () => {
    const clock = new FakeClock();
    const ep = endpoint([
      { token: "t1", expires_in: HOUR },
      { token: "t2", expires_in: HOUR },
    ]);
    const m = new TileTokenManager(ep.fetch, clock);
    const [a, b] = await Promise.all([m.ensure(), m.ensure()]);
    expect([a, b]).toEqual(["t1", "t1"]);
    expect(ep.calls).toHaveLength(1);
    // Renewal at 80 % of the hour (48 min), well before the 60-minute expiry.
    expect(clock.pending()).toEqual([48 * 60_000]);
    await clock.advance(48 * 60_000 - 1);
    expect(m.current()).toBe("t1");
    await clock.advance(1);
    expect(m.current()).toBe("t2");
    expect(m.snapshot().status).toBe("ready");
    // The new token lives a full hour from its renewal: past the first one's expiry it is served.
    await clock.advance(13 * 60_000);
    expect(m.current()).toBe("t2");
  });

  it("keeps a still-valid token when a scheduled renewal fails, and retries later", async () => {
    const clock = new FakeClock();
    const ep = endpoint([{ token: "t1", expires_in: HOUR }, new Error("503"), { token: "t2", expires_in: HOUR }]);
    const m = new TileTokenManager(ep.fetch, clock);
    await m.ensure();
    await clock.advance(48 * 60_000); // the renewal fails
    expect(m.snapshot().status).toBe("ready");
    expect(m.current()).toBe("t1");
    expect(clock.pending()).toEqual([RETRY_MS]);
    await clock.advance(RETRY_MS);
    expect(m.current()).toBe("t2");
  });

  it("an expired token is never put in a URL, and a failed renewal then is an error, not a loop", async () => {
    const clock = new FakeClock();
    const ep = endpoint([{ token: "t1", expires_in: 60 }, new Error("401")]);
    const m = new TileTokenManager(ep.fetch, clock);
    await m.ensure();
    await clock.advance(61_000); // renewal at 48 s fails with 12 s left: error
    expect(m.current()).toBeNull();
    expect(m.snapshot().status).toBe("error");
    expect(clock.pending()).toEqual([]); // nothing retries on its own
    expect(ep.calls).toHaveLength(2);
  });

  it("renews once on a 401, ignores 401s of tokens already replaced, errors on a second 401", async () => {
    const clock = new FakeClock();
    const ep = endpoint([
      { token: "t1", expires_in: HOUR },
      { token: "t2", expires_in: HOUR },
    ]);
    const m = new TileTokenManager(ep.fetch, clock);
    await m.ensure();
    // Many tiles refused at once: one renewal.
    const renewed = await Promise.all([m.unauthorized("t1"), m.unauthorized("t1")]);
    expect(renewed).toEqual(["t2", "t2"]);
    expect(ep.calls).toHaveLength(2);
    // A late 401 of a tile sent with t1: already renewed, nothing to do.
    expect(await m.unauthorized("t1")).toBe("t2");
    expect(m.snapshot().status).toBe("ready");
    // The fresh token refused too: the session is gone.
    expect(await m.unauthorized("t2")).toBeNull();
    expect(m.snapshot().status).toBe("error");
    expect(ep.calls).toHaveLength(2);
    expect(clock.pending()).toEqual([]); // no renewal on its own after the error
  });

  it("a refused token is not kept when the renewal after the 401 fails: error, not a quiet retry", async () => {
    const clock = new FakeClock();
    const ep = endpoint([{ token: "t1", expires_in: HOUR }, new Error("503")]);
    const m = new TileTokenManager(ep.fetch, clock);
    await m.ensure();
    expect(await m.unauthorized("t1")).toBeNull();
    expect(m.current()).toBeNull();
    expect(m.snapshot().status).toBe("error");
    expect(clock.pending()).toEqual([]);
  });

  it("forgets everything on reset (logout): no token, no timer, late answers dropped", async () => {
    const clock = new FakeClock();
    let release: (v: TileTokenOut) => void = () => {};
    const m = new TileTokenManager(() => new Promise((r) => (release = r)), clock);
    const pending = m.ensure();
    m.reset();
    release({ token: "old-session", expires_in: HOUR });
    expect(await pending).toBeNull();
    expect(m.current()).toBeNull();
    expect(m.snapshot().status).toBe("idle");
    expect(clock.pending()).toEqual([]);
  });
});

describe("tile URLs", () => {
  const origin = "https://lfs.test";
  it("carry the token on the authenticated layers only", async () => {
    const m = new TileTokenManager(async () => ({ token: "a b", expires_in: HOUR }), new FakeClock());
    const t = tileTransform(origin, new Set(["leads"]), m);
    // Before a token exists, nothing is added (the tile answers 401 and the map renews).
    expect(t(`${origin}/tiles/leads/5/16/11.mvt`).url).toBe(`${origin}/tiles/leads/5/16/11.mvt`);
    await m.ensure();
    expect(t(`${origin}/tiles/leads/5/16/11.mvt`).url).toBe(`${origin}/tiles/leads/5/16/11.mvt?token=a%20b`);
    expect(t(`${origin}/tiles/parcels/14/8405/5832.mvt`).url).toBe(`${origin}/tiles/parcels/14/8405/5832.mvt`);
    expect(t("https://api.mapbox.com/tiles/leads/1/2/3").url).toBe("https://api.mapbox.com/tiles/leads/1/2/3");
    expect(t(`${origin}/tiles/leads/1/0/0.mvt?v=x`).url).toBe(`${origin}/tiles/leads/1/0/0.mvt?v=x&token=a%20b`);
    expect(tokenOf(`${origin}/tiles/leads/1/0/0.mvt?v=x&token=a%20b`)).toBe("a b");
    expect(tokenOf(`${origin}/tiles/leads/1/0/0.mvt`)).toBeNull();
    expect(tileLayer(origin, `${origin}/tiles/leads`)).toBeNull();
  });
});

describe("the map's token alert", () => {
  it("shows only in error, and Réessayer renews then reloads the authenticated sources", async () => {
    const clock = new FakeClock();
    const ep = endpoint([new Error("401"), { token: "t2", expires_in: HOUR }]);
    const m = new TileTokenManager(ep.fetch, clock);
    let reloads = 0;
    const control = new TileTokenControl(m, () => reloads++);
    const el = control.onAdd();
    expect(el.style.display).toBe("none");
    await m.ensure(); // fails: error
    expect(el.style.display).toBe("block");
    expect(el.textContent).toContain("Réessayer");
    el.querySelector("button")!.click();
    await flush();
    expect(m.current()).toBe("t2");
    expect(el.style.display).toBe("none");
    expect(reloads).toBe(1);
    control.onRemove();
  });
});
