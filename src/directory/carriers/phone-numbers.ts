/**
 * Phone numbers (DIDs): the tenant's numbers on the telephone network, each leading to an extension, a queue or a
 * hang-up, optionally tied to the trunk it arrives on. A number is stored in E.164 and belongs to one tenant only:
 * a call's dialled number alone must say whose call it is.
 */
import { and, asc, eq } from 'drizzle-orm';
import { type Db, isUniqueViolation, pgErrorOf, phoneNumbers } from '../../db/index.ts';
import { PbxError } from '../../errors/index.ts';
import type { PbxEventBus } from '../../events/index.ts';
import type { Destination, PhoneNumber } from '../../telephony/trunks/types.ts';
import { checkDestination, checkTrunksExist, e164Of, invalid, tenantCountry } from './checks.ts';

export interface PhoneNumberInput {
  /** E.164 (`+1 415 555 0100` is read as `+14155550100`) or as dialled in the tenant's country. */
  number: string;
  trunkId?: string | null;
  destination: Destination;
  description?: string | null;
}

export type PhoneNumberPatch = Partial<PhoneNumberInput>;

export interface PhoneNumberRecord extends PhoneNumber {
  createdAt: Date;
  updatedAt: Date;
}

type PhoneNumberRow = typeof phoneNumbers.$inferSelect;

export function toPhoneNumber(row: PhoneNumberRow): PhoneNumberRecord {
  return { ...row };
}

/** The refusal a failed write means: the number is another's, or its trunk was deleted since it was checked. */
function writeError(err: unknown, values: { number: string; trunkId: string | null }): unknown {
  if (isUniqueViolation(err, 'phone_numbers_number_key')) return new PbxError('PBX_ERR_PHONE_NUMBER_TAKEN', `The phone number ${values.number} is already in use`);
  if (pgErrorOf(err)?.code === '23503') return invalid('trunkId', `no trunk ${values.trunkId} in this tenant`);
  return err;
}

export class PhoneNumberService {
  constructor(
    private readonly db: Db,
    private readonly bus: PbxEventBus,
  ) {}

  async create(tenantId: string, input: PhoneNumberInput): Promise<PhoneNumberRecord> {
    const values = await this.settle(tenantId, input);
    const [row] = await this.db
      .insert(phoneNumbers)
      .values({ ...values, tenantId })
      .returning()
      .catch((err: unknown) => {
        throw writeError(err, values);
      });
    const created = toPhoneNumber(row as PhoneNumberRow);
    this.bus.emit('phone-number.changed', { tenantId, phoneNumberId: created.id, number: created.number, change: 'created' });
    return created;
  }

  /** The tenant's numbers in order. */
  async list(tenantId: string): Promise<PhoneNumberRecord[]> {
    const rows = await this.db.select().from(phoneNumbers).where(eq(phoneNumbers.tenantId, tenantId)).orderBy(asc(phoneNumbers.number));
    return rows.map(toPhoneNumber);
  }

  async get(tenantId: string, id: string): Promise<PhoneNumberRecord> {
    return toPhoneNumber(await this.row(tenantId, id));
  }

  async update(tenantId: string, id: string, patch: PhoneNumberPatch): Promise<PhoneNumberRecord> {
    const current = await this.row(tenantId, id);
    const values = await this.settle(tenantId, {
      number: patch.number ?? current.number,
      trunkId: patch.trunkId === undefined ? current.trunkId : patch.trunkId,
      destination: patch.destination ?? current.destination,
      description: patch.description === undefined ? current.description : patch.description,
    });
    const [row] = await this.db
      .update(phoneNumbers)
      .set({ ...values, updatedAt: new Date() })
      .where(and(eq(phoneNumbers.tenantId, tenantId), eq(phoneNumbers.id, id)))
      .returning()
      .catch((err: unknown) => {
        throw writeError(err, values);
      });
    if (!row) throw new PbxError('PBX_ERR_PHONE_NUMBER_NOT_FOUND');
    this.bus.emit('phone-number.changed', { tenantId, phoneNumberId: id, number: row.number, change: 'updated' });
    return toPhoneNumber(row);
  }

  async delete(tenantId: string, id: string): Promise<PhoneNumberRecord> {
    const [row] = await this.db.delete(phoneNumbers).where(and(eq(phoneNumbers.tenantId, tenantId), eq(phoneNumbers.id, id))).returning();
    if (!row) throw new PbxError('PBX_ERR_PHONE_NUMBER_NOT_FOUND');
    this.bus.emit('phone-number.changed', { tenantId, phoneNumberId: id, number: row.number, change: 'deleted' });
    return toPhoneNumber(row);
  }

  private async row(tenantId: string, id: string): Promise<PhoneNumberRow> {
    const [row] = await this.db.select().from(phoneNumbers).where(and(eq(phoneNumbers.tenantId, tenantId), eq(phoneNumbers.id, id))).limit(1);
    if (!row) throw new PbxError('PBX_ERR_PHONE_NUMBER_NOT_FOUND');
    return row;
  }

  /** The values to store, every one checked against the tenant's rows. */
  private async settle(tenantId: string, input: PhoneNumberInput): Promise<Omit<PhoneNumber, 'id' | 'tenantId'>> {
    const number = e164Of('number', input.number, await tenantCountry(this.db, tenantId));
    const trunkId = input.trunkId ?? null;
    // A missing trunk is the caller's mistake (400), not a missing number (404): it is named like any bad field.
    if (trunkId !== null) await checkTrunksExist(this.db, tenantId, [{ id: trunkId, field: 'trunkId' }]);
    await checkDestination(this.db, tenantId, 'destination', input.destination);
    const description = input.description?.trim() || null;
    return { number, trunkId, destination: input.destination, description };
  }
}
