// The segment builder: nested ALL/ANY/NONE groups and one editor per condition kind.
// State is the tree of src/tree.js; every edit goes through `onChange(newTree)`.
import { useState } from 'preact/hooks';
import {
  addCondition, changeKind, defaultValue, KNOWN_KINDS, leaf, group, MATCHES, moveNode, removeNode,
  setMatch, updateLeaf, wrapInGroup,
} from '../tree.js';

const OPS = ['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE', 'CONTAINS', 'NOT_CONTAINS', 'STARTS_WITH', 'ENDS_WITH', 'IN', 'NOT_IN', 'EXISTS', 'NOT_EXISTS'];
const DATE_OPS = ['WITHIN_LAST_DAYS', 'MORE_THAN_DAYS_AGO'];
const COUNT_OPS = ['EQ', 'NEQ', 'GT', 'GTE', 'LT', 'LTE'];
const ATTRIBUTES = ['EMAIL', 'STATUS', 'CREATED_AT', 'COUNTRY', 'REGION', 'CITY', 'TIMEZONE'];
const FNS = ['SUM', 'AVG', 'MIN', 'MAX', 'COUNT'];
const MATCH_TEXT = { ALL: 'all of', ANY: 'any of', NONE: 'none of' };
const KIND_TEXT = { tag: 'Tag', field: 'Custom field', attribute: 'Attribute', event: 'Event', aggregate: 'Aggregate', segment: 'Segment', group: 'Group' };
const OP_TEXT = { EQ: 'equals', NEQ: 'does not equal', GT: '>', GTE: '≥', LT: '<', LTE: '≤', CONTAINS: 'contains', NOT_CONTAINS: 'does not contain', STARTS_WITH: 'starts with', ENDS_WITH: 'ends with', IN: 'is one of', NOT_IN: 'is none of', EXISTS: 'is set', NOT_EXISTS: 'is not set', WITHIN_LAST_DAYS: 'within the last (days)', MORE_THAN_DAYS_AGO: 'more than (days) ago' };

function Select({ label, value, options, onChange, text = {} }) {
  return (
    <select aria-label={label} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
      {options.map((o) => <option key={o} value={o}>{text[o] ?? o}</option>)}
    </select>
  );
}

function TextInput({ label, value, onChange, list, type = 'text', width }) {
  return <input aria-label={label} type={type} value={value ?? ''} list={list} style={width ? { width } : undefined}
    onInput={(e) => onChange(e.currentTarget.value)} />;
}

/** A JSON scalar typed by the marketer: text, number or true/false. */
function typed(raw, type) {
  if (type === 'number') return raw === '' ? null : Number(raw);
  if (type === 'boolean') return raw === 'true';
  return raw;
}
const typeOf = (v) => (typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'text');

/** op + value/values, shared by field, attribute and property filters. */
function Comparison({ label, value, onChange, dates = false }) {
  const op = value.op;
  const many = op === 'IN' || op === 'NOT_IN';
  const none = op === 'EXISTS' || op === 'NOT_EXISTS';
  const sample = many ? (value.values ?? [])[0] : value.value;
  const [type, setType] = useState(typeOf(sample));
  const setOp = (next) => {
    const v = { ...value, op: next };
    delete v.value; delete v.values;
    if (next === 'IN' || next === 'NOT_IN') v.values = sample == null || sample === '' ? [] : [sample];
    else if (next !== 'EXISTS' && next !== 'NOT_EXISTS') v.value = DATE_OPS.includes(next) ? 30 : (sample ?? '');
    onChange(v);
  };
  const dateOp = DATE_OPS.includes(op);
  return (
    <>
      <Select label={`${label} operator`} value={op} options={dates ? [...OPS, ...DATE_OPS] : OPS} text={OP_TEXT} onChange={setOp} />
      {!none && !dateOp && (
        <Select label={`${label} value type`} value={type} options={['text', 'number', 'boolean']}
          onChange={(t) => { setType(t); onChange(many ? { ...value, values: (value.values ?? []).map((x) => typed(String(x), t)) } : { ...value, value: typed(String(value.value ?? ''), t) }); }} />
      )}
      {!none && many && (
        <TextInput label={`${label} values, comma separated`} value={(value.values ?? []).join(', ')}
          onChange={(raw) => onChange({ ...value, values: raw.split(',').map((s) => s.trim()).filter(Boolean).map((s) => typed(s, type)) })} />
      )}
      {!none && !many && dateOp && (
        <TextInput label={`${label} days`} type="number" width="5em" value={value.value}
          onChange={(raw) => onChange({ ...value, value: raw === '' ? null : Number(raw) })} />
      )}
      {!none && !many && !dateOp && (type === 'boolean'
        ? <Select label={`${label} value`} value={String(value.value)} options={['true', 'false']} onChange={(raw) => onChange({ ...value, value: raw === 'true' })} />
        : <TextInput label={`${label} value`} type={type === 'number' ? 'number' : 'text'} value={value.value}
          onChange={(raw) => onChange({ ...value, value: typed(raw, type) })} />)}
    </>
  );
}

