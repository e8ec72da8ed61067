import { ErrorNote, fmt, Loading, Status, when } from '../components/bits.jsx';
import { useQuery } from '../hooks.js';

const LIST = `query Flows { flows(first: 100) { edges { node { id name status activatedAt enrollments(first: 1) { totalCount } } } } }`;
const DETAIL = `query Flow($id: ID!) { flow(id: $id) { id name status activatedAt
  definition { entry trigger allowReentry steps { id kind wait { duration next } split { segmentId yes no }
    sendEmail { subject next } addTag { tag next } removeTag { tag next } exit { reason } } }
  enrollments(first: 100) { totalCount edges { node { id state step stepsTaken source enrolledAt finishedAt person { id email } } } }
  decisions(first: 100) { totalCount edges { node { enrollmentId personId step segmentId result nextStep evaluatedAt } } } }
  segments(first: 1000) { edges { node { id name } } } }`;

export function Flows() {
  const { data, error } = useQuery(LIST, {});
  return (
    <section aria-labelledby="flows-title">
      <h1 id="flows-title">Flows</h1>
      <ErrorNote error={error} />
      {!data ? <Loading /> : (
        <table>
          <caption class="sr-only">Flows</caption>
          <thead><tr><th scope="col">Flow</th><th scope="col">Status</th><th scope="col" class="num">Enrollments</th><th scope="col">Active since</th></tr></thead>
          <tbody>{data.flows.edges.map(({ node }) => (
            <tr key={node.id}><td><a href={`#/flows/${node.id}`}>{node.name}</a></td><td><Status value={node.status} /></td>
              <td class="num">{fmt(node.enrollments.totalCount)}</td><td>{when(node.activatedAt)}</td></tr>
          ))}</tbody>
        </table>
      )}
      {data && !data.flows.edges.length && <p class="muted">No flows yet (create them with createFlow).</p>}
    </section>
  );
}

