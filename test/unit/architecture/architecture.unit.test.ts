/**
 * The shape of the code, held by the suite (docs/ARCHITECTURE.md "Layers and capabilities"):
 *
 * 1. `shared/domain` imports only the domain (and `node:*`, `zod`, `libphonenumber-js`);
 * 2. `shared/app` imports only the domain and the app: never an adapter, `@aws-sdk/*`, `infra/` or `functions/`;
 * 3. `shared/adapters` never imports `functions/`, and reaches `infra/` only through `infra/resources.ts`;
 * 4. repositories, resolvers and SDK clients are constructed only in composition files (`shared/adapters/**\/deps.ts`,
 *    `functions/*.ts`, and the client factories of `shared/adapters/platform/clients/`);
 * 5. no value-level import cycle in `shared/` and `functions/` (a type-only import is erased and cannot cycle);
 * 6. no version suffix on a file or a declared name: a contract version is a field, an old stored shape is read by a
 *    legacy decoder in the adapter's codec;
 * 7. the README's "Where the rules are" table names files and functions that exist.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cycles, listSources, parseModule, type ModuleInfo } from '../../support/import-graph';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const MODULES: readonly ModuleInfo[] = listSources(ROOT, ['shared', 'functions', 'infra', 'events', 'web', 'bench']).map((f) => parseModule(ROOT, f));
const byFile = new Map(MODULES.map((m) => [m.file, m]));

const inLayer = (layer: string) => (file: string) => file.startsWith(`${layer}/`);
const isDomain = inLayer('shared/domain');
const isApp = inLayer('shared/app');
const isAdapter = inLayer('shared/adapters');

/** `file:line → specifier` for each import of the modules in `scope` that `refused` names. */
function breaches(scope: (file: string) => boolean, refused: (edge: { specifier: string; target: string | undefined }) => boolean): string[] {
  return MODULES.filter((m) => scope(m.file)).flatMap((m) =>
    m.imports.filter((e) => refused(e)).map((e) => `${m.file}:${e.line} → ${e.target ?? e.specifier}`),
  );
}

const DOMAIN_PACKAGES = /^(?:node:[\w/]+|zod(?:\/[\w-]+)?|libphonenumber-js(?:\/[\w-]+)?)$/;
const APP_PACKAGES = /^(?:node:[\w/]+|zod(?:\/[\w-]+)?)$/;

describe('direction of dependencies', () => {
  it('the domain imports only the domain, node:*, zod and libphonenumber-js', () => {
    expect(breaches(isDomain, (e) => (e.target === undefined ? !DOMAIN_PACKAGES.test(e.specifier) : !isDomain(e.target)))).toEqual([]);
  });

  it('the app imports only the domain and the app: no adapter, no AWS SDK, no infra, no function', () => {
    expect(breaches(isApp, (e) => (e.target === undefined ? !APP_PACKAGES.test(e.specifier) : !isDomain(e.target) && !isApp(e.target)))).toEqual([]);
  });

  it('adapters never import a function, and reach infra only through infra/resources.ts', () => {
    expect(
      breaches(isAdapter, (e) => e.target !== undefined && (e.target.startsWith('functions/') || (e.target.startsWith('infra/') && e.target !== 'infra/resources.ts'))),
    ).toEqual([]);
  });

  it('nothing in shared/ imports functions/ or test code', () => {
    expect(breaches(inLayer('shared'), (e) => e.target !== undefined && (e.target.startsWith('functions/') || e.target.startsWith('test/')))).toEqual([]);
  });
});

describe('composition', () => {
  const isCompositionFile = (file: string) =>
    /^shared\/adapters\/(?:.+\/)?deps\.ts$/.test(file) || /^functions\/[^/]+\.ts$/.test(file) || file.startsWith('shared/adapters/platform/clients/');
  /** A class the adapters declare (repositories, resolvers, notifiers), or an AWS SDK client. */
  const isWiring = (name: string, from: string | undefined) =>
    (from !== undefined && isAdapter(from) && /^[A-Z]/.test(name) && byFile.get(from)?.declared.has(name) === true && /(?:Repo|Repository|Resolver|Store|Notifier|Client|Archive|Queue|Fetcher|Cipher)$/.test(name)) ||
    (from !== undefined && from.startsWith('@aws-sdk/') && /Client$/.test(name));

  it('repositories, resolvers and SDK clients are constructed only in composition files', () => {
    const outside = MODULES.filter((m) => (m.file.startsWith('shared/') || m.file.startsWith('functions/')) && !isCompositionFile(m.file)).flatMap((m) =>
      m.constructions.filter((c) => isWiring(c.name, c.from)).map((c) => `${m.file}:${c.line} new ${c.name}`),
    );
    expect(outside).toEqual([]);
  });
});

