// The layers' rules (ARCHITECTURE.md, "Layers and their rooms") checked on the source itself: no import cycle in
// src/, the live gateway imports neither the engine nor the media plane, and the engine speaks SIP and PBX words
// only.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { importGraph } from '../../scripts/check-cycles.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = path.join(root, 'scripts', 'check-cycles.mjs');

interface Cycle {
  files: string[];
  path: string[];
}

/** Runs the cycle check as CI does, on `dir` (relative to the repository, or absolute). */
function checkCycles(dir: string): { status: number | null; cycles: Cycle[] } {
  const run = spawnSync(process.execPath, [script, '--json', dir], { cwd: root, encoding: 'utf8' });
  assert.equal(run.stderr, '', 'the check writes nothing to stderr');
  return { status: run.status, cycles: (JSON.parse(run.stdout) as { cycles: Cycle[] }).cycles };
}

const lines = (found: string[]) => found.map((f) => `  ${f}\n`).join('');

describe('import cycles', () => {
  const src = checkCycles('src');

  it('no import cycle in src/', () => {
    const found = src.cycles.map((c) => c.path.join(' -> '));
    assert.equal(src.status, found.length > 0 ? 1 : 0, 'the check exits 1 exactly when it finds a cycle');
    assert.equal(found.length, 0, `import cycles in src/:\n${lines(found)}`);
  });

  describe('the check itself', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'check-cycles-'));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    };

    it('finds a cycle made of type-only imports, re-exports, .js specifiers and folder indexes', () => {
      write('a.ts', "import type { B } from './b.ts';\nexport interface A { b: B }\n");
      write('b.ts', "export type { A as B } from './a.ts';\n");
      write('c.ts', "import {\n  d,\n} from './d';\nexport const c = d;\n");
      write('d/index.ts', "export * from '../e.js';\nexport const d = 1;\n");
      write('e.ts', "import './c.ts';\n// import { a } from './a.ts'; is a comment, not an import\nimport { x } from 'some-package';\n");
      write('f.ts', "import { c } from './c.ts';\nexport const f = c;\n");
      const { status, cycles } = checkCycles(dir);
      const name = (file: string) => path.relative(root, path.join(dir, file)).split(path.sep).join('/');
      assert.equal(status, 1);
      assert.deepEqual(
        cycles.map((c) => c.files).sort((x, y) => x.length - y.length),
        [
          [name('a.ts'), name('b.ts')],
          [name('c.ts'), name('d/index.ts'), name('e.ts')],
        ],
      );
      assert.deepEqual(cycles.find((c) => c.files.length === 3)?.path, [name('c.ts'), name('d/index.ts'), name('e.ts'), name('c.ts')]);
    });

    it('exits 0 when the imports go one way', () => {
      const clean = path.join(dir, 'clean');
      fs.mkdirSync(clean);
      fs.writeFileSync(path.join(clean, 'low.ts'), 'export const low = 1;\n');
      fs.writeFileSync(path.join(clean, 'high.ts'), "import { low } from './low.ts';\nexport const high = low;\n");
      assert.deepEqual(checkCycles(clean), { status: 0, cycles: [] });
    });
  });
});

describe('layers', () => {
  it('no file under src/realtime/ imports from src/telephony/ or src/media/', () => {
    const found = [...importGraph('src')]
      .filter(([file]) => file.startsWith('src/realtime/'))
      .flatMap(([file, targets]) => targets.filter((to) => /^src\/(telephony|media)\//.test(to)).map((to) => `${file} imports ${to}`));
    assert.equal(found.length, 0, `the live gateway listens to contact-center events only:\n${lines(found)}`);
  });

  it('src/telephony/ never says agent or queue', () => {
    // SIP's own user agent (the User-Agent header, a user agent client) is the engine's word, not the contact center's.
    const words = /(?<!user[- ])\bagents?\b|\bqueues?\b/i;
    const found: string[] = [];
    const scan = (dir: string) => {
      for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const file = `${dir}/${entry.name}`;
        if (entry.isDirectory()) scan(file);
        else
          fs.readFileSync(path.join(root, file), 'utf8')
            .split('\n')
            .forEach((text, i) => words.test(text) && found.push(`${file}:${i + 1}: ${text.trim()}`));
      }
    };
    scan('src/telephony');
    assert.equal(found.length, 0, `the engine speaks SIP and PBX words only:\n${lines(found)}`);
  });
});
