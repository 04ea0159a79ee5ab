/**
 * The web app (web/, built by Vite into web/dist) on the same origin as the API, Socket.io and SIP over WebSocket.
 * Hashed assets are cached for good; the page itself never, so a new build is seen at the next load. The app's
 * own routes (/, /login, /pbx/...) answer its page, and the browser's router takes over from there.
 */
import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

export const WEB_DIST = path.resolve(import.meta.dirname, '../../web/dist');

export async function registerWebApp(app: FastifyInstance, root = WEB_DIST): Promise<void> {
  const index = path.join(root, 'index.html');
  if (!fs.existsSync(index)) {
    app.log.warn(`The web app is not built (${path.relative(process.cwd(), index)} is missing): run npm run build:web`);
    const missing = async (_request: unknown, reply: { code(n: number): { type(t: string): { send(s: string): unknown } } }) =>
      reply.code(503).type('text/plain; charset=utf-8').send('The web app is not built: run `npm run build:web`, then reload. The API is at /api and its reference at /docs.\n');
    for (const url of ['/', '/login', '/pbx', '/pbx/*']) app.get(url, { config: { public: true }, schema: { hide: true } }, missing);
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: false,
    setHeaders: (res, file) => {
      res.header('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const page = async (_request: unknown, reply: { header(k: string, v: string): unknown; sendFile(f: string): unknown }) => {
    reply.header('Cache-Control', 'no-cache');
    return reply.sendFile('index.html');
  };
  for (const url of ['/', '/login', '/pbx', '/pbx/*']) app.get(url, { config: { public: true }, schema: { hide: true } }, page);
}
