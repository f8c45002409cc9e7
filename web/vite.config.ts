import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm run dev` proxies the API to a running `make run` stack (GATEWAY_URL)
const gateway = process.env.GATEWAY_URL ?? "http://127.0.0.1:8000";
const api = ["/auth", "/user", "/questions", "/interviews", "/billing/", "/admin/stats"];

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    // the sizes are printed (and bounded) by scripts/sizes.mjs
    chunkSizeWarningLimit: 1000,
  },
  server: { proxy: Object.fromEntries(api.map((p) => [p, gateway])) },
  test: { environment: "node", include: ["tests/**/*.test.ts"] },
});
