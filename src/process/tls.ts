/**
 * The certificates the server's doors use: SIP over TLS (PBX_SIP_TLS_CERT, PBX_SIP_TLS_KEY) and HTTPS, which also
 * makes SIP over WebSocket secure (PBX_HTTP_TLS_CERT, PBX_HTTP_TLS_KEY). A door gets TLS when both of its files
 * are configured; a file that cannot be read stops the start, naming its variable.
 */
import fs from 'node:fs';
import type { Config } from '../config/index.ts';

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

function readTlsPair(cert: string | undefined, key: string | undefined, variables: [string, string]): TlsPair | undefined {
  if (!cert || !key) return undefined;
  const read = (file: string, variable: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  return { cert: read(cert, variables[0]), key: read(key, variables[1]) };
}

export const readSipTls = (config: Config) => readTlsPair(config.sipTlsCert, config.sipTlsKey, ['PBX_SIP_TLS_CERT', 'PBX_SIP_TLS_KEY']);

export const readHttpsTls = (config: Config) => readTlsPair(config.httpTlsCert, config.httpTlsKey, ['PBX_HTTP_TLS_CERT', 'PBX_HTTP_TLS_KEY']);
