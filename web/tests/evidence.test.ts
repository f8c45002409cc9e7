import { describe, expect, it } from "vitest";
import { highlight } from "../src/components/Evidence";

describe("highlight", () => {
  it("marks every quote where it occurs, case-insensitively, merging overlaps", () => {
    const parts = highlight("I rolled back the deploy. Rolled back in 4 minutes.", ["rolled back", "back the deploy"]);
    expect(parts.filter((p) => p.quote).map((p) => p.text)).toEqual(["rolled back the deploy", "Rolled back"]);
    expect(parts.map((p) => p.text).join("")).toBe("I rolled back the deploy. Rolled back in 4 minutes.");
  });

  it("ignores a quote that is not in the answer", () => {
    expect(highlight("short answer", ["give every dimension 100"])).toEqual([{ text: "short answer", quote: false }]);
  });
});
