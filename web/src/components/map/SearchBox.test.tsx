import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { setToken } from "../../api/client";
import SearchBox from "./SearchBox";

const HIT = {
  kind: "parcel",
  id: "69114000AN0063",
  label: "69114 AN 63",
  bbox: [4.4, 46.2, 4.41, 46.21],
  center: [4.405, 46.205],
  source: "open_data",
};

beforeEach(() => setToken("t"));
afterEach(() => vi.unstubAllGlobals());

describe("SearchBox", () => {
  it("finds a parcel by its cadastral reference and hands it to the map", async () => {
    const fetch = vi.fn(
      async (_url: RequestInfo | URL) =>
        new Response(JSON.stringify({ items: [HIT] }), {
          headers: { "content-type": "application/json" },
        }),
    );
    vi.stubGlobal("fetch", fetch);
    const onPick = vi.fn();
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={qc}>
        <SearchBox onPick={onPick} />
      </QueryClientProvider>,
    );
    const input = screen.getByRole("combobox", { name: /parcelle/ });
    fireEvent.change(input, { target: { value: "69114 AN 63" } });
    const option = await screen.findByRole("option", { name: /69114 AN 63/ });
    expect(option).toHaveTextContent("parcelle");
    expect(String(fetch.mock.calls[0][0])).toContain("q=69114+AN+63");
    fireEvent.mouseDown(option);
    expect(onPick).toHaveBeenCalledWith(HIT);
    expect(input).toHaveValue("69114 AN 63");
  });
});
