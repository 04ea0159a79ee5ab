/**
 * Who may speak in a call's dialog. The Call-ID and tags of a dialog are no secret (they cross the network in clear,
 * and every proxy on the path sees them), so a request that names a dialog is taken only from the peer that dialog
 * was established with (rfc3261#section-26.1.4 leaves in-dialog requests to the UA's judgement; a PBX that lets
 * anyone send BYE lets anyone end any call):
 * - over a connection (TCP, TLS, WebSocket): the same connection, the flow its INVITE or 2xx came on or went out on
 *   (rfc5626's flow); a browser is known by its socket, not by an address many share behind one NAT;
 * - over UDP: the same source address. The port is not compared: a phone may send from another port than the one it
 *   listens on, and a NAT may map it anew; the address a NAT shows does not change within a call.
 * A request from elsewhere may still be the party's (a phone whose address changed): it proves it with the digest
 * credentials of the party's extension, as a new INVITE does.
 */
import type { Dialog, Flow } from '../../sip/index.ts';

/** An address as compared: an IPv4 address seen through an IPv6 socket (`::ffff:192.0.2.1`) is the IPv4 one. */
function plainAddress(address: string): string {
  return address.replace(/^\[|\]$/g, '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').toLowerCase();
}

/** Whether a request that came on `flow` comes from the peer `dialog` was established with. */
export function fromDialogPeer(dialog: Dialog, flow: Flow): boolean {
  const known = dialog.flow;
  if (known.reliable || flow.reliable) return known.id === flow.id;
  return plainAddress(known.remoteAddress) === plainAddress(flow.remoteAddress);
}
