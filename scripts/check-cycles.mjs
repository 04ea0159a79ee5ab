#!/usr/bin/env node
// Finds import cycles between the server's source files. Every relative `import` and `export ... from` counts,
// `import type` included: a type-only cycle still ties two files together, so neither can be read or moved alone.
// Exits 1 and prints each cycle when there is one; with --json prints { cycles: [{ files, path }] } instead.
//
//   node scripts/check-cycles.mjs [--json] [dir]      (dir defaults to src)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Statements start a line; the clause before `from` holds no quote or semicolon, so a match never spans two of them.
const FROM = /^[ \t]*(?:import|export)\b[^;'"]*?\bfrom\s*(['"])([^'"\n]+)\1/gm;
const BARE = /^[ \t]*import\s*(['"])([^'"\n]+)\1/gm;

function listTs(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(p));
    else if (entry.name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

/** The file a relative specifier names, as TypeScript with NodeNext resolution finds it; undefined outside `dir`. */
function resolve(from, specifier, known) {
  const base = path.resolve(path.dirname(from), specifier);
  const candidates = [base, base.replace(/\.m?js$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')];
  return candidates.find((c) => known.has(c));
}

/** The specifiers a file's text imports or re-exports from, in order of appearance. */
export function specifiersOf(text) {
  const found = [];
  for (const re of [FROM, BARE]) for (const m of text.matchAll(re)) found.push({ index: m.index, specifier: m[2] });
  return found.sort((a, b) => a.index - b.index).map((f) => f.specifier);
}

/**
 * Every `.ts` file under `dir` (relative to the repository, with forward slashes) with the files under `dir` it
 * imports, type-only imports included. Imports of packages and of files outside `dir` are left out.
 */
export function importGraph(dir = 'src') {
  const absolute = path.resolve(root, dir);
  const files = listTs(absolute);
  const known = new Set(files);
  const name = (file) => path.relative(root, file).split(path.sep).join('/');
  const graph = new Map();
  for (const file of files) {
    const targets = new Set();
    for (const specifier of specifiersOf(fs.readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = resolve(file, specifier, known);
      if (target) targets.add(name(target));
    }
    graph.set(name(file), [...targets].sort());
  }
  return graph;
}

/** The strongly connected components of more than one file (or a file importing itself), by Tarjan's algorithm. */
function tangles(graph) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (start) => {
    // Iterative, so a deep chain of imports cannot overflow the call stack.
    const work = [{ node: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const edges = graph.get(frame.node) ?? [];
      if (frame.next < edges.length) {
        const to = edges[frame.next++];
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node), index.get(to)));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node), low.get(frame.node)));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const members = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        members.push(member);
      } while (member !== frame.node);
      if (members.length > 1 || edges.includes(frame.node)) found.push(members.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

/** The shortest way from `start` back to itself through `members`: one readable cycle of a tangle. */
function shortestLoop(graph, members, start) {
  const inside = new Set(members);
  const previous = new Map();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i];
    for (const to of graph.get(node) ?? []) {
      if (!inside.has(to)) continue;
      if (to === start) {
        const loop = [start];
        for (let at = node; at !== start; at = previous.get(at)) loop.splice(1, 0, at);
        return [...loop, start];
      }
      if (!previous.has(to)) {
        previous.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

/**
 * The import cycles under `dir`: each tangle of files that import one another, with `files` all its members and
 * `path` one cycle through them (first file repeated at the end). Every member of a tangle lies on some cycle.
 */
export function findCycles(dir = 'src') {
  const graph = importGraph(dir);
  return tangles(graph).map((files) => ({ files, path: shortestLoop(graph, files, files[0]) }));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const dir = args.find((a) => !a.startsWith('--')) ?? 'src';
  const cycles = findCycles(dir);
  if (json) {
    console.log(JSON.stringify({ cycles }, null, 2));
  } else if (cycles.length === 0) {
    console.log(`no import cycle in ${dir}/`);
  } else {
    for (const cycle of cycles) {
      console.log(`import cycle: ${cycle.path.join(' -> ')}`);
      if (cycle.files.length > cycle.path.length - 1) console.log(`  (tangled with it: ${cycle.files.filter((f) => !cycle.path.includes(f)).join(', ')})`);
    }
  }
  process.exitCode = cycles.length > 0 ? 1 : 0;
}
