import { describe, expect, it } from "vitest";
import { mergeDraft, toServer, type LocalDraft, type ServerDraft } from "../src/features/drafts";

const server = (version: number, saved_at: string, answers: Record<string, string>): ServerDraft => ({
  version,
  saved_at,
  answers: Object.entries(answers).map(([question_id, response]) => ({ question_id, response })),
});

describe("mergeDraft", () => {
  it("shows the server's draft when this browser kept nothing (another device, or saved)", () => {
    const merged = mergeDraft(server(3, "2026-12-03T10:00:00Z", { q1: "from the laptop" }), null);
    expect(merged).toEqual({ answers: { q1: { response: "from the laptop", language: undefined } }, dirty: false });
  });

  it("keeps edits the server has not seen when nobody saved since", () => {
    const local: LocalDraft = {
      answers: { q1: { response: "typed before the reload" } },
      editedAt: { q1: "2026-12-03T10:00:05Z" },
      baseVersion: 3,
    };
    const merged = mergeDraft(server(3, "2026-12-03T10:00:00Z", { q1: "older" }), local);
    expect(merged.answers.q1?.response).toBe("typed before the reload");
    expect(merged.dirty).toBe(true);
  });

  it("takes another device's newer save over this browser's older edit, question by question", () => {
    const local: LocalDraft = {
      answers: { q1: { response: "old phone text" }, q2: { response: "phone edit after the laptop saved" } },
      editedAt: { q1: "2026-12-03T09:00:00Z", q2: "2026-12-03T10:30:00Z" },
      baseVersion: 2,
    };
    const merged = mergeDraft(server(5, "2026-12-03T10:00:00Z", { q1: "laptop text", q2: "laptop q2" }), local);
    expect(merged.answers.q1?.response).toBe("laptop text");
    expect(merged.answers.q2?.response).toBe("phone edit after the laptop saved");
    expect(merged.dirty).toBe(true);
  });

  it("is clean when the kept edits equal the server's copy", () => {
    const local: LocalDraft = { answers: { q1: { response: "same" } }, editedAt: { q1: "2026-12-03T11:00:00Z" }, baseVersion: 1 };
    expect(mergeDraft(server(1, "2026-12-03T10:00:00Z", { q1: "same" }), local).dirty).toBe(false);
  });

  it("drops an empty language when sending", () => {
    expect(toServer({ q1: { response: "x", language: null }, q2: { response: "y", language: "python" } })).toEqual([
      { question_id: "q1", response: "x" },
      { question_id: "q2", response: "y", language: "python" },
    ]);
  });
});

describe("clearAllLocal", () => {
  it("removes every kept draft and nothing else", async () => {
    const { clearAllLocal, storeLocal, loadLocal } = await import("../src/features/drafts");
    const data = new Map<string, string>();
    const storage = {
      getItem: (k: string) => data.get(k) ?? null,
      setItem: (k: string, v: string) => void data.set(k, v),
      removeItem: (k: string) => void data.delete(k),
      clear: () => data.clear(),
      key: (i: number) => [...data.keys()][i] ?? null,
      get length() {
        return data.size;
      },
    } as Storage;
    storeLocal("s1", { answers: { q: { response: "x" } }, editedAt: {}, baseVersion: null }, storage);
    storage.setItem("theme", "dark");
    clearAllLocal(storage);
    expect(loadLocal("s1", storage)).toBeNull();
    expect(storage.getItem("theme")).toBe("dark");
  });
});
