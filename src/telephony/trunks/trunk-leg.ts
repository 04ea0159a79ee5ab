/**
 * A leg toward a carrier: where its INVITE goes (the trunk's server, or its outbound proxy as a pre-loaded Route),
 * and how it presents itself there. The number is written as the carrier wants it; the caller ID goes in From and in
 * P-Asserted-Identity (RFC 3325 section 9.1), and a withheld one is From anonymous with `Privacy: id` (RFC 3323
 * section 4.2), the asserted identity still given to the carrier, which is trusted to strip it before the far end.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { DigestClient, type Flow, parseUri, type SipStack } from '../../sip/index.ts';
import type { LegAddressing, RingTarget } from '../calls/call-types.ts';
import { formatForCarrier } from './numbering.ts';
import type { Trunk, TrunkServer } from './types.ts';

/** The address a server's host stands for: an IP literal as it is, a name through the system's resolver. */
export async function resolveHost(host: string): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (net.isIP(bare)) return bare;
  return (await dns.lookup(bare)).address;
}

function uriHost(host: string): string {
  return net.isIPv6(host) && !host.startsWith('[') ? `[${host}]` : host;
}

/** The SIP URI of `user` at a trunk's server, with its transport when it is not UDP. */
export function serverUri(user: string, server: TrunkServer): string {
  const transport = server.transport === 'udp' ? '' : `;transport=${server.transport}`;
  return `sip:${user}@${uriHost(server.host)}:${server.port}${transport}`;
}

/** The domain our From and To name at a carrier: its own SIP domain, or its first server's host. */
export function carrierDomain(trunk: Trunk): string {
  return uriHost(trunk.fromDomain ?? trunk.servers[0]?.host ?? 'invalid');
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
  const headers: Array<[string, string]> = [];
  let from = `<sip:${fromUser}@${domain}>`;
  if (presentation.withhold) {
    from = '"Anonymous" <sip:anonymous@anonymous.invalid>';
    headers.push(['Privacy', 'id']);
  }
  if (shown !== null) headers.push(['P-Asserted-Identity', `<sip:${shown}@${domain}>`]);
  const auth = trunk.password !== null && (trunk.authUsername ?? trunk.username) ? new DigestClient({ username: (trunk.authUsername ?? trunk.username) as string, password: trunk.password }) : undefined;
  return { from, to: `<sip:${dialled}@${domain}>`, headers, auth };
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
      let flow: Flow;
      let path: string[] = [];
      if (trunk.outboundProxy) {
        const proxy = parseUri(trunk.outboundProxy);
        flow = await stack.flowToUri(proxy);
        path = [`<${trunk.outboundProxy};lr>`];
      } else {
        flow = await stack.flowTo(server.transport.toUpperCase(), await resolveHost(server.host), server.port);
      }
      return {
        party: { extensionId: undefined, number: e164 },
        contacts: [{ binding: { contact: serverUri(dialled, server), path }, flow }],
        addressing: addressingFor(trunk, dialled, presentation),
      };
    } catch {
      // This server cannot be reached (its name does not resolve, a connection fails): the next one may be.
    }
  }
  return undefined;
}
