/**
 * A few XML element types, written by hand: TwiML, TeXML and Plivo XML use half a dozen elements each, and a
 * general XML library would cost the voice function cold start for nothing. What makes it safe:
 * - text is escaped (`&`, `<`, `>`, and `\r`, which a parser would otherwise normalise away);
 * - attribute values also escape `"`, `'`, and tab / newline / carriage return as character references, since a
 *   parser normalises raw whitespace in attributes to spaces;
 * - characters XML 1.0 cannot carry at all (C0 controls other than tab/LF/CR, U+FFFE, U+FFFF, lone surrogates) are
 *   refused by the flow schema; here they are dropped, so a document is well-formed whatever it is given.
 * A property test parses every rendered document with a real parser and reads back the exact text.
 */

export interface XmlElement {
  readonly name: string;
  readonly attrs: readonly (readonly [string, string | number | boolean | null | undefined])[];
  readonly children: readonly (XmlElement | string)[];
}

// eslint-disable-next-line no-control-regex
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Whether XML 1.0 can carry the text (what the schema requires of spoken text). */
export function isXmlText(text: string): boolean {
  NOT_XML_CHAR.lastIndex = 0;
  return !NOT_XML_CHAR.test(text);
}

export function escapeText(text: string): string {
  return text.replace(NOT_XML_CHAR, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

export function escapeAttr(value: string): string {
  return escapeText(value).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;');
}

export function el(name: string, attrs: XmlElement['attrs'] = [], ...children: (XmlElement | string)[]): XmlElement {
  return { name, attrs, children };
}

export function serialize(node: XmlElement | string): string {
  if (typeof node === 'string') return escapeText(node);
  const attrs = node.attrs
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeAttr(String(v))}"`)
    .join('');
  if (node.children.length === 0) return `<${node.name}${attrs}/>`;
  return `<${node.name}${attrs}>${node.children.map(serialize).join('')}</${node.name}>`;
}

/** A whole document: the declaration first, nothing before it (Twilio refuses whitespace before `<?xml`). */
export function xmlDocument(root: XmlElement): string {
  return `<?xml version="1.0" encoding="UTF-8"?>${serialize(root)}`;
}
