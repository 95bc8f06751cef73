#!/usr/bin/env node
/**
 * Re-points named imports when the names of one module move to several others: an import of `{ A, type B }` from
 * a moved module becomes one import per target module, with the relative path computed from the importing file.
 * For merging branches that still import the old module (a path rename alone is a sed; a split is not).
 *
 *   node tools/retarget-imports.mjs tools/moves.json [root…]    (roots default: shared functions test bench infra events web)
 *
 * moves.json: { "<old module, repo-relative, no extension>": { "<name>": "<new module>", … }, … }. A name not in
 * the map keeps importing the old module (and is reported when the old module no longer exists).
 * Renamed identifiers are not handled here: apply the `old → new` renames first (tools/moves.json names the new names).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const [mapFile, ...rootsArg] = process.argv.slice(2);
if (!mapFile) {
  console.error('usage: retarget-imports.mjs <moves.json> [root…]');
  process.exit(2);
}
const repo = process.cwd();
const moves = JSON.parse(readFileSync(mapFile, 'utf8'));
const roots = rootsArg.length > 0 ? rootsArg : ['shared', 'functions', 'test', 'bench', 'infra', 'events', 'web'];

function* files(dir) {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|tsx|mts)$/.test(name)) yield p;
  }
}

function specifierFor(fromFile, target) {
  let rel = relative(dirname(fromFile), resolve(repo, target)).split('\\').join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}

const IMPORT = /^(import|export)\s+(type\s+)?\{([^}]*)\}\s+from\s+'([^']+)';[ \t]*$/gm;
let changed = 0;
for (const root of roots) {
  for (const file of files(resolve(repo, root))) {
    const text = readFileSync(file, 'utf8');
    const out = text.replace(IMPORT, (whole, keyword, typeOnly, names, spec) => {
      if (!spec.startsWith('.')) return whole;
      const module = relative(repo, resolve(dirname(file), spec)).split('\\').join('/');
      const map = moves[module];
      if (map === undefined) return whole;
      const groups = new Map();
      for (const raw of names.split(',').map((n) => n.trim()).filter(Boolean)) {
        const bare = raw.replace(/^type\s+/, '').split(/\s+as\s+/)[0].trim();
        const target = map[bare] ?? module;
        if (map[bare] === undefined && !existsSync(resolve(repo, `${module}.ts`))) console.error(`${relative(repo, file)}: ${bare} has no new home`);
        if (!groups.has(target)) groups.set(target, []);
        groups.get(target).push(raw);
      }
      return [...groups]
        .map(([target, list]) => `${keyword} ${typeOnly ?? ''}{ ${list.join(', ')} } from '${specifierFor(file, target)}';`)
        .join('\n');
    });
    if (out !== text) {
      writeFileSync(file, out);
      changed++;
    }
  }
}
console.log(`${changed} files rewritten`);
