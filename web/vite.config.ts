/// <reference types="vitest" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The API (uvicorn) listens on 127.0.0.1:8000 during development; Vite proxies to it so the
// browser sees one origin (no CORS, same Authorization handling as in production).
const API = process.env.LFS_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: {
      "/api": API,
      "/tiles": API,
      "/ogc": API,
      "/docs": API,
    },
  },
  build: {
    outDir: "dist",
    sourcemap: false,
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        // Heavy libraries in their own long-cached chunks, loaded only by the pages that need them.
        manualChunks: {
          maplibre: ["maplibre-gl"],
          recharts: ["recharts"],
          react: ["react", "react-dom", "react-router-dom", "@tanstack/react-query"],
        },
      },
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
  },
});