const WINDOW_KINDS = { all: 'any time', lastDays: 'in the last days', lastHours: 'in the last hours', moreThanDaysAgo: 'more than days ago', between: 'between' };

function WindowEditor({ label, value, onChange }) {
  const kind = value ? Object.keys(value)[0] : 'all';
  const set = (k) => {
    if (k === 'all') onChange(undefined);
    else if (k === 'between') {
      const to = new Date(); const from = new Date(to.getTime() - 30 * 864e5);
      onChange({ between: { from: from.toISOString(), to: to.toISOString() } });
    } else onChange({ [k]: 30 });
  };
  return (
    <>
      <Select label={`${label} window`} value={kind} options={Object.keys(WINDOW_KINDS)} text={WINDOW_KINDS} onChange={set} />
      {kind !== 'all' && kind !== 'between' && (
        <TextInput label={`${label} window length`} type="number" width="5em" value={value[kind]}
          onChange={(raw) => onChange({ [kind]: raw === '' ? null : Number(raw) })} />
      )}
      {kind === 'between' && (
        <>
          <TextInput label={`${label} from (ISO date-time)`} value={value.between.from} onChange={(from) => onChange({ between: { ...value.between, from } })} />
          <TextInput label={`${label} to (ISO date-time)`} value={value.between.to} onChange={(to) => onChange({ between: { ...value.between, to } })} />
        </>
      )}
    </>
  );
}

function withOptional(value, key, v) {
  const next = { ...value };
  if (v === undefined) delete next[key]; else next[key] = v;
  return next;
}

