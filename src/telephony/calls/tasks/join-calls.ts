/**
 * Joining two calls of one phone (rfc5589#section-7, the phone's attended transfer by REFER with Replaces): the party
 * who answered the call the phone placed is handed over to the call the phone took, whose caller goes on with it,
 * and the phone leaves both.
 */
import type { Dialog } from '../../../sip/index.ts';
import { sendingAndReceiving, sendsAndReceives, type StoredSdp } from '../../../media/index.ts';
import type { CallContext } from '../call-context.ts';
import { type CallParty, CallState, CallStateError } from '../call-types.ts';
import type { Leg } from '../leg.ts';
import { sdpMessage } from '../media-bridge.ts';

/** Why the call cannot take part in joining two calls now, if it cannot. */
export function joinRefusal(call: CallContext): string | undefined {
  if (call.state !== CallState.Answered || !call.callerDialog || !call.answered?.dialog) return 'the call is not answered';
  if (call.task) return 'a transfer is already in progress';
  if (!call.bridge.sdp.caller) return 'the caller described no media';
  return undefined;
}

/**
 * The call the phone placed: its party who answered is handed over to the other call ({@link adoptCallee}), and the
 * phone, this call's caller, hears BYE. The call itself stays until closed with `transferred`, once the other call
 * has its party.
 */
export function handOverCallee(call: CallContext): Leg {
  const refusal = joinRefusal(call);
  const leg = call.answered;
  if (refusal || !leg) throw new CallStateError(`Joining calls: ${refusal ?? 'the call is not answered'}`);
  call.bridge.releaseControls();
  call.answered = undefined;
  call.legs.splice(call.legs.indexOf(leg), 1);
  call.bye(call.callerDialog as Dialog);
  return leg;
}

/**
 * The call the phone took: its caller goes on with `leg`, the party another call handed over, and the phone (the
 * party who answered here, `from`) hears BYE. The new party is offered the caller's media in this call's relay
 * session and re-INVITEd with it; the caller, if its last answer did not send and receive (the phone had held it by
 * re-INVITE), is re-INVITEd with the new party's media. Needs the relay.
 */
export async function adoptCallee(call: CallContext, leg: Leg, from: CallParty): Promise<void> {
  const refusal = joinRefusal(call);
  const old = call.answered;
  const dialog = leg.dialog;
  if (refusal || !old?.dialog || !dialog) throw new CallStateError(`Joining calls: ${refusal ?? 'the other call is not answered'}`);
  const { bridge } = call;
  const callerDialog = call.callerDialog as Dialog;
  const callerSdp = bridge.sdp.caller as StoredSdp;
  bridge.releaseControls();
  call.legs.push(leg);
  call.takeCallee(leg);
  call.notices.dialog(dialog);
  call.bye(old.dialog);
  const offer = { body: Buffer.from(sendingAndReceiving(callerSdp.body.toString('utf8')), 'utf8'), type: callerSdp.type };
  const body = await bridge.body('offer', sdpMessage(offer), bridge.callerTag, leg.id, leg.flow);
  if (call.state === CallState.Ended) return;
  const answer = await call.reinvite(dialog, body, offer.type);
  if (answer.status >= 300) throw new Error(`the transfer's target refused the re-INVITE with ${answer.status}`);
  if ((call.state as CallState) === CallState.Ended) return;
  // The relay's answer for the caller is not sent: the caller's side of the relay does not change.
  await bridge.body('answer', answer, leg.id, bridge.callerTag, callerDialog.flow);
  bridge.note('callee', answer);
  if (!sendsAndReceives(callerSdp.body.toString('utf8'))) {
    // The caller last answered a hold: it sends again only when asked to.
    const again = await bridge.body('offer', answer, leg.id, bridge.callerTag, callerDialog.flow);
    if ((call.state as CallState) === CallState.Ended) return;
    const callerAnswer = await call.reinvite(callerDialog, again, answer.headers.get('Content-Type'));
    if (callerAnswer.status >= 300) throw new Error(`the caller refused the transfer's re-INVITE with ${callerAnswer.status}`);
    await bridge.body('answer', callerAnswer, bridge.callerTag, leg.id, leg.flow);
    bridge.note('caller', callerAnswer);
    bridge.callerChose();
  }
  if ((call.state as CallState) === CallState.Ended) return;
  call.notices.transferring(from, leg.party, true);
  call.notices.transferred(from, leg);
}