describe('cycles', () => {
  it('no value-level import cycle in shared/ and functions/', () => {
    const graph = new Map(
      MODULES.filter((m) => m.file.startsWith('shared/') || m.file.startsWith('functions/')).map((m) => [
        m.file,
        m.imports.filter((e) => !e.typeOnly && e.target !== undefined).map((e) => e.target!),
      ]),
    );
    expect(cycles(graph)).toEqual([]);
  });

  it('finds a cycle when there is one (the check can fail)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c']]);
  });
});

describe('names', () => {
  const VERSIONED_FILE = /(?:^|[-_.])(?:v\d+|legacy)(?=[-_.])/i;
  const VERSIONED_NAME = /(?:V\d+|_V\d+|Legacy)$/;

  it('no file is named with a version suffix', () => {
    expect(MODULES.map((m) => m.file).filter((f) => VERSIONED_FILE.test(path.basename(f)))).toEqual([]);
  });

  it('no declared type, class, function or constant carries a version suffix', () => {
    const named = MODULES.flatMap((m) => [...m.declared].filter((n) => !n.includes('.') && VERSIONED_NAME.test(n)).map((n) => `${m.file} ${n}`));
    expect(named).toEqual([]);
  });
});

describe('the README\'s "Where the rules are"', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Where the rules are')) ?? '';
  const rows = section.split('\n').filter((l) => l.startsWith('|') && !/^\|\s*-/.test(l)).slice(1);
  const references = rows.flatMap((row) => [...row.matchAll(/`([\w./-]+\.ts)(?:#([\w.]+))?`/g)].map((m) => ({ row: row.split('|')[1]!.trim(), file: m[1]!, name: m[2] })));

  it('has a row per business rule', () => {
    expect(rows.length).toBeGreaterThanOrEqual(12);
  });

  it('every file and function it names exists', () => {
    const missing = references.filter((r) => {
      const m = byFile.get(r.file);
      return m === undefined || (r.name !== undefined && !m.declared.has(r.name));
    });
    expect(missing.map((r) => `${r.row}: ${r.file}${r.name ? `#${r.name}` : ''}`)).toEqual([]);
  });

  it('every rule names where it is decided, as file#function', () => {
    const undecided = rows.filter((row) => !/`[\w./-]+\.ts#[\w.]+`/.test(row.split('|')[2] ?? ''));
    expect(undecided).toEqual([]);
  });
});

describe('routes are declared once', () => {
  const SOURCES = MODULES.filter((m) => m.file.startsWith('shared/') || m.file.startsWith('functions/') || m.file.startsWith('infra/'));
  const text = new Map(SOURCES.map((m) => [m.file, readFileSync(path.join(ROOT, m.file), 'utf8')]));
  const LIST = 'shared/app/http/routes.ts';

  it('no OpenAPI fragment beside the declarations (`*_OPENAPI`, an operation table keyed `METHOD /path`)', () => {
    const fragments = [...text].flatMap(([file, src]) =>
      [...src.matchAll(/\b([A-Z][A-Z0-9_]*_OPENAPI|DOCS)\b|^\s*'(?:GET|PUT|POST|ANY|DELETE|PATCH) \/[^']*': \{/gm)].map((m) => `${file}: ${m[0].trim()}`),
    );
    expect(fragments).toEqual([]);
  });

  it('no route catalog but the one derived from the declarations (infra/routes.ts)', () => {
    const catalogs = [...text]
      .filter(([file]) => file !== 'infra/routes.ts')
      .flatMap(([file, src]) => [...src.matchAll(/RouteDef\[\]\s*=|\{\s*method:\s*'[A-Z]+',\s*path:\s*'[^']+',\s*fn:\s*'\w+'\s*\}/g)].map((m) => `${file}: ${m[0]}`));
    expect(catalogs).toEqual([]);
    expect(text.get('infra/routes.ts')).toMatch(/ROUTE_DECLARATIONS\.map\(/);
  });

  it('one route type: no capability declares its own route interface', () => {
    const own = [...text]
      .filter(([file]) => file.startsWith('shared/') && file !== 'shared/app/kernel/route.ts')
      .flatMap(([file, src]) => [...src.matchAll(/\binterface (\w*Route)\b/g)].map((m) => `${file}: ${m[1]}`));
    expect(own).toEqual([]);
  });

  it('every route table of shared/app is listed in shared/app/http/routes.ts, and routes are declared only in shared/app', () => {
    const list = text.get(LIST) ?? '';
    const tables = [...text]
      .filter(([file]) => file.startsWith('shared/app/') && file !== LIST)
      .flatMap(([file, src]) => [...src.matchAll(/export const (\w+_ROUTES)\b/g)].map((m) => ({ file, name: m[1]! })));
    expect(tables.length).toBeGreaterThan(0);
    expect(tables.filter((t) => !new RegExp(`\\b${t.name}\\b`).test(list)).map((t) => `${t.file}: ${t.name}`)).toEqual([]);
    const declaredOutside = [...text]
      .filter(([file]) => !file.startsWith('shared/app/'))
      .flatMap(([file, src]) => [...src.matchAll(/\b(?:route|externalRoute)\(\{/g)].map(() => file));
    expect(declaredOutside).toEqual([]);
  });
});
