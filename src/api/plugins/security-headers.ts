/**
 * Headers that tell the browser what the app may do, on every answer (the page, its assets, the API, errors).
 *
 * - `Content-Security-Policy` (CSP Level 3): scripts, styles and connections from this origin only, and no inline
 *   script or style. The built page has none: Vite emits one module script and one stylesheet, and React and uPlot
 *   set styles through the DOM, which style-src does not govern. `connect-src 'self'` covers the WebSockets of
 *   SIP (`/sip`) and Socket.io on the same host and port (CSP3 lets 'self' match ws: and wss: there). The page's
 *   icon is `data:,`, hence `img-src data:`. The call's audio plays from a MediaStream, which media-src does not
 *   govern.
 * - Swagger UI at /docs inserts style elements of its own, so its pages allow inline styles (scripts still not).
 * - Framing is refused twice: `frame-ancestors 'none'` and, for browsers older than CSP2, `X-Frame-Options: DENY`.
 * - `Referrer-Policy: no-referrer`: the app's URLs (call and user ids) are nobody else's business.
 * - `Strict-Transport-Security` (RFC 6797) only when the answer went over HTTPS (ours, or a trusted proxy's per
 *   X-Forwarded-Proto): sent over plain HTTP it would mean nothing, and a server without a certificate must stay
 *   reachable. No includeSubDomains: other hosts of the domain are not ours to bind.
 */
import type { FastifyInstance } from 'fastify';

const common = [
  "default-src 'self'",
  "script-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
];

export const APP_CSP = [...common, "style-src 'self'"].join('; ');
export const DOCS_CSP = [...common, "style-src 'self' 'unsafe-inline'"].join('; ');
export const HSTS = 'max-age=31536000';

const DOCS = /^\/docs(?:[/?]|$)/;

export function registerSecurityHeaders(app: FastifyInstance, options: { https: boolean }): void {
  // onSend sees every answer, errors and 404s included, whoever produced it.
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('content-security-policy', DOCS.test(request.url) ? DOCS_CSP : APP_CSP);
    reply.header('x-frame-options', 'DENY');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (options.https || request.protocol === 'https') reply.header('strict-transport-security', HSTS);
    return payload;
  });
}
