export { openDatabase, migrationsFolder, pgErrorOf, isUniqueViolation, type Database, type DatabaseOptions, type Db } from './database.ts';
export * from './schema.ts';
export { inSlices, WriteBehind, type WriteBehindOptions } from './write-behind.ts';
export { type WriteBehindStatus } from './write-behind-status.ts';
export { WriteJournal, type DeadLetter, type WriteJournalEntry } from './write-journal.ts';
