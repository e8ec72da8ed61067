// A read-only definition with, at every node, whether one person matches it (ExplainNode
// aligned with the FilterGroupInput-shaped definition, child by child).

const OPS = { EQ: '=', NEQ: '≠', GT: '>', GTE: '≥', LT: '<', LTE: '≤', CONTAINS: 'contains', NOT_CONTAINS: 'does not contain', STARTS_WITH: 'starts with', ENDS_WITH: 'ends with', IN: 'in', NOT_IN: 'not in', EXISTS: 'is set', NOT_EXISTS: 'is not set', WITHIN_LAST_DAYS: 'within the last days', MORE_THAN_DAYS_AGO: 'more than days ago' };

function windowText(w) {
  if (!w) return 'ever';
  if (w.lastDays != null) return `in the last ${w.lastDays} days`;
  if (w.lastHours != null) return `in the last ${w.lastHours} hours`;
  if (w.moreThanDaysAgo != null) return `more than ${w.moreThanDaysAgo} days ago`;
  if (w.between) return `between ${w.between.from} and ${w.between.to}`;
  return '';
}
const valueText = (c) => (c.values ? `[${c.values.map((v) => JSON.stringify(v)).join(', ')}]` : c.value === undefined ? '' : JSON.stringify(c.value));

/** One line of plain language for a condition. */
export function describe(condition, segmentNames = {}) {
  const [kind, c] = Object.entries(condition).find(([, v]) => v != null) ?? ['?', {}];
  switch (kind) {
    case 'tag': return `${c.has === false ? 'does not have' : 'has'} tag “${c.tag}”`;
    case 'field': return `field ${c.key} ${OPS[c.op] ?? c.op} ${valueText(c)}`;
    case 'attribute': return `${c.attribute.toLowerCase()} ${OPS[c.op] ?? c.op} ${valueText(c)}`;
    case 'event': {
      const count = c.count ?? { op: 'GTE', value: 1 };
      const where = (c.where ?? []).map((w) => ` where ${w.key} ${OPS[w.op] ?? w.op} ${valueText(w)}`).join('');
      return `${c.names.join(' or ')} ${OPS[count.op]} ${count.value} times ${windowText(c.window)}${where}`;
    }
    case 'aggregate': return `${c.fn} of ${c.name}${c.property ? `.${c.property}` : ''} ${windowText(c.window)} ${OPS[c.op]} ${c.value}`;
    case 'segment': return `${c.member === false ? 'not in' : 'in'} segment ${segmentNames[c.id] ?? c.id}`;
    default: return `${kind} ${JSON.stringify(c)}`;
  }
}

const MATCH = { ALL: 'all of', ANY: 'any of', NONE: 'none of' };

export function ExplainTree({ definition, node, segmentNames }) {
  if (!node) return <p class="muted">No explanation.</p>;
  return (
    <div class="explain-tree">
      <span class={node.matched ? 'explain yes' : 'explain no'}>{node.matched ? '✓' : '✗'}</span> matches {MATCH[definition.match]}:
      <ul>
        {definition.conditions.map((condition, i) => {
          const child = node.children?.[i];
          return (
            <li key={i}>
              {condition.group
                ? <ExplainTree definition={condition.group} node={child} segmentNames={segmentNames} />
                : (
                  <>
                    <span class={child?.matched ? 'explain yes' : 'explain no'}>{child?.matched ? '✓' : '✗'}</span>{' '}
                    {describe(condition, segmentNames)}
                    {child?.count != null && <span class="muted"> — counted {child.count}</span>}
                    {child?.value != null && <span class="muted"> — observed {child.value}</span>}
                  </>
                )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
