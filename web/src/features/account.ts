/** Who is signed in: the session's state for React, the boot-time refresh, /user/me. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";
import { api, auth, must } from "../api/client";
import type { SignedOutReason } from "../api/session";
import { clearAllLocal } from "./drafts";

type AuthState = { status: "checking" | "in" | "out"; reason?: SignedOutReason };

let state: AuthState = { status: "checking" };
const listeners = new Set<() => void>();
const set = (next: AuthState) => {
  state = next;
  listeners.forEach((l) => l());
};
auth.subscribe((signedIn, reason) => set(signedIn ? { status: "in" } : { status: "out", reason }));

// a reload keeps nobody's token: the refresh cookie, if there is one, brings it back
let booted = false;
export function bootSession(): void {
  if (booted) return;
  booted = true;
  void auth.refresh().then((ok) => {
    if (!ok && state.status === "checking") set({ status: "out" });
  });
}

export function useAuthState(): AuthState {
  useEffect(bootSession, []);
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => state,
  );
}

export function useMe() {
  return useQuery({
    queryKey: ["me"],
    queryFn: () => must(api.GET("/user/me")),
    enabled: auth.signedIn,
  });
}

export function useSignOut() {
  const client = useQueryClient();
  return async () => {
    try {
      await api.POST("/auth/logout", { body: {} });
    } finally {
      auth.signOut();
      client.clear();
      clearAllLocal();
    }
  };
}

/** "Monday 7 Dec, 01:00" in the reader's own time zone. */
export function localTime(iso: string | null | undefined): string {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, {
    weekday: "long",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  });
}
