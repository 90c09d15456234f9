// The API's types as a user meets them (issue 24, item 12): every ```ts and
// ```js snippet of README.md and docs/api.md, each as an ES module of its own,
// type-checked by tsc under `strict` and `noUncheckedIndexedAccess` against
// the package as installed (its `exports` and the types in dist/ and esm/).
// `const { X } = require('rethook')` is read as `import { X } from 'rethook'`:
// in a .ts file, require() gives `any` and would check nothing.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { scratchDir } from './helpers';

const ROOT = path.join(__dirname, '..');
const DOCS = ['README.md', 'docs/api.md'];

/** Names the snippets use as placeholders for the reader's own values. */
const PLACEHOLDERS = `declare global {
  const cwd: string;
  const env: NodeJS.ProcessEnv;
  const fd: number;
  const pid: number;
}
export {};
`;

function snippets(doc: string): { name: string; code: string }[] {
  const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
  const out: { name: string; code: string }[] = [];
  const re = /^```(ts|js|typescript|javascript)\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const line = text.slice(0, m.index).split('\n').length;
    out.push({ name: `${doc.replace(/\W/g, '_')}_${line}`, code: m[2] });
  }
  return out;
}

function asModule(code: string): string {
  const imported = code.replace(/^const (\{[^}]*\}) = require\('rethook'\);?/gm, "import $1 from 'rethook';");
  return `${imported}\nexport {};\n`;
}

test('every ts/js snippet of the README and docs/api.md compiles under strict and noUncheckedIndexedAccess', () => {
  const dir = path.join(scratchDir(), 'snippets');
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'rethook'));
  const files: string[] = ['placeholders.d.ts'];
  fs.writeFileSync(path.join(dir, 'placeholders.d.ts'), PLACEHOLDERS);
  const all = DOCS.flatMap(snippets);
  expect(all.length).toBeGreaterThanOrEqual(3);
  for (const s of all) {
    fs.writeFileSync(path.join(dir, `${s.name}.mts`), asModule(s.code));
    files.push(`${s.name}.mts`);
  }
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noUncheckedIndexedAccess: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext',
      types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')], skipLibCheck: false,
    },
    files,
  }));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8', timeout: 120000 });
  // The errors name the snippet (doc, line of its fence) and the line inside it.
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
});
