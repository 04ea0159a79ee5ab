export { openDatabase, migrationsFolder, pgErrorOf, isUniqueViolation, type Database, type DatabaseOptions, type Db } from './database.ts';
export * from './schema.ts';
