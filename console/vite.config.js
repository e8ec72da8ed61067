import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The bundle ships inside the Python package (app/web/console_dist) and is served at
// /console/ by the API process; it must be byte-identical from one build to the next
// (CI rebuilds it and fails on a difference), so no timestamps, no source maps.
export default defineConfig({
  base: '/console/',
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
  build: {
    outDir: '../app/web/console_dist',
    emptyOutDir: true,
    sourcemap: false,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: { proxy: { '/graphql': { target: 'http://127.0.0.1:8000', ws: true }, '/export': 'http://127.0.0.1:8000' } },
  test: { environment: 'jsdom', include: ['tests/**/*.test.{js,jsx}'], testTimeout: 60000 },
});
