/**
 * Chooses and starts the media plane. `auto`: rtpengine when the binary is installed, run by us as a child process
 * on the media address and supervised (a restart tells the engine its calls lost their media); direct media when
 * it is not installed or cannot start. `host:port`: an rtpengine run by someone else, which must answer ping.
 * `off`: direct media.
 */
import fs from 'node:fs';
import { DirectMediaPlane, type MediaPlane } from './media-plane.ts';
import { NgClient } from './rtpengine/ng-client.ts';
import { bindDtmfSocket, RtpEngineMediaPlane } from './rtpengine/rtpengine-media-plane.ts';
import { RtpEngineSupervisor, rtpengineVersion } from './rtpengine/supervisor.ts';

export type RtpEngineMode = 'auto' | 'off' | { host: string; port: number };

export interface MediaSettings {
  mode: RtpEngineMode;
  /** The local address media is relayed on. */
  address: string;
  /** The address phones reach it at, when it differs (NAT). */
  advertisedAddress?: string;
  portMin: number;
  portMax: number;
  binary?: string;
  /** Where the rtpengine the server runs writes call recordings (pcap files) for the server to mix down. */
  recordingDir?: string;
  /** Where the pid and identity of the rtpengine the server runs are kept, to stop one a crashed run left behind. */
  pidFile?: string;
}

export interface StartedMedia {
  plane: MediaPlane;
  /** One line for the log and `pbx doctor`. */
  description: string;
  /** The process id of the rtpengine the server runs, if it runs one. */
  readonly pid?: number;
  /** Stops the plane and the daemon we run, if any. */
  close(): Promise<void>;
}

function direct(reason: string, description: string): StartedMedia {
  const plane = new DirectMediaPlane(reason);
  return { plane, description, close: () => plane.close() };
}

export async function startMedia(
  settings: MediaSettings,
  log: { warn(message: string): void; error(err: unknown, context: string): void; daemon?(line: string): void },
): Promise<StartedMedia> {
  const { mode } = settings;
  if (mode === 'off') return direct('PBX_RTPENGINE is off', 'direct media (PBX_RTPENGINE=off)');
  if (mode === 'auto') {
    const version = rtpengineVersion(settings.binary);
    if (!version) return direct('rtpengine is not installed', 'direct media (rtpengine is not installed)');
    const dtmfSocket = await bindDtmfSocket('127.0.0.1');
    const holder: { plane?: RtpEngineMediaPlane } = {};
    const supervisor = new RtpEngineSupervisor({
      interface: settings.advertisedAddress ? `${settings.address}!${settings.advertisedAddress}` : settings.address,
      portMin: settings.portMin,
      portMax: settings.portMax,
      binary: settings.binary,
      args: [
        `--dtmf-log-dest=127.0.0.1:${dtmfSocket.address().port}`,
        '--delete-delay=0',
        ...(settings.recordingDir ? [`--recording-dir=${settings.recordingDir}`, '--recording-method=pcap', '--recording-format=raw'] : []),
      ],
      onRestart: (reason) => {
        log.warn(`media: ${reason}; calls in flight lost their media and are ended`);
        holder.plane?.lost(reason);
      },
      onLog: log.daemon,
      pidFile: settings.pidFile,
      onLeftover: (outcome) => {
        if (outcome.kind === 'stopped') log.warn(`media: stopped rtpengine (pid ${outcome.pid}) left running by an earlier run`);
        if (outcome.kind === 'kept') log.warn(`media: left rtpengine (pid ${outcome.pid}) of another run running: ${outcome.reason}`);
      },
    });
    try {
      // rtpengine makes its pcaps and metadata folders, but not the spool they live in.
      if (settings.recordingDir) fs.mkdirSync(settings.recordingDir, { recursive: true });
      await supervisor.start();
      holder.plane = await RtpEngineMediaPlane.start({ client: supervisor.client as NgClient, dtmfSocket, recordingDir: settings.recordingDir, onError: log.error });
    } catch (err) {
      await supervisor.stop();
      dtmfSocket.close();
      log.warn(`media: rtpengine could not start (${(err as Error).message}); using direct media`);
      return direct(`rtpengine could not start: ${(err as Error).message}`, `direct media (rtpengine could not start: ${(err as Error).message})`);
    }
    const plane = holder.plane;
    return {
      plane,
      get pid() {
        return supervisor.pid;
      },
      description: `rtpengine ${version} run by the server, media on ${settings.address} ports ${settings.portMin}-${settings.portMax}`,
      async close() {
        await plane.close();
        await supervisor.stop();
      },
    };
  }
  const client = await NgClient.connect({ host: mode.host, port: mode.port });
  if (!(await client.ping())) {
    client.close();
    throw new Error(`PBX_RTPENGINE: no answer to ping from rtpengine at ${mode.host}:${mode.port}`);
  }
  // An external daemon's DTMF log goes where its own configuration says; ours is not told of it.
  const dtmfSocket = await bindDtmfSocket('127.0.0.1');
  const plane = await RtpEngineMediaPlane.start({ client, dtmfSocket, onError: log.error });
  return {
    plane,
    description: `rtpengine at ${mode.host}:${mode.port}`,
    async close() {
      await plane.close();
      client.close();
    },
  };
}
