// Writing query text for the user: the clause that click-to-filter adds (`field:==value` or its negation),
// quoted so that the parser (shared/QUERY.md) reads back exactly the value that was clicked.

// Where Acta puts what it adds to an event, and the derived field that queries it.
const ACTA_FIELDS = {account: '_account', instance: '_instance', region: '_region'};

// A key the language can name in a dotted path: no dot, space, parenthesis, quote, bracket or backslash, not
// starting with a negation, and not ending in `_str` (which the parser reads as the Kibana-era alias).
const NAMEABLE_KEY = /^[^\s().:"'[\]\\!-][^\s().:"'[\]\\]*$/u;

/** The query name of the field at `path` (an array of object keys), or null when the language cannot name it. */
export function fieldName(path) {
  if (path.length === 0) return null;
  if (path[0] === '_acta') {
    return path.length === 2 && ACTA_FIELDS[path[1]] ? ACTA_FIELDS[path[1]] : null;
  }
  if (!path.every((key) => typeof key === 'string' && NAMEABLE_KEY.test(key))) return null;
  if (path[path.length - 1].endsWith('_str')) return null;
  return path.join('.');
}

// Unquoted, a value runs to the next space or parenthesis; quotes, `[`, a leading operator character or a `*`
// would change its meaning, so such values are quoted.
const BARE_VALUE = /^[^\s()"'\\=<>[*][^\s()"'\\*]*$/u;

/** A value as query text after `:==`. */
export function quoteValue(value) {
  const text = String(value);
  if (BARE_VALUE.test(text)) return text;
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The clause selecting events whose field equals the value (or, negated, the others); null if unnameable. */
export function filterClause(path, value, negate) {
  const name = fieldName(path);
  if (name === null) return null;
  if (value === null) return `${negate ? '' : '-'}${name}:*`;
  return `${negate ? '-' : ''}${name}:==${quoteValue(value)}`;
}

/** Adds a clause to a query (ANDed); a query with a top-level OR is grouped first so the clause applies to all. */
export function addClause(query, clause) {
  const text = query.trim();
  if (!text) return clause;
  const grouped = /(^|\s)(OR|\|\|)(\s|$)/.test(text) ? `(${text})` : text;
  return `${grouped} ${clause}`;
}
