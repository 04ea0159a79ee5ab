// The web app: built into web/dist, which the server serves at `/`. `npm run dev:web` serves it with hot reload
// and sends the API, Socket.io and SIP over WebSocket to a server on PBX_HTTP_PORT (default 3000).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const server = `http://127.0.0.1:${process.env.PBX_HTTP_PORT ?? 3000}`;

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1200 },
  server: {
    proxy: {
      '/api': server,
      '/socket.io': { target: server, ws: true },
      '/sip': { target: server, ws: true },
    },
  },
});
