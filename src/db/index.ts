export { openDatabase, migrationsFolder, pgErrorOf, isUniqueViolation, type Database, type DatabaseOptions, type Db } from './database.ts';
export * from './schema.ts';
export { inSlices, WriteBehind, type WriteBehindOptions, type WriteBehindStatus } from './write-behind.ts';
export { WriteJournal, type DeadLetter, type WriteJournalEntry } from './write-journal.ts';
