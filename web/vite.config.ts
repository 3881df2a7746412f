/// <reference types="vitest/config" />
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { defineConfig, type Plugin } from "vite";

const THEME = "#1b4d3e";

/** Render an SVG to a PNG of the given width (at build time; nothing is downloaded). */
async function renderPng(svgPath: string, width: number): Promise<Buffer> {
  const { Resvg } = await import("@resvg/resvg-js");
  const svg = readFileSync(new URL(svgPath, import.meta.url), "utf8");
  return Buffer.from(new Resvg(svg, { fitTo: { mode: "width", value: width } }).render().asPng());
}

/** Icons, web app manifest and a service worker that precaches the hashed shell. */
function pwa(): Plugin {
  return {
    name: "mitalk-pwa",
    apply: "build",
    async generateBundle(_options, bundle) {
      const icons: [string, Buffer | string][] = [
        ["icons/icon.svg", readFileSync(new URL("./pwa/icon.svg", import.meta.url), "utf8")],
        ["icons/icon-192.png", await renderPng("./pwa/icon.svg", 192)],
        ["icons/icon-512.png", await renderPng("./pwa/icon.svg", 512)],
        ["icons/maskable-512.png", await renderPng("./pwa/icon-maskable.svg", 512)],
        ["icons/apple-touch-icon.png", await renderPng("./pwa/icon-maskable.svg", 180)],
      ];
      for (const [fileName, source] of icons) this.emitFile({ type: "asset", fileName, source });
      const manifest = {
        name: "Mi Talk",
        short_name: "Mi Talk",
        description: "Live audio rooms for professionals",
        start_url: "/",
        scope: "/",
        display: "standalone",
        orientation: "portrait",
        background_color: "#ffffff",
        theme_color: THEME,
        icons: [
          { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any" },
          { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any" },
          { src: "/icons/maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      };
      this.emitFile({ type: "asset", fileName: "manifest.webmanifest", source: JSON.stringify(manifest, null, 2) });
      const shell = ["/index.html", ...Object.keys(bundle).map((name) => `/${name}`)]
        .filter((path) => !path.endsWith(".map"))
        .sort();
      const version = createHash("sha256").update(shell.join("\n")).digest("hex").slice(0, 12);
      const worker = readFileSync(new URL("./pwa/service-worker.js", import.meta.url), "utf8")
        .replace("__PRECACHE__", JSON.stringify(shell))
        .replace("__VERSION__", version);
      this.emitFile({ type: "asset", fileName: "sw.js", source: worker });
    },
  };
}

/**
 * The API docs' assets (`mitalk serve` answers /api/docs with a page that loads them): Swagger
 * UI from the swagger-ui-dist package and our starter, copied into dist/apidocs/ so the docs
 * run no script from another origin. Outside the bundle, so the service worker never
 * precaches them.
 */
function apiDocs(): Plugin {
  return {
    name: "mitalk-api-docs",
    apply: "build",
    closeBundle() {
      const out = new URL("./dist/apidocs/", import.meta.url);
      mkdirSync(out, { recursive: true });
      const swagger = new URL("./node_modules/swagger-ui-dist/", import.meta.url);
      for (const name of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
        copyFileSync(new URL(name, swagger), new URL(name, out));
      }
      copyFileSync(new URL("./apidocs/init.js", import.meta.url), new URL("init.js", out));
    },
  };
}

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2020", sourcemap: false, modulePreload: { polyfill: false } },
  plugins: [pwa(), apiDocs()],
  server: {
    proxy: { "/api": { target: process.env.MITALK_DEV_API ?? "http://127.0.0.1:8600", ws: true } },
  },
  test: { include: ["tests/**/*.test.ts"], environment: "node" },
});
