/**
 * Drafts: what the candidate typed, saved to the server every few seconds and when a field
 * loses focus, and kept in this browser until the server has it. After a reload, or on
 * another device, the two are merged question by question: an edit the server has not seen
 * wins over the server's copy only when it is newer than the server's save.
 */

import type { components } from "../api/schema";

export type Language = NonNullable<components["schemas"]["AnswerIn"]["language"]>;
export type AnswerDraft = { response: string; language?: Language | null };
export type Answers = Record<string, AnswerDraft>;

export type ServerDraft = {
  answers: Array<{ question_id: string; response: string; language?: Language | null }>;
  saved_at: string;
  version: number;
};

/** Edits not yet acknowledged by the server, with when each question was last edited. */
export type LocalDraft = {
  answers: Answers;
  editedAt: Record<string, string>;
  baseVersion: number | null;
};

export function fromServer(draft: ServerDraft | null | undefined): Answers {
  const out: Answers = {};
  for (const a of draft?.answers ?? []) out[a.question_id] = { response: a.response, language: a.language };
  return out;
}

export function toServer(answers: Answers): ServerDraft["answers"] {
  return Object.entries(answers).map(([question_id, a]) => ({
    question_id,
    response: a.response,
    ...(a.language ? { language: a.language } : {}),
  }));
}

const same = (a: AnswerDraft | undefined, b: AnswerDraft | undefined) =>
  (a?.response ?? "") === (b?.response ?? "") && (a?.language ?? null) === (b?.language ?? null);

/** The answers to show, and whether they still differ from what the server holds. */
export function mergeDraft(
  server: ServerDraft | null | undefined,
  local: LocalDraft | null | undefined,
): { answers: Answers; dirty: boolean } {
  const saved = fromServer(server);
  if (!local) return { answers: saved, dirty: false };
  const serverTime = server ? Date.parse(server.saved_at) : -Infinity;
  const serverMovedOn = server != null && server.version !== local.baseVersion;
  const answers: Answers = { ...saved };
  let dirty = false;
  for (const [id, mine] of Object.entries(local.answers)) {
    const edited = Date.parse(local.editedAt[id] ?? "") || -Infinity;
    // untouched since the server's save on another device: the server's copy is newer
    const keepMine = !serverMovedOn || edited > serverTime;
    if (keepMine && !same(mine, saved[id])) {
      answers[id] = mine;
      dirty = true;
    }
  }
  return { answers, dirty };
}

const key = (sessionId: string) => `draft:${sessionId}`;

export function loadLocal(sessionId: string, storage: Storage = localStorage): LocalDraft | null {
  try {
    const raw = storage.getItem(key(sessionId));
    return raw ? (JSON.parse(raw) as LocalDraft) : null;
  } catch {
    return null;
  }
}

export function storeLocal(sessionId: string, draft: LocalDraft, storage: Storage = localStorage): void {
  try {
    storage.setItem(key(sessionId), JSON.stringify(draft));
  } catch {
    /* storage full or disabled: the server copy still comes every few seconds */
  }
}

export function clearLocal(sessionId: string, storage: Storage = localStorage): void {
  try {
    storage.removeItem(key(sessionId));
  } catch {
    /* nothing kept */
  }
}

/** On sign-out or account deletion: no answer stays behind on a shared computer. */
export function clearAllLocal(storage: Storage = localStorage): void {
  try {
    const names = Array.from({ length: storage.length }, (_, i) => storage.key(i) ?? "");
    for (const name of names) if (name.startsWith("draft:")) storage.removeItem(name);
  } catch {
    /* storage disabled */
  }
}
