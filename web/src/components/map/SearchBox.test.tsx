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

  it("lists addresses after the communes, and says when the geocoder failed", async () => {
    const commune = { kind: "commune", id: "69123", label: "Lyon (69123)", bbox: [4.77, 45.7, 4.9, 45.8], center: [4.83, 45.76], source: "open_data" };
    const address = {
      kind: "address",
      id: "69381_4732",
      label: "Place de la Mairie 69001 Lyon",
      bbox: [4.832, 45.76, 4.832, 45.76],
      center: [4.832, 45.76],
      source: "géocodeur",
      type: "street",
      city: "Lyon",
    };
    let answer: unknown = { items: [commune, address], warnings: [] };
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(JSON.stringify(answer), { headers: { "content-type": "application/json" } })),
    );
    const onPick = vi.fn();
    const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    render(
      <QueryClientProvider client={qc}>
        <SearchBox onPick={onPick} />
      </QueryClientProvider>,
    );
    const input = screen.getByRole("combobox", { name: /adresse/ });
    fireEvent.change(input, { target: { value: "lyon mairie" } });
    const options = await screen.findAllByRole("option");
    expect(options.map((o) => o.textContent)).toEqual(["communeLyon (69123)", "adressePlace de la Mairie 69001 Lyon"]);
    fireEvent.mouseDown(options[1]);
    expect(onPick).toHaveBeenCalledWith(address);
    // The geocoder did not answer: the communes still, and a French warning.
    answer = {
      items: [commune],
      warnings: [{ code: "geocoder.timeout", message: "Recherche d'adresses indisponible : le géocodeur n'a pas répondu à temps." }],
    };
    fireEvent.change(input, { target: { value: "lyon place" } });
    expect(await screen.findByTestId("search-warning")).toHaveTextContent("Recherche d'adresses indisponible");
    expect(screen.getAllByRole("option")).toHaveLength(1);
  });
});
