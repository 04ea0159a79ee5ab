export * from './grammar.ts';
export * from './message.ts';
export * from './parser.ts';
export * from './uri.ts';
