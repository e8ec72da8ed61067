// The segment builder's tree: an editable copy of a FilterGroupInput with an id on every
// node, and pure functions that return a new tree for each edit (no mutation, so preact
// re-renders exactly what changed and every edit is testable on its own).

let counter = 0;
export const newId = () => `n${++counter}`;

export const KNOWN_KINDS = ['tag', 'field', 'attribute', 'event', 'aggregate', 'segment'];
export const MATCHES = ['ALL', 'ANY', 'NONE'];

export function group(match = 'ALL', conditions = []) {
  return { id: newId(), kind: 'group', match, conditions };
}

export function leaf(kind, value) {
  return { id: newId(), kind, value: value ?? defaultValue(kind) };
}

/** What a new condition of a kind starts as: valid where a default exists. */
export function defaultValue(kind, catalog = {}) {
  switch (kind) {
    case 'tag': return { tag: catalog.tag ?? '', has: true };
    case 'field': return { key: catalog.field ?? '', op: 'EQ', value: '' };
    case 'attribute': return { attribute: 'COUNTRY', op: 'EQ', value: '' };
    case 'event': return { names: [catalog.event ?? 'email_opened'], count: { op: 'GTE', value: 1 }, window: { lastDays: 30 } };
    case 'aggregate': return { name: 'purchase', fn: 'SUM', op: 'GT', value: 0 };
    case 'segment': return { id: catalog.segment ?? '', member: true };
    default: return {};
  }
}

/** An editable tree from FilterGroupInput-shaped JSON (Segment.definitionInput). */
export function fromInput(input) {
  return {
    id: newId(),
    kind: 'group',
    match: input?.match ?? 'ALL',
    conditions: (input?.conditions ?? []).map((condition) => {
      const [kind, value] = Object.entries(condition).find(([, v]) => v != null) ?? ['tag', {}];
      return kind === 'group' ? fromInput(value) : leaf(kind, value);
    }),
  };
}

/** The FilterGroupInput to send: ids dropped, each condition as its one member. */
export function toInput(node) {
  return {
    match: node.match,
    conditions: node.conditions.map((child) =>
      child.kind === 'group' ? { group: toInput(child) } : { [child.kind]: child.value }),
  };
}

function mapTree(node, id, fn) {
  if (node.id === id) return fn(node);
  if (node.kind !== 'group') return node;
  let changed = false;
  const conditions = node.conditions.map((child) => {
    const next = mapTree(child, id, fn);
    if (next !== child) changed = true;
    return next;
  });
  return changed ? { ...node, conditions } : node;
}

export function find(node, id) {
  if (node.id === id) return node;
  if (node.kind !== 'group') return null;
  for (const child of node.conditions) {
    const hit = find(child, id);
    if (hit) return hit;
  }
  return null;
}

function parentOf(node, id) {
  if (node.kind !== 'group') return null;
  if (node.conditions.some((c) => c.id === id)) return node;
  for (const child of node.conditions) {
    const hit = parentOf(child, id);
    if (hit) return hit;
  }
  return null;
}

export const addCondition = (tree, groupId, child) =>
  mapTree(tree, groupId, (g) => ({ ...g, conditions: [...g.conditions, child] }));

export const setMatch = (tree, groupId, match) =>
  mapTree(tree, groupId, (g) => ({ ...g, match }));

export const updateLeaf = (tree, id, value) => mapTree(tree, id, (n) => ({ ...n, value }));

/** Change a condition's kind, starting from that kind's default. */
export const changeKind = (tree, id, kind, catalog) =>
  mapTree(tree, id, (n) => (kind === 'group' ? group('ALL', [leaf('tag')]) : { id: n.id, kind, value: defaultValue(kind, catalog) }));

/** Remove a node; the root stays. */
export function removeNode(tree, id) {
  const parent = parentOf(tree, id);
  if (!parent) return tree;
  return mapTree(tree, parent.id, (g) => ({ ...g, conditions: g.conditions.filter((c) => c.id !== id) }));
}

/** Move a node one place up (-1) or down (+1) among its siblings. */
export function moveNode(tree, id, delta) {
  const parent = parentOf(tree, id);
  if (!parent) return tree;
  const index = parent.conditions.findIndex((c) => c.id === id);
  const to = index + delta;
  if (to < 0 || to >= parent.conditions.length) return tree;
  return mapTree(tree, parent.id, (g) => {
    const conditions = [...g.conditions];
    [conditions[index], conditions[to]] = [conditions[to], conditions[index]];
    return { ...g, conditions };
  });
}

/** Put a node inside a new group of its own (ALL), where it was. */
export function wrapInGroup(tree, id, match = 'ALL') {
  if (tree.id === id) return group(match, [tree]);
  const parent = parentOf(tree, id);
  if (!parent) return tree;
  return mapTree(tree, parent.id, (g) => ({
    ...g,
    conditions: g.conditions.map((c) => (c.id === id ? group(match, [c]) : c)),
  }));
}

/** The dotted input path of a node, as the API names it in errors. */
export function pathOf(tree, id, prefix = 'definition') {
  if (tree.id === id) return prefix;
  if (tree.kind !== 'group') return null;
  for (let i = 0; i < tree.conditions.length; i += 1) {
    const child = tree.conditions[i];
    const here = `${prefix}.conditions[${i}]`;
    if (child.id === id) return child.kind === 'group' ? `${here}.group` : here;
    if (child.kind === 'group') {
      const deeper = pathOf(child, id, `${here}.group`);
      if (deeper) return deeper;
    }
  }
  return null;
}

/**
 * The node an API error path names (`["definition","conditions","0","group",...]` or the
 * dotted form), and the rest of the path inside that node (e.g. `event.count.value`).
 */
export function nodeAtPath(tree, path) {
  const parts = Array.isArray(path) ? path.map(String)
    : String(path).replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean);
  let node = tree;
  let i = parts[0] === 'definition' || parts[0] === 'where' ? 1 : 0;
  while (i < parts.length && node.kind === 'group' && parts[i] === 'conditions') {
    const index = Number(parts[i + 1]);
    const child = node.conditions[index];
    if (!child || Number.isNaN(index)) break;
    node = child;
    i += 2;
    if (child.kind === 'group' && parts[i] === 'group') i += 1;
    else if (parts[i] === child.kind) i += 1;
  }
  return { id: node.id, rest: parts.slice(i).join('.') };
}

/** Errors (from GraphQL extensions) keyed by the node they name. */
export function errorsByNode(tree, errors) {
  const out = {};
  for (const error of errors ?? []) {
    const path = error.extensions?.inputPath ?? error.extensions?.path ?? error.path;
    if (!path) continue;
    const { id, rest } = nodeAtPath(tree, path);
    (out[id] ??= []).push({ message: error.message, code: error.extensions?.code, at: rest });
  }
  return out;
}

export function countNodes(node) {
  return node.kind === 'group' ? 1 + node.conditions.reduce((n, c) => n + countNodes(c), 0) : 1;
}
