/**
 * Starts a throwaway PostgreSQL cluster on a free loopback port; stop() stops and removes it, pause() stops the
 * server keeping its data, resume() starts it again on the same port.
 */
export function startPostgres(): Promise<{ url: string; stop(): void; pause(): void; resume(): void }>;
