import { describe, expect, it } from 'vitest';
import {
  addCondition, changeKind, errorsByNode, fromInput, group, leaf, moveNode, nodeAtPath, pathOf,
  removeNode, setMatch, toInput, updateLeaf, wrapInGroup,
} from '../src/tree.js';

const TWO_GROUPS = {
  match: 'ANY',
  conditions: [
    { group: { match: 'ALL', conditions: [{ tag: { tag: 'vip', has: true } }, { attribute: { attribute: 'COUNTRY', op: 'EQ', value: 'FR' } }] } },
    { group: { match: 'NONE', conditions: [{ event: { names: ['email_opened'], count: { op: 'GTE', value: 1 }, window: { lastDays: 90 } } }] } },
  ],
};

describe('tree editing', () => {
  it('round-trips a definition exactly', () => {
    expect(toInput(fromInput(TWO_GROUPS))).toEqual(TWO_GROUPS);
  });

  it('adds a condition to a nested group only', () => {
    const tree = fromInput(TWO_GROUPS);
    const second = tree.conditions[1];
    const next = addCondition(tree, second.id, leaf('tag', { tag: 'new', has: false }));
    expect(toInput(next).conditions[1].group.conditions).toEqual([
      TWO_GROUPS.conditions[1].group.conditions[0], { tag: { tag: 'new', has: false } },
    ]);
    expect(next.conditions[0]).toBe(tree.conditions[0]); // untouched branch kept as is
    expect(toInput(tree)).toEqual(TWO_GROUPS); // the old tree is not mutated
  });

  it('removes, moves, re-matches and wraps', () => {
    const tree = fromInput(TWO_GROUPS);
    const [first, second] = tree.conditions;
    expect(toInput(removeNode(tree, first.conditions[0].id)).conditions[0].group.conditions)
      .toEqual([TWO_GROUPS.conditions[0].group.conditions[1]]);
    expect(removeNode(tree, tree.id)).toBe(tree); // the root stays
    const moved = toInput(moveNode(tree, second.id, -1));
    expect(moved.conditions.map((c) => c.group.match)).toEqual(['NONE', 'ALL']);
    expect(moveNode(tree, first.id, -1)).toBe(tree); // already first
    expect(toInput(setMatch(tree, first.id, 'ANY')).conditions[0].group.match).toBe('ANY');
    const wrapped = toInput(wrapInGroup(tree, first.conditions[1].id, 'NONE'));
    expect(wrapped.conditions[0].group.conditions[1]).toEqual({
      group: { match: 'NONE', conditions: [TWO_GROUPS.conditions[0].group.conditions[1]] },
    });
  });

  it('updates a leaf and changes its kind to the default of the new kind', () => {
    const tree = fromInput(TWO_GROUPS);
    const tag = tree.conditions[0].conditions[0];
    expect(toInput(updateLeaf(tree, tag.id, { tag: 'gold', has: true })).conditions[0].group.conditions[0])
      .toEqual({ tag: { tag: 'gold', has: true } });
    const changed = toInput(changeKind(tree, tag.id, 'aggregate'));
    expect(changed.conditions[0].group.conditions[0]).toEqual({ aggregate: { name: 'purchase', fn: 'SUM', op: 'GT', value: 0 } });
    const nested = toInput(changeKind(tree, tag.id, 'group'));
    expect(nested.conditions[0].group.conditions[0].group.match).toBe('ALL');
  });

  it('names nodes by the paths the API uses, both ways', () => {
    const tree = fromInput(TWO_GROUPS);
    const event = tree.conditions[1].conditions[0];
    expect(pathOf(tree, event.id)).toBe('definition.conditions[1].group.conditions[0]');
    expect(nodeAtPath(tree, 'definition.conditions[1].group.conditions[0].event.count.value'))
      .toEqual({ id: event.id, rest: 'count.value' });
    expect(nodeAtPath(tree, ['definition', 'conditions', '0', 'group', 'match']))
      .toEqual({ id: tree.conditions[0].id, rest: 'match' });
    expect(nodeAtPath(tree, 'definition.conditions[7].tag').id).toBe(tree.id); // no such node: the root
  });

  it('places errors at the node they name', () => {
    const tree = fromInput(TWO_GROUPS);
    const errors = errorsByNode(tree, [
      { message: 'bad count', extensions: { path: 'definition.conditions[1].group.conditions[0].event.count.value', code: 'INVALID' } },
      { message: 'no such tag', extensions: { inputPath: ['definition', 'conditions', '0', 'group', 'conditions', '0', 'tag', 'tag'] } },
    ]);
    expect(errors[tree.conditions[1].conditions[0].id]).toEqual([{ message: 'bad count', code: 'INVALID', at: 'count.value' }]);
    expect(errors[tree.conditions[0].conditions[0].id][0].at).toBe('tag');
  });

  it('builds groups from scratch', () => {
    const tree = group('ALL', [leaf('tag', { tag: 'a', has: true })]);
    expect(toInput(tree)).toEqual({ match: 'ALL', conditions: [{ tag: { tag: 'a', has: true } }] });
  });
});
