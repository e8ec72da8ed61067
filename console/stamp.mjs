// After `vite build`: write app/web/console_dist/SOURCES.sha256, the hashes of every file the
// bundle is built from and of every file built. tests/web/test_console_bundle.py recomputes
// them (no Node needed), so a source edited without a rebuild, or a bundle edited by hand,
// fails the tests; .ci/run rebuilds and fails when the committed bundle differs.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('.', import.meta.url).pathname;
const dist = join(root, '../app/web/console_dist');
const SOURCES = ['index.html', 'package.json', 'package-lock.json', 'vite.config.js', 'stamp.mjs', 'src'];

function files(path) {
  return statSync(path).isDirectory() ? readdirSync(path).sort().flatMap((name) => files(join(path, name))) : [path];
}
const sha = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const lines = [];
for (const entry of SOURCES) for (const file of files(join(root, entry))) lines.push(`${sha(file)}  console/${relative(root, file)}`);
for (const file of files(dist)) {
  if (!file.endsWith('SOURCES.sha256')) lines.push(`${sha(file)}  app/web/console_dist/${relative(dist, file)}`);
}
writeFileSync(join(dist, 'SOURCES.sha256'), `${lines.sort((a, b) => (a.slice(66) < b.slice(66) ? -1 : 1)).join('\n')}\n`);
