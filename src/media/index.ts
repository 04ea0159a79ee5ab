/**
 * The media plane: the {@link MediaPlane} the engine uses per call, on rtpengine (its ng control protocol, and a
 * supervisor that runs it as a child process) or direct (SDP passed through).
 */
export { BencodeError, decode, encode, type BValue } from './rtpengine/bencode.ts';
export { NgClient, type NgReply, RtpEngineError } from './rtpengine/ng-client.ts';
export { RtpEngineSupervisor, rtpengineVersion, type RtpEngineSupervisorOptions } from './rtpengine/supervisor.ts';
export { CALL_ID_PREFIX, RtpEngineMediaPlane } from './rtpengine/rtpengine-media-plane.ts';
export { DirectMediaPlane, type DtmfEvent, type FinishedRecording, type MediaPlane, type MediaProfile, MediaUnavailableError, type SdpDtmf, type SdpStep } from './media-plane.ts';
export { ensureHoldMusic, ensureRingback, holdMusic, ringbackTone, wavFile } from './hold-music.ts';
export { type MediaSettings, type RtpEngineMode, startMedia, type StartedMedia } from './start.ts';
export { type Mixdown, mixdown } from './recording/mixdown.ts';
export { type CapturedDatagram, readPcap } from './recording/pcap.ts';
export { keyId, RecordingVault } from './recording/vault.ts';
export { isSdp, sdpHolds, sdpOf, type StoredSdp, type WithBody, withoutTelephoneEvent } from './sdp.ts';
export { narrowOffer, sendingAndReceiving, sendsAndReceives, silentAnswer, silentOffer } from './silent-sdp.ts';
