/**
 * The live API's client events: each checked with the schema its REST route uses (the contact center's
 * `commands.ts`), its sender re-read (a deleted or deactivated user loses the socket's rights at once), then done
 * by the contact center. The answer goes back through the acknowledgement: `{ ok: true, data }` or
 * `{ ok: false, error: { code, message, details? } }`, the same catalogue the REST API answers with.
 */
import type { ValidateFunction } from 'ajv';
import { Type, type Static, type TSchema } from 'typebox';
import { actorOf, CallId, type ContactCenter, controlStateBody, DialCommand, HoldFields, Muted, StatusChangeCommand, TransferFields } from '../contact-center/index.ts';
import type { Directory, Principal } from '../directory/index.ts';
import { PbxError } from '../errors/index.ts';
import { makeAjv, nulError } from '../validation/index.ts';
import { agentBody, type PbxSocket } from './wire.ts';

type Ack = (answer: { ok: true; data: unknown } | { ok: false; error: { code: string; message: string; details?: unknown } }) => void;

/** A client event naming a call: seed 001 puts its id in the event, where REST puts it in the path. */
const CallRef = Type.Object({ callId: CallId }, { additionalProperties: false });

const ClientEvents = {
  'agent:login': Type.Object({ agentId: Type.Optional(Type.String({ maxLength: 100 })), extension: Type.Optional(Type.String({ maxLength: 20 })) }, { additionalProperties: false }),
  'agent:status:change': StatusChangeCommand,
  'call:dial': DialCommand,
  'call:answer': CallRef,
  'call:hangup': CallRef,
  'call:hold': Type.Object({ callId: CallId, ...HoldFields }, { additionalProperties: false }),
  'call:transfer': Type.Object({ callId: CallId, ...TransferFields }, { additionalProperties: false }),
  'call:transfer:complete': CallRef,
  'call:transfer:cancel': CallRef,
  // Seed 001 names the value `mute`; `muted`, as REST names it, is taken too.
  'call:mute': Type.Object({ callId: CallId, mute: Type.Optional(Muted), muted: Type.Optional(Muted) }, { additionalProperties: false }),
} satisfies Record<string, TSchema>;

type ClientEventName = keyof typeof ClientEvents;
type Payload<N extends ClientEventName> = Static<(typeof ClientEvents)[N]>;

export class ClientCommands {
  private readonly validators: Record<ClientEventName, ValidateFunction>;

  constructor(
    private readonly directory: Directory,
    private readonly cc: ContactCenter,
    private readonly onError: (err: unknown, context: string) => void,
  ) {
    const ajv = makeAjv({ coerceTypes: false });
    this.validators = Object.fromEntries(Object.entries(ClientEvents).map(([name, schema]) => [name, ajv.compile(schema as object)])) as Record<ClientEventName, ValidateFunction>;
  }

  /** Answers the socket's client events from now on. */
  listen(socket: PbxSocket): void {
    for (const name of Object.keys(ClientEvents) as ClientEventName[]) {
      socket.on(name, (payload: unknown, ack?: unknown) => {
        const reply: Ack = typeof ack === 'function' ? (ack as Ack) : () => {};
        this.handle(socket, name, payload).then(
          (data) => reply({ ok: true, data }),
          (err: unknown) => reply({ ok: false, error: this.errorBody(err) }),
        );
      });
    }
  }

  private errorBody(err: unknown): { code: string; message: string; details?: unknown } {
    if (err instanceof PbxError) return { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) };
    this.onError(err, 'realtime:event');
    return { code: 'PBX_ERR_INTERNAL', message: 'Internal server error' };
  }

  /** A client event: validated, its sender re-read, then done by the contact center. */
  private async handle(socket: PbxSocket, name: ClientEventName, payload: unknown): Promise<unknown> {
    // U+0000 first, as at the HTTP door: a status reason holding one would reach PostgreSQL, which refuses it.
    const nul = nulError([['payload', payload]]);
    if (nul) throw nul;
    const validate = this.validators[name];
    if (!validate(payload)) {
      throw new PbxError('PBX_ERR_VALIDATION', undefined, { details: (validate.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message })) });
    }
    let principal: Principal;
    try {
      principal = await this.directory.auth.authenticate(socket.data.token);
    } catch (err) {
      socket.disconnect(true);
      throw err;
    }
    const { cc } = this;
    const actor = actorOf(principal, cc.agents);
    const own = (): string => {
      if (!actor.extensionId) throw new PbxError('PBX_ERR_EXTENSION_NOT_FOUND', 'You have no agent extension');
      return actor.extensionId;
    };
    switch (name) {
      case 'agent:login': {
        const body = payload as Payload<'agent:login'>;
        const agent = cc.agents.get(principal.tenantId, own());
        if ((body.agentId !== undefined && body.agentId !== agent.extensionId) || (body.extension !== undefined && body.extension !== String(agent.number))) {
          throw new PbxError('PBX_ERR_FORBIDDEN', 'That agent is not you');
        }
        return agentBody(agent);
      }
      case 'agent:status:change': {
        const body = payload as Payload<'agent:status:change'>;
        return agentBody(await cc.agents.setStatus(principal.tenantId, own(), body.status, body.reason ?? null));
      }
      case 'call:dial': {
        const body = payload as Payload<'call:dial'>;
        return controlStateBody(await cc.control.dial(actor, body.phoneNumber, body.contactId));
      }
      case 'call:answer':
        return controlStateBody(await cc.control.answer(actor, (payload as Payload<'call:answer'>).callId));
      case 'call:hangup':
        return controlStateBody(await cc.control.hangup(actor, (payload as Payload<'call:hangup'>).callId));
      case 'call:hold': {
        const body = payload as Payload<'call:hold'>;
        return controlStateBody(await cc.control.hold(actor, body.callId, body.hold));
      }
      case 'call:transfer': {
        const body = payload as Payload<'call:transfer'>;
        return controlStateBody(await cc.control.transfer(actor, body.callId, body.target, body.type ?? 'blind'));
      }
      case 'call:transfer:complete':
        return controlStateBody(await cc.control.completeTransfer(actor, (payload as Payload<'call:transfer:complete'>).callId));
      case 'call:transfer:cancel':
        return controlStateBody(await cc.control.cancelTransfer(actor, (payload as Payload<'call:transfer:cancel'>).callId));
      case 'call:mute': {
        const body = payload as Payload<'call:mute'>;
        const muted = body.mute ?? body.muted;
        if (muted === undefined) throw new PbxError('PBX_ERR_VALIDATION', 'mute (true or false) is required');
        return controlStateBody(await cc.control.mute(actor, body.callId, muted));
      }
    }
  }
}
