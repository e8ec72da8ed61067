// The audience waterfall of the compose screen: included, minus excluded, minus each
// suppression reason, = audience. Pure, so the arithmetic and the bars are unit-tested.

export const REASON_LABELS = {
  UNSUBSCRIBED: 'unsubscribed',
  BOUNCED: 'bounced',
  COMPLAINED: 'complained (marked as spam)',
  SUPPRESSION_LIST: 'on the suppression list',
};

/**
 * Rows of the waterfall from `previewAudience { included excluded suppressedBy count }`.
 * Each row spans [from, to] of the included people (its bar); `consistent` is false when
 * the steps do not add up to `count` (people changed between the server's statements).
 */
export function waterfallSteps(preview) {
  let left = preview.included;
  const rows = [{ key: 'included', label: 'In an included segment', n: preview.included, sign: '', from: 0, to: left }];
  const take = (key, label, n) => {
    rows.push({ key, label, n, sign: '−', from: left - n, to: left });
    left -= n;
  };
  take('excluded', 'minus in an excluded segment', preview.excluded);
  for (const { reason, count } of preview.suppressedBy) {
    take(reason, `minus ${REASON_LABELS[reason] ?? reason.toLowerCase().replace(/_/g, ' ')}`, count);
  }
  rows.push({ key: 'audience', label: '= audience', n: preview.count, sign: '=', from: 0, to: preview.count });
  return { rows, total: preview.included, consistent: left === preview.count };
}

/**
 * The same from a server without the split (two previewAudience calls, `count` and
 * `suppressed` only): the status reasons as one row, no suppression-list row.
 */
export function legacySteps({ included, final }) {
  const all = included.count + included.suppressed;
  const kept = final.count + final.suppressed;
  return waterfallSteps({
    included: all,
    excluded: all - kept,
    suppressedBy: [{ reason: 'NOT_SUBSCRIBED', count: final.suppressed }],
    count: final.count,
  });
}

/** A bar's offset and width in pixels on a track `width` wide. */
export function barGeometry(row, total, width) {
  if (!total) return { left: 0, width: 0 };
  return { left: Math.round((row.from / total) * width), width: Math.round(((row.to - row.from) / total) * width) };
}
