/**
 * A leg toward a carrier: where its INVITE goes (the trunk's server, or its outbound proxy as a pre-loaded Route),
 * and how it presents itself there. The number is written as the carrier wants it; the caller ID goes in From and in
 * P-Asserted-Identity (RFC 3325 section 9.1), and a withheld one is From anonymous with `Privacy: id` (RFC 3323
 * section 4.2), the asserted identity still given to the carrier, which is trusted to strip it before the far end.
 */
import { DigestClient, type SipStack } from '../../sip/index.ts';
import type { LegAddressing, RingTarget } from '../calls/call-types.ts';
import { formatForCarrier } from './numbering.ts';
import { carrierDomain, reachTrunkServer, trunkServerUri } from './trunk-registration.ts';
import type { Trunk, TrunkServer } from './types.ts';

/** The SIP URI of `user` at a trunk's server (its address with the user in front). */
export function serverUri(user: string, server: TrunkServer): string {
  return trunkServerUri(server).replace(/^sip:/, `sip:${user}@`);
}

/** What the far end is shown: a caller ID to present (E.164) or none, and whether it is withheld. */
export interface Presentation {
  callerId: string | null;
  withhold: boolean;
}

/** From, To, P-Asserted-Identity and Privacy of a call out through `trunk` to `dialled` (already in the carrier's format). */
export function addressingFor(trunk: Trunk, dialled: string, presentation: Presentation): LegAddressing {
  const domain = carrierDomain(trunk);
  const shown = presentation.callerId === null ? null : formatForCarrier(presentation.callerId, trunk.numberFormat, trunk.country);
  const fromUser = shown ?? trunk.username ?? 'anonymous';
  // Carriers that require reliable provisional responses (rfc3262) would refuse an INVITE without it (421).
  const headers: Array<[string, string]> = [['Supported', '100rel']];
  let from = `<sip:${fromUser}@${domain}>`;
  if (presentation.withhold) {
    from = '"Anonymous" <sip:anonymous@anonymous.invalid>';
    headers.push(['Privacy', 'id']);
  }
  if (shown !== null) headers.push(['P-Asserted-Identity', `<sip:${shown}@${domain}>`]);
  const auth = trunk.password !== null && (trunk.authUsername ?? trunk.username) ? new DigestClient({ username: (trunk.authUsername ?? trunk.username) as string, password: trunk.password }) : undefined;
  return { from, to: `<sip:${dialled}@${domain}>`, headers, auth, codecs: trunk.codecs.length > 0 ? trunk.codecs : undefined };
}

/**
 * The ring target of one trunk for a call to `dialled` (in the carrier's format): the first server `isUp` allows,
 * reached directly or through the trunk's outbound proxy. Undefined when no server can be reached (all down, or
 * none resolves).
 */
export async function trunkTarget(stack: SipStack, trunk: Trunk, e164: string, dialled: string, presentation: Presentation, isUp: (server: number) => boolean): Promise<RingTarget | undefined> {
  for (const [index, server] of trunk.servers.entries()) {
    if (!isUp(index)) continue;
    try {
      const { flow, route } = await reachTrunkServer(stack, trunk, server);
      return {
        party: { extensionId: undefined, number: e164 },
        contacts: [{ binding: { contact: serverUri(dialled, server), path: route ? [route] : [] }, flow }],
        addressing: addressingFor(trunk, dialled, presentation),
      };
    } catch {
      // This server cannot be reached (its name does not resolve, a connection fails): the next one may be.
    }
  }
  return undefined;
}
