import { useEffect, useState } from 'preact/hooks';
import { gql } from '../api.js';
import { ErrorNote, fmt, Loading, Status, when } from '../components/bits.jsx';
import { ExplainTree } from '../components/Explain.jsx';
import { useQuery } from '../hooks.js';
import { useSession } from '../session.js';
import { EXPLAIN } from './SegmentEditor.jsx';

const LIST = `query People($where: FilterGroupInput, $after: String) {
  people(where: $where, first: 50, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { id email status tags country createdAt } } } }`;
const SEGMENTS = `query SegmentNames { segments(first: 1000) { edges { node { id name } } } }`;
const BY_EMAIL = `query PersonByEmail($email: String!) { person(email: $email) { id } }`;
const PROFILE = `query Profile($id: ID!) {
  person(id: $id) { id email status tags fields country region city timezone createdAt updatedAt
    flowHistory(first: 50) { edges { node { id state step stepsTaken source enrolledAt finishedAt error
      flow { id name } decisions { step segmentId result nextStep evaluatedAt } } } } }
  memberships(personId: $id) { member segment { id name } } }`;
const EVENTS = `query Timeline($id: ID!) { person(id: $id) { events(first: 50) { edges { node { id name occurredAt value properties } } } } }`;
const RFM = `query PersonRfm($id: ID!) { person(id: $id) { rfm { recency frequency monetary lastPurchaseAt r f m segment segmentTitle } }
  rfmSettings { purchaseEvent windowDays } }`;
const EXPLAIN_SEGMENT = `query ExplainSegment($segment: ID!, $person: ID!) { segment(id: $segment) { definitionInput explain(personId: $person) { ${EXPLAIN} } } }`;

export function People() {
  const [email, setEmail] = useState('');
  const [segment, setSegment] = useState('');
  const [after, setAfter] = useState(null);
  const [searchError, setSearchError] = useState(null);
  const segments = useQuery(SEGMENTS, {});
  const where = segment ? { match: 'ALL', conditions: [{ segment: { id: segment, member: true } }] } : null;
  const { data, error, loading } = useQuery(LIST, { where, after });
  const search = async (event) => {
    event.preventDefault();
    setSearchError(null);
    const { person } = await gql(BY_EMAIL, { email });
    if (person) location.hash = `#/people/${person.id}`;
    else setSearchError({ message: `Nobody has the email ${email}.` });
  };
  return (
    <section aria-labelledby="people-title">
      <h1 id="people-title">People</h1>
      <form class="row" onSubmit={search} role="search">
        <label>Find by email <input type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} /></label>
        <button type="submit">Open profile</button>
      </form>
      <ErrorNote error={searchError} />
      <div class="row">
        <label for="people-segment">Only members of</label>
          <select id="people-segment" value={segment} onChange={(e) => { setSegment(e.currentTarget.value); setAfter(null); }}>
            <option value="">everyone</option>
            {(segments.data?.segments.edges ?? []).map(({ node }) => <option key={node.id} value={node.id}>{node.name}</option>)}
          </select>
        {data && <span class="muted">{fmt(data.people.totalCount)} people</span>}
      </div>
      <ErrorNote error={error} />
      {loading && !data && <Loading />}
      {data && (
        <table>
          <caption class="sr-only">People</caption>
          <thead><tr><th scope="col">Email</th><th scope="col">Status</th><th scope="col">Tags</th><th scope="col">Country</th><th scope="col">Created</th></tr></thead>
          <tbody>{data.people.edges.map(({ node }) => (
            <tr key={node.id}><td><a href={`#/people/${node.id}`}>{node.email}</a></td><td><Status value={node.status} /></td>
              <td>{node.tags.join(', ')}</td><td>{node.country ?? ''}</td><td>{when(node.createdAt)}</td></tr>
          ))}</tbody>
        </table>
      )}
      {data?.people.pageInfo.hasNextPage && <button type="button" onClick={() => setAfter(data.people.pageInfo.endCursor)}>Next page</button>}
      {after && <button type="button" onClick={() => setAfter(null)}>First page</button>}
    </section>
  );
}

function Timeline({ id }) {
  const session = useSession();
  const [events, setEvents] = useState(null);
  useEffect(() => {
    if (!session.caps.person.has('events')) return;
    gql(EVENTS, { id }).then((d) => setEvents(d.person.events.edges.map((e) => e.node))).catch(() => setEvents(null));
  }, [id]);
  if (!session.caps.person.has('events') || !events) return null;
  return (
    <>
      <h2>Activity</h2>
      <ol class="timeline">
        {events.map((e) => (
          <li key={e.id}><time dateTime={e.occurredAt}>{when(e.occurredAt)}</time> <strong>{e.name}</strong>
            {e.value != null && ` ${e.value}`} <span class="muted small">{Object.keys(e.properties ?? {}).length ? JSON.stringify(e.properties) : ''}</span></li>
        ))}
      </ol>
    </>
  );
}

/** R, F and M with their scores and the named segment; nothing for a person without
 * purchases (and so for every person of a workspace without any), or an older server. */
