/** The specifiers a file's text imports or re-exports from, in order of appearance. */
export function specifiersOf(text: string): string[];
/**
 * Every `.ts` file under `dir` (relative to the repository, forward slashes) with the files under `dir` it imports,
 * type-only imports included.
 */
export function importGraph(dir?: string): Map<string, string[]>;
/** The import cycles under `dir`: each tangle's files, and one cycle through them (first file repeated at the end). */
export function findCycles(dir?: string): Array<{ files: string[]; path: string[] }>;
