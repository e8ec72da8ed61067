import { useState } from 'preact/hooks';
import { getKey, gql } from '../api.js';
import { BarChart, LineChart, Sparkline } from '../components/Chart.jsx';
import { ErrorNote, fmt, Loading, pct, when } from '../components/bits.jsx';
import { useQuery } from '../hooks.js';

const LIST = `query Segments { segments(first: 50) { totalCount edges { node { id name description count sizeHistory(last: 20) { recordedAt count } } } } }`;
const DETAIL = `query SegmentDetail($id: ID!) { segment(id: $id) { id name description count updatedAt
  sizeHistory(last: 100) { recordedAt count }
  engagement { members opened clicked purchased openRate clickRate revenue revenuePerMember }
  members(first: 25) { totalCount edges { node { id email status tags } } } } }`;
const COMPARE = `query Compare($ids: [ID!]!) { segmentEngagement(segmentIds: $ids) { segment { id name } engagement { members openRate clickRate revenuePerMember } } }`;

export const LIVE_REFRESH_MS = 15000;

export function Segments() {
  const { data, error, loading, reload } = useQuery(LIST, {}, { interval: LIVE_REFRESH_MS });
  const [chosen, setChosen] = useState([]);
  const [comparison, setComparison] = useState(null);
  const compare = async () => setComparison((await gql(COMPARE, { ids: chosen })).segmentEngagement);
  return (
    <section aria-labelledby="segments-title">
      <div class="title-row">
        <h1 id="segments-title">Segments</h1>
        <a class="button" href="#/segments/new">New segment</a>
        <button type="button" onClick={reload}>Refresh counts</button>
      </div>
      <ErrorNote error={error} />
      {!data && loading && <Loading />}
      {data && (
        <table>
          <caption class="sr-only">Segments with live counts (refreshed every {LIVE_REFRESH_MS / 1000} s)</caption>
          <thead><tr><th scope="col">Compare</th><th scope="col">Segment</th><th scope="col" class="num">Members now</th><th scope="col">Size history</th></tr></thead>
          <tbody>
            {data.segments.edges.map(({ node }) => (
              <tr key={node.id}>
                <td><input type="checkbox" aria-label={`Compare ${node.name}`} checked={chosen.includes(node.id)}
                  onChange={(e) => setChosen(e.currentTarget.checked ? [...chosen, node.id] : chosen.filter((c) => c !== node.id))} /></td>
                <td><a href={`#/segments/${node.id}`}>{node.name}</a><div class="muted small">{node.description}</div></td>
                <td class="num" data-testid={`count-${node.id}`}>{fmt(node.count)}</td>
                <td><Sparkline points={node.sizeHistory} label={`${node.name} size history`} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data && !data.segments.totalCount && <p>No segments yet. <a href="#/segments/new">Build one</a>.</p>}
      <p><button type="button" disabled={chosen.length < 1} onClick={compare}>Compare engagement of {chosen.length} selected</button></p>
      {comparison && (
        <figure>
          <BarChart label="Open rate, click rate per segment (last 30 days)" categories={comparison.map((c) => c.segment.name)}
            series={[{ label: 'open rate', values: comparison.map((c) => c.engagement.openRate) }, { label: 'click rate', values: comparison.map((c) => c.engagement.clickRate) }]} />
          <figcaption>
            Last 30 days: {comparison.map((c) => `${c.segment.name} opens ${pct(c.engagement.openRate)}, clicks ${pct(c.engagement.clickRate)}, ${c.engagement.revenuePerMember.toFixed(2)} revenue per member`).join('; ')}
          </figcaption>
        </figure>
      )}
    </section>
  );
}

/** Stream the export with the key in a header, counting rows against X-Total-Count. */
function Export({ segment }) {
  const [progress, setProgress] = useState(null);
  const [link, setLink] = useState(null);
  const run = async (format) => {
    setLink(null);
    const response = await fetch(`/export/segments/${segment.id}?format=${format}`, { headers: { authorization: `Bearer ${getKey()}` } });
    if (!response.ok) { setProgress({ error: `Export failed (${response.status}).` }); return; }
    const total = Number(response.headers.get('x-total-count') ?? 0);
    const reader = response.body.getReader();
    const chunks = [];
    let lines = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      for (const byte of value) if (byte === 10) lines += 1;
      setProgress({ rows: Math.max(0, lines - (format === 'csv' ? 1 : 0)), total });
    }
    const blob = new Blob(chunks, { type: format === 'csv' ? 'text/csv' : 'application/x-ndjson' });
    setLink({ href: URL.createObjectURL(blob), name: `${segment.name}.${format}` });
  };
  return (
    <div class="export">
      <button type="button" onClick={() => run('csv')}>Export CSV</button>{' '}
      <button type="button" onClick={() => run('jsonl')}>Export JSON Lines</button>
      {progress?.error && <p role="alert" class="error">{progress.error}</p>}
      {progress?.total != null && !progress.error && (
        <p role="status"><progress max={progress.total || 1} value={progress.rows} aria-label="Export progress" /> {fmt(progress.rows)} of {fmt(progress.total)} rows</p>
      )}
      {link && <a href={link.href} download={link.name}>Download {link.name}</a>}
    </div>
  );
}

export function SegmentDetail({ id }) {
  const { data, error } = useQuery(DETAIL, { id }, { interval: LIVE_REFRESH_MS });
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading />;
  const s = data.segment;
  if (!s) return <p role="alert">No such segment.</p>;
  const e = s.engagement;
  return (
    <section aria-labelledby="segment-title">
      <div class="title-row">
        <h1 id="segment-title">{s.name}</h1>
        <a class="button" href={`#/segments/${s.id}/edit`}>Edit definition</a>
      </div>
      <p class="muted">{s.description}</p>
      <p class="count"><strong data-testid="segment-count">{fmt(s.count)}</strong> members now</p>
      <h2>Size history</h2>
      {s.sizeHistory.length ? <LineChart points={s.sizeHistory} label={`${s.name}: members over time`} /> : <p class="muted">The periodic size job has not recorded this segment yet.</p>}
      <h2>Engagement, last 30 days</h2>
      <dl class="stats">
        <div><dt>Opened</dt><dd>{fmt(e.opened)} ({pct(e.openRate)})</dd></div>
        <div><dt>Clicked</dt><dd>{fmt(e.clicked)} ({pct(e.clickRate)})</dd></div>
        <div><dt>Purchased</dt><dd>{fmt(e.purchased)}</dd></div>
        <div><dt>Revenue</dt><dd>{e.revenue.toFixed(2)} ({e.revenuePerMember.toFixed(2)} per member)</dd></div>
      </dl>
      <h2>Export</h2>
      <Export segment={s} />
      <h2>Members</h2>
      <table>
        <caption class="sr-only">First members</caption>
        <thead><tr><th scope="col">Email</th><th scope="col">Status</th><th scope="col">Tags</th></tr></thead>
        <tbody>{s.members.edges.map(({ node }) => (
          <tr key={node.id}><td><a href={`#/people/${node.id}`}>{node.email}</a></td><td>{node.status}</td><td>{node.tags.join(', ')}</td></tr>
        ))}</tbody>
      </table>
      <p class="muted small">Updated {when(s.updatedAt)}</p>
    </section>
  );
}