function LeafEditor({ node, onChange, segments, label: at }) {
  const L = (text) => `${at}: ${text}`;
  const v = node.value;
  const set = (patch) => onChange({ ...v, ...patch });
  switch (node.kind) {
    case 'tag':
      return (
        <>
          <Select label={L('Tag test')} value={v.has === false ? 'no' : 'yes'} options={['yes', 'no']} text={{ yes: 'has tag', no: 'does not have tag' }} onChange={(x) => set({ has: x === 'yes' })} />
          <TextInput label={L('Tag')} value={v.tag} list="catalog-tags" onChange={(tag) => set({ tag })} />
        </>
      );
    case 'field':
      return (
        <>
          <TextInput label={L('Field key')} value={v.key} list="catalog-fields" onChange={(key) => set({ key })} />
          <Comparison label={L('Field')} value={v} onChange={onChange} />
        </>
      );
    case 'attribute':
      return (
        <>
          <Select label={L('Attribute')} value={v.attribute} options={ATTRIBUTES} onChange={(attribute) => set({ attribute })} />
          <Comparison label={L('Attribute')} value={v} onChange={onChange} dates={v.attribute === 'CREATED_AT'} />
        </>
      );
    case 'event': {
      const count = v.count ?? { op: 'GTE', value: 1 };
      return (
        <>
          <TextInput label={L('Event names, comma separated')} value={(v.names ?? []).join(', ')} list="catalog-events"
            onChange={(raw) => set({ names: raw.split(',').map((s) => s.trim()).filter(Boolean) })} />
          <Select label={L('Event count operator')} value={count.op} options={COUNT_OPS} text={OP_TEXT} onChange={(op) => set({ count: { ...count, op } })} />
          <TextInput label={L('Event count')} type="number" width="5em" value={count.value}
            onChange={(raw) => set({ count: { ...count, value: raw === '' ? null : Number(raw) } })} />
          <span class="muted">times</span>
          <WindowEditor label={L('Event')} value={v.window} onChange={(w) => onChange(withOptional(v, 'window', w))} />
          {(v.where ?? []).map((filter, i) => (
            <span class="where" key={i}>
              <span class="muted">where</span>
              <TextInput label={L(`Property ${i + 1} key`)} value={filter.key} onChange={(key) => set({ where: v.where.map((f, j) => (j === i ? { ...f, key } : f)) })} />
              <Comparison label={L(`Property ${i + 1}`)} value={filter} onChange={(f) => set({ where: v.where.map((g, j) => (j === i ? f : g)) })} />
              <button type="button" class="icon" aria-label={L(`Remove property filter ${i + 1}`)} onClick={() => onChange(withOptional(v, 'where', v.where.length > 1 ? v.where.filter((_, j) => j !== i) : undefined))}>×</button>
            </span>
          ))}
          <button type="button" class="link" onClick={() => set({ where: [...(v.where ?? []), { key: '', op: 'EQ', value: '' }] })}>+ property filter</button>
        </>
      );
    }
    case 'aggregate':
      return (
        <>
          <Select label={L('Aggregate function')} value={v.fn} options={FNS} onChange={(fn) => set({ fn })} />
          <span class="muted">of</span>
          <TextInput label={L('Aggregate event name')} value={v.name} list="catalog-events" onChange={(name) => set({ name })} />
          <TextInput label={L("Aggregate property (empty: the event's value)")} value={v.property ?? ''} onChange={(p) => onChange(withOptional(v, 'property', p || undefined))} />
          <Select label={L('Aggregate operator')} value={v.op} options={COUNT_OPS} text={OP_TEXT} onChange={(op) => set({ op })} />
          <TextInput label={L('Aggregate value')} type="number" width="7em" value={v.value} onChange={(raw) => set({ value: raw === '' ? null : Number(raw) })} />
          <WindowEditor label={L('Aggregate')} value={v.window} onChange={(w) => onChange(withOptional(v, 'window', w))} />
        </>
      );
    case 'segment':
      return (
        <>
          <Select label={L('Segment membership')} value={v.member === false ? 'no' : 'yes'} options={['yes', 'no']} text={{ yes: 'is in', no: 'is not in' }} onChange={(x) => set({ member: x === 'yes' })} />
          <select aria-label={L('Segment')} value={v.id} onChange={(e) => set({ id: e.currentTarget.value })}>
            <option value="">choose a segment…</option>
            {segments.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </select>
        </>
      );
    default:
      return <JsonEditor label={L(`${node.kind} condition (JSON)`)} value={v} onChange={onChange} />;
  }
}

/** Condition kinds this console has no form for yet (newer servers): edited as JSON. */
function JsonEditor({ label, value, onChange }) {
  const [text, setText] = useState(JSON.stringify(value));
  const [bad, setBad] = useState(false);
  return (
    <textarea aria-label={label} aria-invalid={bad} rows={2} cols={50} value={text}
      onInput={(e) => {
        setText(e.currentTarget.value);
        try { onChange(JSON.parse(e.currentTarget.value)); setBad(false); } catch { setBad(true); }
      }} />
  );
}

function Explained({ result }) {
  if (!result) return null;
  const detail = result.count != null ? ` (${result.count} events)` : result.value != null ? ` (value ${result.value})` : '';
  return <span class={result.matched ? 'explain yes' : 'explain no'}>{result.matched ? '✓ matches' : '✗ does not match'}{detail}</span>;
}

function NodeErrors({ errors }) {
  if (!errors?.length) return null;
  return (
    <ul class="node-errors" role="alert">
      {errors.map((e, i) => <li key={i}>{e.at ? <code>{e.at}</code> : null} {e.message}</li>)}
    </ul>
  );
}

function Toolbar({ node, tree, onChange, label, root }) {
  return (
    <span class="toolbar">
      {!root && <button type="button" class="icon" aria-label={`Move ${label} up`} onClick={() => onChange(moveNode(tree, node.id, -1))}>↑</button>}
      {!root && <button type="button" class="icon" aria-label={`Move ${label} down`} onClick={() => onChange(moveNode(tree, node.id, 1))}>↓</button>}
      <button type="button" class="icon" aria-label={`Wrap ${label} in a group`} onClick={() => onChange(wrapInGroup(tree, node.id))}>( )</button>
      {!root && <button type="button" class="icon" aria-label={`Remove ${label}`} onClick={() => onChange(removeNode(tree, node.id))}>×</button>}
    </span>
  );
}

function GroupEditor({ node, tree, onChange, ctx, depth, label, explain }) {
  const [kind, setKind] = useState('tag');
  const kinds = [...ctx.kinds, 'group'];
  return (
    <fieldset class={`group depth-${depth % 4}`} data-node={node.id}>
      <legend>
        <span class="sr-only">{label}: </span>
        <span>Match</span>{' '}
        <Select label={`${label} match`} value={node.match} options={MATCHES} text={MATCH_TEXT} onChange={(m) => onChange(setMatch(tree, node.id, m))} />
        <span> these conditions</span>
        <Explained result={explain} />
        <Toolbar node={node} tree={tree} onChange={onChange} label={label} root={depth === 0} />
      </legend>
      <NodeErrors errors={ctx.errors[node.id]} />
      <ol class="conditions">
        {node.conditions.map((child, i) => (
          <li key={child.id}>
            <NodeEditor node={child} tree={tree} onChange={onChange} ctx={ctx} depth={depth + 1}
              label={`${label}, condition ${i + 1}`} explain={explain?.children?.[i]} />
          </li>
        ))}
      </ol>
      <div class="add">
        <Select label={`Kind of condition to add to ${label}`} value={kind} options={kinds} text={KIND_TEXT} onChange={setKind} />
        <button type="button" onClick={() => onChange(addCondition(tree, node.id, kind === 'group' ? group('ALL', [leaf('tag')]) : { ...leaf(kind), value: ctx.defaults(kind) }))}>
          Add to {label.toLowerCase()}
        </button>
      </div>
    </fieldset>
  );
}

function NodeEditor(props) {
  const { node, tree, onChange, ctx, label, explain } = props;
  if (node.kind === 'group') return <GroupEditor {...props} />;
  return (
    <div class={`condition ${ctx.errors[node.id] ? 'invalid' : ''}`} data-node={node.id} role="group" aria-label={label}>
      <Select label={`${label} kind`} value={node.kind} options={[...new Set([...ctx.kinds, node.kind])]} text={KIND_TEXT}
        onChange={(k) => onChange(changeKind(tree, node.id, k, ctx.catalogFirst))} />
      <LeafEditor node={node} label={label} segments={ctx.segments} onChange={(value) => onChange(updateLeaf(tree, node.id, value))} />
      <Explained result={explain} />
      <Toolbar node={node} tree={tree} onChange={onChange} label={label} />
      <NodeErrors errors={ctx.errors[node.id]} />
    </div>
  );
}

/**
 * The whole builder. `kinds` are the condition kinds the server's schema has (introspected);
 * `errors` come from errorsByNode; `explain` is an ExplainNode aligned with the tree.
 */
export function Builder({ tree, onChange, kinds = KNOWN_KINDS, errors = {}, explain = null, catalog = {}, segments = [] }) {
  const catalogFirst = { tag: catalog.tags?.[0], field: catalog.fields?.[0], event: catalog.events?.[0], segment: segments[0]?.id };
  const ctx = {
    kinds: kinds.length ? kinds : KNOWN_KINDS, errors, catalog, segments, catalogFirst,
    defaults: (kind) => defaultValue(kind, catalogFirst),
  };
  return (
    <div class="builder">
      <datalist id="catalog-tags">{(catalog.tags ?? []).map((t) => <option key={t} value={t} />)}</datalist>
      <datalist id="catalog-fields">{(catalog.fields ?? []).map((t) => <option key={t} value={t} />)}</datalist>
      <datalist id="catalog-events">{(catalog.events ?? []).map((t) => <option key={t} value={t} />)}</datalist>
      <GroupEditor node={tree} tree={tree} onChange={onChange} ctx={ctx} depth={0} label="Root group" explain={explain} />
    </div>
  );
}
