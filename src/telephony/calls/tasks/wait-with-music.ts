/**
 * Waiting with music: a caller the PBX answers itself and holds until a party answers. A routed call's caller is
 * answered so when the relay runs and there is music to play (else it hears ringback, a 180, and stays unanswered);
 * an answered caller sent to a router by the party who answered waits so again.
 */
import type { Dialog } from '../../../sip/index.ts';
import { MediaUnavailableError, sdpOf, type StoredSdp } from '../../../media/index.ts';
import type { CallContext } from '../call-context.ts';
import { CallState, DIALOG_ALLOW, type TransferTarget } from '../call-types.ts';
import { asUas } from './ring.ts';
import { transferable } from './blind-transfer.ts';

/**
 * A routed call waits for its router: with the relay and music the PBX answers the caller, which hears music until a
 * party answers; otherwise the caller hears ringback (180) meanwhile.
 */
export function answerWaitingCaller(call: CallContext): void {
  const inbound = call.inbound;
  if (!inbound) return;
  call.listenForCancel();
  if (inbound.transaction.finalSent) return;
  const music = call.bridge.media.holdMusic;
  if (music && call.bridge.unavailable === undefined && sdpOf(inbound.message)) {
    call.answering = answerCaller(call, music).catch((err: unknown) => call.mediaFailed(err));
    return;
  }
  inbound.reply(180, { headers: [['Contact', call.contactFor(inbound.flow, call.dialed)], call.callHeader] });
}

/**
 * The PBX answers the caller: the relay answers its offer for a side that is the PBX (see silentAnswer), the caller's
 * own audio is blocked and it hears `audio` until a party answers.
 */
async function answerCaller(call: CallContext, audio: string): Promise<void> {
  const inbound = call.inbound as NonNullable<CallContext['inbound']>;
  const answer = await call.bridge.answerFromPbx(sdpOf(inbound.message) as StoredSdp, inbound.flow);
  if (call.state === CallState.Ended || inbound.transaction.finalSent) return call.bridge.forget();
  await call.bridge.waitWith(audio);
  if ((call.state as CallState) === CallState.Ended || inbound.transaction.finalSent) return call.bridge.forget();
  const contact = call.contactFor(inbound.flow, call.dialed);
  const callerDialog: Dialog = (call.callerDialog = asUas(inbound, contact));
  call.notices.dialog(callerDialog);
  const headers: Array<[string, string]> = [['Contact', contact], ['Allow', DIALOG_ALLOW], call.callHeader, ...call.notices.answerHeaders(callerDialog, inbound.message)];
  const ok = inbound.reply(200, { body: Buffer.from(answer, 'utf8'), contentType: 'application/sdp', headers });
  call.await2xxAck(ok, inbound.message, inbound.flow);
}

/**
 * Blind transfer to a router: the party who answered hears BYE, and the caller waits again, held by the PBX and
 * hearing music, for the router to ring parties round after round (`take`). Needs the relay: the caller, answered
 * long ago, can only hear music through it.
 */
export function waitAgain(call: CallContext, target: TransferTarget, take: () => void): void {
  const { old } = transferable(call, 'Transferring a call');
  const music = call.bridge.media.holdMusic;
  const unavailable = call.bridge.unavailable ?? (music ? undefined : 'no music on hold is configured');
  if (unavailable !== undefined || !music) throw new MediaUnavailableError('A transfer to a routed number', unavailable ?? '');
  call.bridge.releaseControls();
  call.bye(old.dialog as Dialog);
  call.routeAgain();
  call.bridge.narrowCallerOffer();
  call.notices.transferring(old.party, target, false);
  call.answering = call.bridge.waitWith(music).catch((err: unknown) => call.mediaFailed(err));
  take();
}
