/**
 * The repository's source as a graph, for the architecture test: every module's imports (value or type-only), the
 * classes it constructs with `new`, and the names it declares. Parsed with the TypeScript compiler (no type check:
 * one syntax pass over each file), resolved by path as the bundler resolves relative specifiers.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  /** The specifier as written. */
  readonly specifier: string;
  /** Repository-relative path of the imported module, for a relative specifier that resolves; else undefined. */
  readonly target: string | undefined;
  /** `import type`, `export type … from`, or every named binding marked `type`: erased at compile time. */
  readonly typeOnly: boolean;
  readonly line: number;
}

export interface Construction {
  /** The constructed name as written (`ConfigRepo`, `DynamoDBClient`). */
  readonly name: string;
  /** Where the constructed name was imported from (repository-relative path or package), if imported. */
  readonly from: string | undefined;
  readonly line: number;
}

export interface ModuleInfo {
  readonly file: string;
  readonly imports: readonly ImportEdge[];
  readonly constructions: readonly Construction[];
  /** Top-level declared names (functions, classes, interfaces, types, enums, variables) and `Class.method` names. */
  readonly declared: ReadonlySet<string>;
}

export function listSources(root: string, dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    if (!existsSync(abs)) return;
    for (const name of readdirSync(abs)) {
      if (name === 'node_modules' || name.startsWith('.') || name === 'cdk.out') continue;
      const child = path.join(rel, name);
      if (statSync(path.join(root, child)).isDirectory()) walk(child);
      else if (/\.(?:ts|mts|tsx)$/.test(name) && !name.endsWith('.d.ts')) out.push(child.split(path.sep).join('/'));
    }
  };
  for (const d of dirs) walk(d);
  return out.sort();
}

function resolveRelative(root: string, from: string, specifier: string): string | undefined {
  const base = path.resolve(root, path.dirname(from), specifier);
  const stripped = base.replace(/\.(?:m?js)$/, '');
  for (const candidate of [base, `${stripped}.ts`, `${stripped}.mts`, `${stripped}.tsx`, path.join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return path.relative(root, candidate).split(path.sep).join('/');
  }
  return undefined;
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (clause === undefined) return false; // a side-effect import runs the module
  if (clause.isTypeOnly) return true;
  if (clause.name !== undefined) return false;
  const bindings = clause.namedBindings;
  if (bindings === undefined || ts.isNamespaceImport(bindings)) return false;
  return bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

function isTypeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly);
}

export function parseModule(root: string, file: string): ModuleInfo {
  const text = readFileSync(path.join(root, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const imports: ImportEdge[] = [];
  const importedFrom = new Map<string, string>();
  const constructions: Construction[] = [];
  const declared = new Set<string>();

  const edge = (specifier: string, typeOnly: boolean, node: ts.Node): string | undefined => {
    const target = specifier.startsWith('.') ? resolveRelative(root, file, specifier) : undefined;
    imports.push({ specifier, target, typeOnly, line: lineOf(node) });
    return target ?? specifier;
  };

  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
      const where = edge(statement.moduleSpecifier.text, isTypeOnlyImport(statement), statement);
      const clause = statement.importClause;
      if (clause?.name) importedFrom.set(clause.name.text, where!);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) importedFrom.set(e.name.text, where!);
      if (bindings && ts.isNamespaceImport(bindings)) importedFrom.set(bindings.name.text, where!);
    } else if (ts.isExportDeclaration(statement) && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)) {
      edge(statement.moduleSpecifier.text, isTypeOnlyExport(statement), statement);
    } else if (ts.isImportEqualsDeclaration(statement) && ts.isExternalModuleReference(statement.moduleReference)) {
      const ref = statement.moduleReference.expression;
      if (ts.isStringLiteral(ref)) edge(ref.text, statement.isTypeOnly, statement);
    }
    collectDeclared(statement, declared);
  }

  const visit = (node: ts.Node): void => {
    if (ts.isNewExpression(node)) {
      const callee = node.expression;
      const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
      const qualifier = ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) ? callee.expression.text : undefined;
      if (name !== undefined) constructions.push({ name, from: importedFrom.get(qualifier ?? name), line: lineOf(node) });
    }
    // A dynamic import loads the module when it runs: a value edge (tests use them; shared/ should not need them).
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg !== undefined && ts.isStringLiteral(arg)) edge(arg.text, false, node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { file, imports, constructions, declared };
}

function collectDeclared(statement: ts.Statement, declared: Set<string>): void {
  if (
    (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement) ||
      ts.isTypeAliasDeclaration(statement) || ts.isEnumDeclaration(statement)) &&
    statement.name
  ) {
    declared.add(statement.name.text);
  }
  if (ts.isClassDeclaration(statement) && statement.name) {
    for (const member of statement.members) {
      if ((ts.isMethodDeclaration(member) || ts.isPropertyDeclaration(member)) && member.name && ts.isIdentifier(member.name)) {
        declared.add(`${statement.name.text}.${member.name.text}`);
      }
    }
  }
  if (ts.isVariableStatement(statement)) {
    for (const d of statement.declarationList.declarations) if (ts.isIdentifier(d.name)) declared.add(d.name.text);
  }
}

/** Strongly connected components of more than one module (or a module importing itself), by Tarjan's algorithm. */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indices.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) connect(v);
  return found;
}
