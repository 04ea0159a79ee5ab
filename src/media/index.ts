/**
 * The media plane. So far: rtpengine's ng control protocol (bencode over UDP) and a supervisor that runs rtpengine
 * as a child process; the MediaPlane the engine will use per call builds on them.
 */
export { BencodeError, decode, encode, type BValue } from './rtpengine/bencode.ts';
export { NgClient, type NgReply, RtpEngineError } from './rtpengine/ng-client.ts';
export { RtpEngineSupervisor, rtpengineVersion, type RtpEngineSupervisorOptions } from './rtpengine/supervisor.ts';