export function RfmCard({ id }) {
  const session = useSession();
  const offered = session.caps.person.has('rfm');
  const [data, setData] = useState(null);
  useEffect(() => {
    if (!offered) return;
    setData(null);
    gql(RFM, { id }).then(setData).catch(() => setData(null));
  }, [id]);
  const rfm = data?.person?.rfm;
  if (!offered || !rfm) return null;
  const settings = data.rfmSettings;
  const scope = settings?.windowDays ? `purchases of the last ${fmt(settings.windowDays)} days` : 'all purchases';
  const rows = [
    ['Recency', rfm.r, `${fmt(rfm.recency)} ${rfm.recency === 1 ? 'day' : 'days'} since the last purchase (${when(rfm.lastPurchaseAt)})`],
    ['Frequency', rfm.f, `${fmt(rfm.frequency)} ${rfm.frequency === 1 ? 'purchase' : 'purchases'}`],
    ['Monetary', rfm.m, `${rfm.monetary.toLocaleString('en-US', { maximumFractionDigits: 2 })} spent`],
  ];
  return (
    <section class="rfm" aria-labelledby="rfm-title" data-testid="rfm">
      <h2 id="rfm-title">RFM</h2>
      <p><span class="rfm-segment" data-testid="rfm-segment">{rfm.segmentTitle}</span>{' '}
        <span class="muted small">R{rfm.r} F{rfm.f} M{rfm.m}, among the workspace's purchasers ({settings?.purchaseEvent ?? 'purchase'} events, {scope})</span></p>
      <table>
        <caption class="sr-only">RFM metrics and scores</caption>
        <thead><tr><th scope="col">Metric</th><th scope="col" class="num">Score (1–5)</th><th scope="col">Value</th></tr></thead>
        <tbody>{rows.map(([name, score, value]) => (
          <tr key={name}><th scope="row">{name}</th><td class="num"><span class="score">{score}</span><span class="of"> / 5</span></td><td>{value}</td></tr>
        ))}</tbody>
      </table>
    </section>
  );
}

function WhyPanel({ person, memberships }) {
  const [segment, setSegment] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const names = Object.fromEntries(memberships.map((m) => [m.segment.id, m.segment.name]));
  const run = async (event) => {
    event.preventDefault();
    setError(null);
    try {
      const data = await gql(EXPLAIN_SEGMENT, { segment, person: person.id });
      setResult(data.segment);
    } catch (e) { setError(e); }
  };
  return (
    <form onSubmit={run} aria-labelledby="why-title">
      <h2 id="why-title">Why is {person.email} (not) in a segment?</h2>
      <div class="row">
        <label for="why-segment">Segment</label>
          <select id="why-segment" value={segment} required onChange={(e) => { setSegment(e.currentTarget.value); setResult(null); }}>
            <option value="">choose…</option>
            {memberships.map((m) => <option key={m.segment.id} value={m.segment.id}>{m.segment.name}</option>)}
          </select>
        <button type="submit">Explain</button>
      </div>
      <ErrorNote error={error} />
      {result && <div data-testid="explain-view"><ExplainTree definition={result.definitionInput} node={result.explain} segmentNames={names} /></div>}
    </form>
  );
}

export function PersonProfile({ id }) {
  const { data, error } = useQuery(PROFILE, { id });
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading />;
  const p = data.person;
  if (!p) return <p role="alert">No such person.</p>;
  const location_ = [p.city, p.region, p.country].filter(Boolean).join(', ');
  return (
    <section aria-labelledby="person-title">
      <h1 id="person-title">{p.email}</h1>
      <p><Status value={p.status} /> {location_ && <span>{location_}</span>} {p.timezone && <span class="muted">{p.timezone}</span>}</p>
      <dl class="stats">
        <div><dt>Tags</dt><dd>{p.tags.length ? p.tags.map((t) => <span class="tag" key={t}>{t}</span>) : 'none'}</dd></div>
        <div><dt>Created</dt><dd>{when(p.createdAt)}</dd></div>
        <div><dt>Updated</dt><dd>{when(p.updatedAt)}</dd></div>
      </dl>
      <RfmCard id={p.id} />
      <h2>Fields</h2>
      {Object.keys(p.fields).length ? (
        <table><caption class="sr-only">Custom fields</caption><tbody>{Object.entries(p.fields).map(([k, v]) => <tr key={k}><th scope="row">{k}</th><td>{JSON.stringify(v)}</td></tr>)}</tbody></table>
      ) : <p class="muted">No custom fields.</p>}
      <h2>Segments</h2>
      <ul class="memberships">
        {data.memberships.map((m) => (
          <li key={m.segment.id} class={m.member ? 'in' : 'out'}>
            <span aria-hidden="true">{m.member ? '✓' : '·'}</span> <a href={`#/segments/${m.segment.id}`}>{m.segment.name}</a>
            <span class="sr-only">{m.member ? ' (member)' : ' (not a member)'}</span>
          </li>
        ))}
      </ul>
      <WhyPanel person={p} memberships={data.memberships} />
      <Timeline id={p.id} />
      <h2>Flow history</h2>
      {p.flowHistory.edges.length ? (
        <table>
          <caption class="sr-only">Flow enrollments</caption>
          <thead><tr><th scope="col">Flow</th><th scope="col">State</th><th scope="col">Step</th><th scope="col">Enrolled</th><th scope="col">Decisions</th></tr></thead>
          <tbody>{p.flowHistory.edges.map(({ node }) => (
            <tr key={node.id}><td>{node.flow ? <a href={`#/flows/${node.flow.id}`}>{node.flow.name}</a> : '—'}</td><td>{node.state}</td>
              <td>{node.step} ({node.stepsTaken} taken)</td><td>{when(node.enrolledAt)}</td>
              <td>{node.decisions.map((d) => `${d.step}: ${d.result ? 'yes' : 'no'} → ${d.nextStep}`).join('; ')}</td></tr>
          ))}</tbody>
        </table>
      ) : <p class="muted">Not enrolled in any flow.</p>}
    </section>
  );
}
