// Line diff of two strings to sign, for the verify panel. Pure functions,
// no DOM: the query line is exploded into one parameter per line, so a
// changed filter shows as one changed line rather than one long line.

const PARTS = ['scheme', 'host', 'path'];

/** A string to sign as labelled lines: scheme, host, path, then each query parameter. */
export function explode(sts) {
  const lines = sts.split('\n');
  const out = lines.slice(0, 3).map((text, i) => ({ part: PARTS[i] ?? 'line', text }));
  const query = lines.slice(3).join('\n');
  for (const p of query === '' ? [] : query.split('&')) out.push({ part: 'query', text: p });
  return out;
}

/**
 * Longest-common-subsequence diff of two line lists (compared by part and text).
 * Returns [{ op: ' ' | '-' | '+', part, text }], deletions (from `a`) before insertions.
 */
export function diffLines(a, b) {
  const key = (l) => `${l.part}\u0000${l.text}`;
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = key(a[i]) === key(b[j]) ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && key(a[i]) === key(b[j])) {
      out.push({ op: ' ', ...a[i] });
      i++;
      j++;
    } else if (j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push({ op: '-', ...a[i] });
      i++;
    } else {
      out.push({ op: '+', ...b[j] });
      j++;
    }
  }
  return out;
}
