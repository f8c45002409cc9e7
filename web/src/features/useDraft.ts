/** The room's answers: autosaved every few seconds and on blur, merged after a reload. */
import { useCallback, useEffect, useRef, useState } from "react";
import { api, must, type Session } from "../api/client";
import { ApiError, messageOf } from "../api/problem";
import {
  clearLocal,
  loadLocal,
  mergeDraft,
  storeLocal,
  toServer,
  type AnswerDraft,
  type Answers,
  type LocalDraft,
} from "./drafts";

export type SaveState = { kind: "idle" | "saving" | "saved" | "unsaved" | "error"; at?: string; message?: string };

const AUTOSAVE_MS = 3000;

export function useDraft(session: Session | undefined, refetch: () => Promise<{ data?: Session }>) {
  const id = session?.id ?? "";
  const [answers, setAnswers] = useState<Answers>({});
  const [save, setSave] = useState<SaveState>({ kind: "idle" });
  const version = useRef<number | null>(null);
  const local = useRef<LocalDraft | null>(null);
  const edits = useRef(0); // edits made since the page opened
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const ready = useRef(false);
  const answersRef = useRef(answers);
  answersRef.current = answers;

  const persist = useCallback(async (): Promise<boolean> => {
    if (!id || !local.current) return true;
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    const editsAtSend = edits.current;
    setSave({ kind: "saving" });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const draft = await must(
          api.PUT("/interviews/{session_id}/draft", {
            params: {
              path: { session_id: id },
              header: version.current !== null ? { "if-match": `"${version.current}"` } : undefined,
            },
            body: { answers: toServer(answersRef.current) },
          }),
        );
        version.current = draft.version;
        if (edits.current === editsAtSend) {
          local.current = null;
          clearLocal(id);
        } else if (local.current) {
          local.current.baseVersion = draft.version;
        }
        setSave({ kind: "saved", at: draft.saved_at });
        return true;
      } catch (error) {
        const stale = error instanceof ApiError && (error.code === "stale_draft" || error.code === "draft_version_required");
        if (stale && attempt === 0) {
          // saved elsewhere meanwhile: take the server's copy, keep this tab's newer edits
          const fresh = (await refetch()).data;
          const merged = mergeDraft(fresh?.draft ?? null, local.current);
          version.current = fresh?.draft?.version ?? null;
          setAnswers(merged.answers);
          answersRef.current = merged.answers;
          continue;
        }
        setSave({ kind: "error", message: messageOf(error) });
        return false;
      }
    }
    return false;
  }, [id, refetch]);

  // first load: the server's draft merged with what this browser kept
  useEffect(() => {
    if (!session || ready.current || session.status !== "ready") return;
    ready.current = true;
    version.current = session.draft?.version ?? null;
    local.current = loadLocal(session.id);
    const merged = mergeDraft(session.draft ?? null, local.current);
    setAnswers(merged.answers);
    if (merged.dirty) {
      setSave({ kind: "unsaved" });
      timer.current = setTimeout(() => void persist(), 500);
    } else {
      local.current = null;
      if (session.draft) setSave({ kind: "saved", at: session.draft.saved_at });
    }
  }, [session, persist]);

  const edit = useCallback(
    (questionId: string, patch: Partial<AnswerDraft>) => {
      const now = new Date().toISOString();
      setAnswers((current) => {
        const next = { ...current, [questionId]: { response: "", ...current[questionId], ...patch } };
        answersRef.current = next;
        local.current = {
          answers: next,
          editedAt: { ...(local.current?.editedAt ?? {}), [questionId]: now },
          baseVersion: version.current,
        };
        storeLocal(id, local.current);
        return next;
      });
      edits.current += 1;
      setSave({ kind: "unsaved" });
      if (timer.current) clearTimeout(timer.current);
      timer.current = setTimeout(() => void persist(), AUTOSAVE_MS);
    },
    [id, persist],
  );

  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);

  const discardLocal = useCallback(() => {
    local.current = null;
    clearLocal(id);
  }, [id]);

  return { answers, edit, flush: persist, save, discardLocal };
}
