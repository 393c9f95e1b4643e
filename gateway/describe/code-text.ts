// Text from the app (paths, names, titles, descriptions) as it goes into generated code. A folder
// name may hold a newline or U+2028 (git allows both), and each ends a `//` comment: the rest of
// the line would be code that runs when the generated file is imported. So no such text goes into
// code as it is: comments get it on one line with its terminators escaped (and never a `*/`),
// string literals get it escaped by JSON's rules plus the terminators JSON leaves as they are.

/**
 * Characters escaped wherever app text is written: line terminators (\n \r U+2028 U+2029), the
 * other control characters but tab, and the bidirectional controls that make code read otherwise
 * than it runs ("Trojan Source").
 */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const SHORT: Record<string, string> = { "\n": "\\n", "\r": "\\r" };

function escapeChar(c: string): string {
  return SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** Text for a comment (`//`, or one line of a `/* *\/` block): one line, and no `*\/` to end the block. */
export function commentText(text: string): string {
  return text.replace(UNSAFE, escapeChar).replace(/\*\//g, "*\\/");
}

/** Text for a JSDoc block, line by line (each line as commentText makes it). */
export function docLines(text: string): string[] {
  return text.split(/\r\n|[\n\r\u2028\u2029]/).map(commentText);
}

/** A string literal of `text` (JavaScript and TypeScript, in code or in a type). */
export function stringLiteral(text: string): string {
  return JSON.stringify(text).replace(UNSAFE, escapeChar);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A property key: bare when it is an identifier, else quoted. */
export function propertyKey(key: string): string {
  return IDENTIFIER.test(key) ? key : stringLiteral(key);
}
