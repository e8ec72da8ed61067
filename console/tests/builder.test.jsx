import { cleanup, fireEvent, render, screen } from '@testing-library/preact';
import { useState } from 'preact/hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { Builder } from '../src/components/Builder.jsx';
import { errorsByNode, fromInput, toInput } from '../src/tree.js';

let latest = null;
function Harness({ initial, errors = [] }) {
  const [tree, setTree] = useState(() => fromInput(initial));
  latest = tree;
  return <Builder tree={tree} onChange={setTree} errors={errorsByNode(tree, errors)} />;
}

afterEach(() => { cleanup(); latest = null; });

describe('Builder', () => {
  it('adds a second group and a condition inside it, by its labelled controls', () => {
    render(<Harness initial={{ match: 'ALL', conditions: [{ tag: { tag: 'vip', has: true } }] }} />);
    fireEvent.change(screen.getByLabelText('Kind of condition to add to Root group'), { target: { value: 'group' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add to root group' }));
    fireEvent.change(screen.getByLabelText('Root group, condition 2 match'), { target: { value: 'ANY' } });
    fireEvent.change(screen.getByLabelText('Kind of condition to add to Root group, condition 2'), { target: { value: 'attribute' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add to root group, condition 2' }));
    fireEvent.input(screen.getByLabelText('Root group, condition 2, condition 1: Tag'), { target: { value: 'beta' } });
    expect(toInput(latest)).toEqual({
      match: 'ALL',
      conditions: [
        { tag: { tag: 'vip', has: true } },
        { group: { match: 'ANY', conditions: [{ tag: { tag: 'beta', has: true } }, { attribute: { attribute: 'COUNTRY', op: 'EQ', value: '' } }] } },
      ],
    });
  });

  it('removes and reorders conditions', () => {
    render(<Harness initial={{ match: 'ANY', conditions: [{ tag: { tag: 'a', has: true } }, { tag: { tag: 'b', has: false } }, { tag: { tag: 'c', has: true } }] }} />);
    fireEvent.click(screen.getByRole('button', { name: 'Move Root group, condition 3 up' }));
    fireEvent.click(screen.getByRole('button', { name: 'Remove Root group, condition 1' }));
    expect(toInput(latest).conditions.map((c) => c.tag.tag)).toEqual(['c', 'b']);
  });

  it('edits an event condition: names, count and window', () => {
    render(<Harness initial={{ match: 'ALL', conditions: [{ event: { names: ['email_opened'], count: { op: 'GTE', value: 1 } } }] }} />);
    fireEvent.input(screen.getByLabelText('Root group, condition 1: Event names, comma separated'), { target: { value: 'email_opened, email_clicked' } });
    fireEvent.change(screen.getByLabelText('Root group, condition 1: Event count operator'), { target: { value: 'EQ' } });
    fireEvent.input(screen.getByLabelText('Root group, condition 1: Event count'), { target: { value: '0' } });
    fireEvent.change(screen.getByLabelText('Root group, condition 1: Event window'), { target: { value: 'lastDays' } });
    fireEvent.input(screen.getByLabelText('Root group, condition 1: Event window length'), { target: { value: '90' } });
    expect(toInput(latest).conditions[0]).toEqual({
      event: { names: ['email_opened', 'email_clicked'], count: { op: 'EQ', value: 0 }, window: { lastDays: 90 } },
    });
  });

  it('turns IN into a typed list and EXISTS into no value', () => {
    render(<Harness initial={{ match: 'ALL', conditions: [{ field: { key: 'plan', op: 'EQ', value: 'pro' } }] }} />);
    fireEvent.change(screen.getByLabelText('Root group, condition 1: Field operator'), { target: { value: 'IN' } });
    fireEvent.change(screen.getByLabelText('Root group, condition 1: Field value type'), { target: { value: 'number' } });
    fireEvent.input(screen.getByLabelText('Root group, condition 1: Field values, comma separated'), { target: { value: '1, 2.5' } });
    expect(toInput(latest).conditions[0]).toEqual({ field: { key: 'plan', op: 'IN', values: [1, 2.5] } });
    fireEvent.change(screen.getByLabelText('Root group, condition 1: Field operator'), { target: { value: 'EXISTS' } });
    expect(toInput(latest).conditions[0]).toEqual({ field: { key: 'plan', op: 'EXISTS' } });
  });

  it('shows an error at the node it names', () => {
    render(<Harness initial={{ match: 'ALL', conditions: [{ tag: { tag: 'a', has: true } }, { event: { names: ['x'], count: { op: 'GTE', value: -1 } } }] }}
      errors={[{ message: 'must be at least 0', extensions: { path: 'definition.conditions[1].event.count.value' } }]} />);
    const alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('must be at least 0');
    expect(alert.closest('[role="group"]').getAttribute('aria-label')).toBe('Root group, condition 2');
  });
});
