/**
 * A transfer asked by a phone with REFER (rfc3515): accepted (202), and the transferor told at once how it went, as a
 * PBX that takes the transfer over does.
 */
import { type Dialog, type IncomingRequest, NO_USER, type SipStack } from '../../../sip/index.ts';
import type { CallContext } from '../call-context.ts';
import { transferable } from './blind-transfer.ts';

/**
 * Accepts a REFER (202) and tells its sender at once how the transfer went: a NOTIFY in `dialog` whose sipfrag is
 * `status` (rfc3515#section-2.4.5).
 */
export function answerRefer(stack: SipStack, req: IncomingRequest, dialog: Dialog, status: string): void {
  req.reply(202);
  const notify = dialog.createRequest('NOTIFY', {
    body: Buffer.from(`SIP/2.0 ${status}\r\n`, 'utf8'),
    contentType: 'message/sipfrag;version=2.0',
    headers: [['Event', 'refer'], ['Subscription-State', 'terminated;reason=noresource']],
  });
  stack.sendRequest(notify, dialog.flow, NO_USER);
}

/**
 * A REFER from the party who answered, its target found: accepted, the transferor is told at once that it worked
 * (`SIP/2.0 200 OK`), and the caller is transferred blind by `transfer`. The transferor's phone hangs up, or hears
 * BYE. A call that cannot be transferred now gets 491.
 */
export function acceptRefer(call: CallContext, req: IncomingRequest, transfer: () => void): void {
  let transferor: Dialog;
  try {
    transferor = transferable(call, 'Transferring a call').old.dialog as Dialog;
  } catch (err) {
    req.reply(491, { reason: `Request Pending (${(err as Error).message})` });
    return;
  }
  answerRefer(call.stack, req, transferor, '200 OK');
  transfer();
}
