import { describe, expect, it } from "vitest";
import { age, bytes, date, distance, duration, euros, num, percent, score, surface, week } from "./format";

// French formatting uses a narrow no-break space (U+202F) as thousands separator.
const nb = (s: string) => s.replace(/[\u202f\u00a0]/g, " ");

describe("format", () => {
  it("shows hectares from 1 ha and m² below", () => {
    expect(nb(surface(52_300))).toBe("5,23 ha");
    expect(nb(surface(9_999))).toBe("9 999 m²");
    expect(surface(null)).toBe("—");
  });
  it("compacts euros", () => {
    expect(nb(euros(3_500_000))).toBe("3,5 M€");
    expect(nb(euros(45_000))).toBe("45 k€");
    expect(nb(euros(900))).toBe("900 €");
  });
  it("formats distances, numbers and sizes", () => {
    expect(nb(distance(4_400))).toBe("4,4 km");
    expect(distance(850)).toBe("850 m");
    expect(num("abc")).toBe("—");
    expect(bytes(2 * 1024 * 1024)).toBe("2 Mo");
  });
  it("counts whole days of age", () => {
    const now = new Date("2026-11-25T10:00:00Z");
    expect(age("2026-11-25T08:00:00Z", now)).toBe("aujourd'hui");
    expect(age("2026-11-20T09:00:00Z", now)).toBe("5 j");
  });
});

describe("durations, weeks, scores", () => {
  it("reads durations in minutes, hours, days or months, never 0.0005", () => {
    expect(duration(0.0005)).toBe("< 1 min");
    expect(duration(0.01)).toBe("14 min");
    expect(nb(duration(0.25))).toBe("6 h");
    expect(nb(duration(0.5))).toBe("12 h");
    expect(nb(duration(3.46))).toBe("3,5 j");
    expect(nb(duration(45))).toBe("45 j");
    expect(nb(duration(120))).toBe("3,9 mois");
    expect(duration(null)).toBe("—");
  });
  it("names weeks and scores in French", () => {
    expect(week("2026-11-30")).toBe("sem. du 30/11");
    expect(score(53.333)).toBe("53,3");
    expect(score(null)).toBe("–");
    expect(nb(percent(0.425))).toBe("43 %");
  });
  it("formats dates in French", () => {
    expect(date("2026-11-30T10:00:00Z")).toBe("30/11/2026");
  });
});
