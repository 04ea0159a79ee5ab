/**
 * Where a number dialled by someone inside goes outside the building: the tenant's outbound routes, read in order,
 * pick the trunks; the tenant's dial policy says whether this caller may call this class of number at all, and caps
 * the external calls at once. An emergency number is always allowed and never capped. Nothing here is reached by a
 * caller who did not authenticate as an extension (or a user of the API): no route is ever an open relay.
 */
import type { SipStack } from '../../sip/index.ts';
import type { RingTarget } from '../calls/call-types.ts';
import { matchesPattern, parsePattern, rewriteDialled } from './dial-plan.ts';
import { classify, formatForCarrier, NumberError, stripSeparators, toE164 } from './numbering.ts';
import { trunkTarget } from './trunk-leg.ts';
import type { CarrierDirectory, NumberClass, OutboundRoute, Trunk } from './types.ts';

/** Why a number cannot be dialled out, as a phone (SIP status) and the API (a domain code) are told. */
export interface DialRefusal {
  ok: false;
  status: 403 | 404 | 503;
  /** The SIP reason phrase a phone is answered with. */
  reason: string;
  /** The same for a person (the API's error message); undefined: the error code's own message says it. */
  message: string | undefined;
  code: 'PBX_ERR_DIAL_NOT_ALLOWED' | 'PBX_ERR_NUMBER_NOT_FOUND' | 'PBX_ERR_EXTERNAL_CALL_LIMIT';
  numberClass?: NumberClass;
}

/** A number that can be dialled out: what it is, what the far end sees, and the trunks to try in order. */
export interface DialPlan {
  ok: true;
  /** E.164, or the emergency number as dialled. */
  number: string;
  numberClass: NumberClass;
  route: OutboundRoute;
  callerId: string | null;
  withhold: boolean;
  /**
   * One ring target per trunk of the route, built when its turn comes (a trunk down or full is skipped); `use` hears
   * of each trunk as the call goes to it.
   */
  attempts(use?: (trunk: Trunk) => void): Iterable<Promise<RingTarget | undefined>>;
}

/** What the planner needs of the engine: live counts, the trunks' health, and the stack to reach them. */
export interface OutboundContext {
  stack: SipStack;
  /** External calls in progress: the tenant's, or one trunk's. */
  externalCalls(tenantId: string): number;
  trunkCalls(trunkId: string): number;
  /** Whether a trunk's server answers its keepalive (true when it is not probed). */
  serverUp(trunkId: string, server: number): boolean;
}

/** Whether a route's pattern takes `dialled`; a pattern that does not parse (stored before a stricter check) takes nothing. */
function routeTakes(route: OutboundRoute, dialled: string): boolean {
  return route.patterns.some((p) => {
    try {
      return matchesPattern(parsePattern(p), dialled);
    } catch {
      return false;
    }
  });
}

export class OutboundRouter {
  /** Each trunk's starts in the current second, for its calls-per-second limit. */
  private readonly starts = new Map<string, { second: number; count: number }>();

  constructor(
    private readonly carriers: CarrierDirectory,
    private readonly context: OutboundContext,
  ) {}

  /**
   * The plan for `extensionId` (undefined: the tenant itself, calling out for its own reasons) dialling `dialled`;
   * `callerId`, when given, is the caller ID of whatever the call is made for, before the user's and the route's.
   */
  async plan(tenantId: string, extensionId: string | undefined, dialled: string, callerId?: string | null): Promise<DialPlan | DialRefusal> {
    const policy = await this.carriers.dialPolicy(tenantId, extensionId);
    const digits = stripSeparators(dialled);
    const emergency = policy.emergencyNumbers.includes(digits);
    const route = this.carriers.outboundRoutes(tenantId).find((r) => routeTakes(r, digits));
    if (!route) return { ok: false, status: 404, reason: 'Not Found (no outbound route takes this number)', message: undefined, code: 'PBX_ERR_NUMBER_NOT_FOUND' };
    const rewritten = rewriteDialled(digits, route);
    let number: string;
    let numberClass: NumberClass;
    if (emergency) {
      number = digits;
      numberClass = 'emergency';
    } else {
      const e164 = toE164(rewritten, policy.country);
      if (!e164) return { ok: false, status: 404, reason: 'Not Found (not a telephone number)', message: `${digits} is not a telephone number`, code: 'PBX_ERR_NUMBER_NOT_FOUND' };
      try {
        numberClass = classify(e164, policy.country, []);
      } catch (err) {
        if (!(err instanceof NumberError)) throw err;
        return { ok: false, status: 404, reason: `Not Found (${err.message})`, message: err.message, code: 'PBX_ERR_NUMBER_NOT_FOUND' };
      }
      number = e164;
      if (!policy.allowedClasses.includes(numberClass)) {
        return { ok: false, status: 403, reason: `Forbidden (${numberClass} numbers may not be dialled)`, message: `You may not dial ${numberClass} numbers`, code: 'PBX_ERR_DIAL_NOT_ALLOWED', numberClass };
      }
      if (policy.maxExternalCalls > 0 && this.context.externalCalls(tenantId) >= policy.maxExternalCalls) {
        return { ok: false, status: 503, reason: 'Service Unavailable (the external call limit is reached)', message: `All ${policy.maxExternalCalls} external lines are in use`, code: 'PBX_ERR_EXTERNAL_CALL_LIMIT' };
      }
    }
    const presentation = { callerId: callerId ?? policy.callerId ?? route.callerId, withhold: route.withholdCallerId };
    const trunks = route.trunkIds.map((id) => this.carriers.trunk(tenantId, id)).filter((t): t is Trunk => t !== undefined && t.enabled);
    const attempt = (trunk: Trunk, use?: (trunk: Trunk) => void): Promise<RingTarget | undefined> => {
      const toCarrier = emergency ? number : formatForCarrier(number, trunk.numberFormat, trunk.country);
      return trunkTarget(this.context.stack, trunk, number, toCarrier, presentation, (server) => this.context.serverUp(trunk.id, server)).then((target) => {
        if (target) {
          this.started(trunk);
          use?.(trunk);
        }
        return target;
      });
    };
    const admits = (trunk: Trunk) => emergency || this.admits(trunk);
    return {
      ok: true,
      number,
      numberClass,
      route,
      callerId: presentation.callerId,
      withhold: presentation.withhold,
      *attempts(use?: (trunk: Trunk) => void) {
        for (const trunk of trunks) if (admits(trunk)) yield attempt(trunk, use);
      },
    };
  }

  /** Whether a trunk takes one more call now: under its cap of calls at once and of new calls per second. */
  private admits(trunk: Trunk): boolean {
    if (trunk.maxCalls > 0 && this.context.trunkCalls(trunk.id) >= trunk.maxCalls) return false;
    if (trunk.maxCallsPerSecond > 0) {
      const second = Math.floor(Date.now() / 1000);
      const s = this.starts.get(trunk.id);
      if (s && s.second === second && s.count >= trunk.maxCallsPerSecond) return false;
    }
    return true;
  }

  private started(trunk: Trunk): void {
    const second = Math.floor(Date.now() / 1000);
    const s = this.starts.get(trunk.id);
    if (s && s.second === second) s.count++;
    else this.starts.set(trunk.id, { second, count: 1 });
  }
}