const seconds = (s) => (s % 86400 === 0 ? `${s / 86400} d` : s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`);

function stepLabel(step, segmentNames) {
  switch (step.kind) {
    case 'WAIT': return `Wait ${seconds(step.wait.duration)}`;
    case 'SPLIT': return `In ${segmentNames[step.split.segmentId] ?? step.split.segmentId}?`;
    case 'SEND_EMAIL': return `Email: ${step.sendEmail.subject}`;
    case 'ADD_TAG': return `Add tag ${step.addTag.tag}`;
    case 'REMOVE_TAG': return `Remove tag ${step.removeTag.tag}`;
    default: return 'Exit';
  }
}

function exits(step) {
  const body = step.wait ?? step.sendEmail ?? step.addTag ?? step.removeTag;
  if (step.split) return [[step.split.yes, 'yes'], [step.split.no, 'no']];
  return body ? [[body.next, '']] : [];
}

/** The steps as layers from the entry (breadth first), drawn as an SVG graph. */
export function layout(definition) {
  const byId = Object.fromEntries(definition.steps.map((s) => [s.id, s]));
  const level = { [definition.entry]: 0 };
  const queue = [definition.entry];
  while (queue.length) {
    const id = queue.shift();
    for (const [next] of exits(byId[id] ?? {})) {
      if (byId[next] && level[next] === undefined) { level[next] = level[id] + 1; queue.push(next); }
    }
  }
  for (const s of definition.steps) if (level[s.id] === undefined) level[s.id] = Math.max(0, ...Object.values(level)) + 1;
  const columns = {};
  const pos = {};
  for (const s of definition.steps) {
    const l = level[s.id];
    columns[l] = (columns[l] ?? 0) + 1;
    pos[s.id] = { x: columns[l] - 1, y: l };
  }
  return { byId, pos, width: Math.max(...Object.values(columns)), height: Math.max(...Object.values(level)) + 1 };
}

function StepGraph({ definition, segmentNames, counts }) {
  const { byId, pos, width, height } = layout(definition);
  const W = 210; const H = 90; const BW = 180; const BH = 46;
  const center = (id) => ({ x: pos[id].x * W + 10 + BW / 2, y: pos[id].y * H + 10 });
  return (
    <svg class="flow-graph" width={width * W + 20} height={height * H + 10} role="img" aria-labelledby="graph-title">
      <title id="graph-title">Steps of the flow, from the entry step {definition.entry} down</title>
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#64748b" /></marker></defs>
      {definition.steps.flatMap((s) => exits(s).filter(([n]) => byId[n]).map(([next, label]) => {
        const a = center(s.id); const b = center(next);
        const side = a.y === b.y; // same layer: from one box's side to the other's
        const dir = b.x > a.x ? 1 : -1;
        const [x1, y1, x2, y2] = side ? [a.x + dir * BW / 2, a.y + BH / 2, b.x - dir * (BW / 2 + 2), b.y + BH / 2] : [a.x, a.y + BH, b.x, b.y - 2];
        return (
          <g key={`${s.id}-${next}-${label}`}>
            <line x1={x1} y1={y1} x2={x2} y2={y2} stroke="#64748b" marker-end="url(#arrow)" />
            {label && <text x={(a.x + b.x) / 2 + 4} y={(a.y + BH + b.y) / 2} class="edge-label">{label}</text>}
          </g>
        );
      }))}
      {definition.steps.map((s) => {
        const { x, y } = pos[s.id];
        return (
          <g key={s.id} transform={`translate(${x * W + 10},${y * H + 10})`} class={`step step-${s.kind.toLowerCase()}`}>
            <rect width={BW} height={BH} rx="6" />
            <text x="8" y="18" class="step-id">{s.id}{counts[s.id] ? ` · ${counts[s.id]} here` : ''}</text>
            <text x="8" y="36">{stepLabel(s, segmentNames).slice(0, 26)}</text>
          </g>
        );
      })}
    </svg>
  );
}

export function FlowDetail({ id }) {
  const { data, error } = useQuery(DETAIL, { id });
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading />;
  const f = data.flow;
  if (!f) return <p role="alert">No such flow.</p>;
  const segmentNames = Object.fromEntries(data.segments.edges.map((e) => [e.node.id, e.node.name]));
  const counts = {};
  for (const { node } of f.enrollments.edges) if (node.state === 'ACTIVE') counts[node.step] = (counts[node.step] ?? 0) + 1;
  return (
    <section aria-labelledby="flow-title">
      <h1 id="flow-title">{f.name}</h1>
      <p><Status value={f.status} /> {f.definition.trigger && <>triggered by <code>{f.definition.trigger}</code></>} {f.definition.allowReentry ? '· re-entry allowed' : ''}</p>
      <h2>Steps</h2>
      <StepGraph definition={f.definition} segmentNames={segmentNames} counts={counts} />
      <h2>Enrollments ({fmt(f.enrollments.totalCount)})</h2>
      <table data-testid="enrollments">
        <caption class="sr-only">Enrollments</caption>
        <thead><tr><th scope="col">Person</th><th scope="col">State</th><th scope="col">Step</th><th scope="col">Source</th><th scope="col">Enrolled</th></tr></thead>
        <tbody>{f.enrollments.edges.map(({ node }) => (
          <tr key={node.id}><td>{node.person ? <a href={`#/people/${node.person.id}`}>{node.person.email}</a> : '—'}</td><td>{node.state}</td>
            <td>{node.step} ({node.stepsTaken} taken)</td><td>{node.source}</td><td>{when(node.enrolledAt)}</td></tr>
        ))}</tbody>
      </table>
      <h2>Split decisions ({fmt(f.decisions.totalCount)})</h2>
      <table>
        <caption class="sr-only">Split decisions</caption>
        <thead><tr><th scope="col">When</th><th scope="col">Step</th><th scope="col">Segment</th><th scope="col">Member?</th><th scope="col">Went to</th></tr></thead>
        <tbody>{f.decisions.edges.map(({ node }, i) => (
          <tr key={i}><td>{when(node.evaluatedAt)}</td><td>{node.step}</td><td>{segmentNames[node.segmentId] ?? node.segmentId}</td><td>{node.result ? 'yes' : 'no'}</td><td>{node.nextStep}</td></tr>
        ))}</tbody>
      </table>
    </section>
  );
}
