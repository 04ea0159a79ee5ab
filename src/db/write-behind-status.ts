/**
 * What a writer behind memory (`write-behind.ts`) reports of itself: written by the writer, collected by the journal
 * it registers with (`write-journal.ts`), read by the readiness check.
 */
export interface WriteBehindStatus {
  name: string;
  /** Changes not yet written, in memory and spilled. */
  pending: number;
  /** Since when writes fail, if they do. */
  failingSince: Date | null;
  lastError: string | null;
  /** Changes set aside as invalid since the start. */
  deadLetters: number;
  /** Writes fail, or spilled changes are still to be written: the database is not caught up. */
  behind: boolean;
}
