import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "@testing-library/react";
import { restoreSession } from "./auth";
import { getToken, setToken, takeSessionEnd } from "./client";

// Another tab of the app, as the channel sees it.
const user = { id: 3, email: "o@x.fr", full_name: "Olivia", role: "OPS" };

afterEach(() => {
  setToken(null);
  sessionStorage.clear();
  takeSessionEnd();
});

describe("a session shared by the app's tabs", () => {
  it("a new tab takes the session of an open one, and a logout there ends it here, said in French", async () => {
    expect(typeof BroadcastChannel).toBe("function");
    const other = new BroadcastChannel("lfs-session");
    other.onmessage = (e) => {
      if (e.data?.type === "ask") other.postMessage({ type: "share", token: "T-other", user });
    };
    restoreSession();
    await waitFor(() => expect(getToken()).toBe("T-other"));
    expect(sessionStorage.getItem("lfs.token")).toBe("T-other");
    expect(JSON.parse(sessionStorage.getItem("lfs.user") ?? "{}").email).toBe("o@x.fr");
    other.postMessage({ type: "logout" });
    await waitFor(() => expect(getToken()).toBeNull());
    expect(takeSessionEnd()).toBe("Vous vous êtes déconnecté dans un autre onglet.");
    expect(takeSessionEnd()).toBeNull(); // said once
    other.close();
  });

  it("answers a new tab's question with this tab's session, and only with one", async () => {
    const other = new BroadcastChannel("lfs-session");
    const heard: unknown[] = [];
    other.onmessage = (e) => heard.push(e.data);
    restoreSession(); // nothing stored: this tab asks
    await waitFor(() => expect(heard).toContainEqual({ type: "ask" }));
    other.postMessage({ type: "ask" });
    await new Promise((r) => setTimeout(r, 50));
    expect(heard.filter((m) => (m as { type: string }).type === "share")).toEqual([]);
    sessionStorage.setItem("lfs.token", "T-here");
    sessionStorage.setItem("lfs.user", JSON.stringify(user));
    setToken("T-here");
    other.postMessage({ type: "ask" });
    await waitFor(() => expect(heard).toContainEqual({ type: "share", token: "T-here", user }));
    other.close();
  });
});
