import { useEffect, useState } from 'preact/hooks';
import { gql, mutate, subscribe } from '../api.js';
import { ErrorNote, fmt, Loading, pct, Status, when } from '../components/bits.jsx';
import { useDebounced, useQuery } from '../hooks.js';
import { useSession } from '../session.js';
import { barGeometry, legacySteps, waterfallSteps } from '../waterfall.js';

const LIST = `query Broadcasts { broadcasts(first: 100) { edges { node { id name subject status audience sent createdAt finishedAt } } } }`;
const SEGMENTS = `query SegmentNames { segments(first: 100) { edges { node { id name count } } } }`;
const WATERFALL = `query Waterfall($include: [ID!]!, $exclude: [ID!]) {
  included: previewAudience(includeSegmentIds: $include) { count suppressed }
  final: previewAudience(includeSegmentIds: $include, excludeSegmentIds: $exclude) { count suppressed } }`;
const WATERFALL_SPLIT = `query AudienceWaterfall($include: [ID!]!, $exclude: [ID!]) {
  previewAudience(includeSegmentIds: $include, excludeSegmentIds: $exclude) { included excluded suppressedBy { reason count } count } }`;
const RENDER = `query Render($personId: ID!, $subject: String!, $html: String, $text: String) {
  renderEmail(personId: $personId, subject: $subject, html: $html, text: $text) { subject html text error } }`;
const PERSON = `query PersonByEmail($email: String!) { person(email: $email) { id email } }`;
const CREATE = `mutation CreateBroadcast($input: CreateBroadcastInput!) { createBroadcast(input: $input) { broadcast { id } userErrors { path message code } } }`;
const PROGRESS_FIELDS = 'id status audience suppressed sent failed bounced skipped unknown capped pending startedAt finishedAt error';
const DETAIL = `query Broadcast($id: ID!) { broadcast(id: $id) { ${PROGRESS_FIELDS} name subject fromEmail includeSegmentIds excludeSegmentIds scheduledAt
  audiencePreview { count suppressed } } }`;
const REPORT = `query Report($id: ID!) { broadcast(id: $id) { report { audience sent delivered failed skipped unknown pending bounced hardBounced softBounced
  complained unsubscribed uniqueOpens opens uniqueClicks clicks openRate clickRate clickToOpenRate bounceRate unsubscribeRate revenue purchases purchasers
  links { url clicks uniqueClicks } } } }`;
const SEND = `mutation Send($id: ID!, $at: DateTime) { sendBroadcast(id: $id, at: $at) { broadcast { ${PROGRESS_FIELDS} } userErrors { path message code } } }`;
const CANCEL = `mutation Cancel($id: ID!) { cancelBroadcast(id: $id) { broadcast { ${PROGRESS_FIELDS} } userErrors { path message code } } }`;
const PROGRESS = `subscription Progress($id: ID!) { broadcastProgress(id: $id) { ${PROGRESS_FIELDS} } }`;
const FINAL = new Set(['SENT', 'CANCELLED', 'FAILED']);

export function Broadcasts() {
  const { data, error } = useQuery(LIST, {});
  return (
    <section aria-labelledby="broadcasts-title">
      <div class="title-row"><h1 id="broadcasts-title">Broadcasts</h1><a class="button" href="#/broadcasts/new">New broadcast</a></div>
      <ErrorNote error={error} />
      {!data ? <Loading /> : (
        <table>
          <caption class="sr-only">Broadcasts</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col" class="num">Audience</th><th scope="col" class="num">Sent</th><th scope="col">Created</th></tr></thead>
          <tbody>{data.broadcasts.edges.map(({ node }) => (
            <tr key={node.id}><td><a href={`#/broadcasts/${node.id}`}>{node.name}</a><div class="muted small">{node.subject}</div></td>
              <td><Status value={node.status} /></td><td class="num">{fmt(node.audience)}</td><td class="num">{fmt(node.sent)}</td><td>{when(node.createdAt)}</td></tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}

/** Included, minus excluded, minus suppressed by reason, = audience (previewAudience). */
export function Waterfall({ include, exclude }) {
  const session = useSession();
  const split = session?.caps.audience?.has('suppressedBy');
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (!include.length) { setData(null); return; }
    let current = true;
    setError(null);
    gql(split ? WATERFALL_SPLIT : WATERFALL, { include, exclude }).then(
      (d) => current && setData(split ? waterfallSteps(d.previewAudience) : legacySteps(d)),
      (e) => current && setError(e),
    );
    return () => { current = false; };
  }, [include.join(), exclude.join(), round]);
  if (error) return <ErrorNote error={error} />;
  if (!include.length) return <p class="muted">Choose at least one segment to include.</p>;
  if (!data) return <Loading what="Counting the audience" />;
  return (
    <div class="waterfall-box">
      <table class="waterfall" data-testid="waterfall">
        <caption>Audience right now</caption>
        <tbody>{data.rows.map((row) => {
          const bar = barGeometry(row, data.total, 240);
          return (
            <tr key={row.key} class={`step-${row.sign === '−' ? 'out' : row.key}`} data-step={row.key}>
              <th scope="row">{row.label}</th><td class="num">{row.sign} {fmt(row.n)}</td>
              <td class="track" aria-hidden="true"><span class="bar" style={{ marginLeft: `${bar.left}px`, width: `${bar.width}px` }} /></td></tr>
          );
        })}</tbody>
      </table>
      {!data.consistent && <p class="muted" role="status">People changed while this was counted; the steps may not add up exactly.</p>}
      <button type="button" class="small" onClick={() => setRound(round + 1)}>Count again</button>
    </div>
  );
}

function SegmentPicker({ legend, segments, chosen, onChange }) {
  return (
    <fieldset class="picker">
      <legend>{legend}</legend>
      {segments.map((s) => (
        <label key={s.id} class="check"><input type="checkbox" checked={chosen.includes(s.id)}
          onChange={(e) => onChange(e.currentTarget.checked ? [...chosen, s.id] : chosen.filter((c) => c !== s.id))} /> {s.name} <span class="muted">({fmt(s.count)})</span></label>
      ))}
    </fieldset>
  );
}

function RenderedPreview({ subject, html, text }) {
  const session = useSession();
  const [email, setEmail] = useState('');
  const [person, setPerson] = useState(null);
  const [rendered, setRendered] = useState(null);
  const [error, setError] = useState(null);
  const templates = useDebounced({ subject, html, text }, 300);
  useEffect(() => {
    if (!person || !session.caps.query.has('renderEmail')) return;
    gql(RENDER, { personId: person.id, ...templates }).then((d) => { setRendered(d.renderEmail); setError(null); }, setError);
  }, [person, JSON.stringify(templates)]);
  if (!session.caps.query.has('renderEmail')) return null;
  const choose = async (event) => {
    event.preventDefault();
    const { person: found } = await gql(PERSON, { email });
    if (!found) setError({ message: `Nobody has the email ${email}.` }); else setPerson(found);
  };
  return (
    <section class="rendered" aria-labelledby="rendered-title">
      <h2 id="rendered-title">Preview for a person</h2>
      <div class="row">
        <label for="preview-email">Preview as (email)</label>
        <input id="preview-email" type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        <button type="button" onClick={choose}>Show preview</button>
      </div>
      <ErrorNote error={error} />
      {rendered?.error && <p role="alert" class="error">For {person.email}: {rendered.error}</p>}
      {rendered && !rendered.error && (
        <div data-testid="rendered-preview">
          <p><strong>Subject:</strong> {rendered.subject}</p>
          {/* sandbox without allow-scripts: the email's html can run nothing */}
          <iframe title={`Email as ${person.email} sees it`} sandbox="" srcdoc={rendered.html || `<pre>${rendered.text.replace(/</g, '&lt;')}</pre>`} />
        </div>
      )}
    </section>
  );
}

export function BroadcastCompose() {
  const segments = useQuery(SEGMENTS, {});
  const [form, setForm] = useState({ name: '', subject: '', fromEmail: '', html: '<p>Hello {{ person.email }}</p>', text: '' });
  const [include, setInclude] = useState([]);
  const [exclude, setExclude] = useState([]);
  const [errors, setErrors] = useState([]);
  const set = (key) => (e) => setForm({ ...form, [key]: e.currentTarget.value });
  const list = segments.data?.segments.edges.map((e) => e.node) ?? [];
  const errorFor = (field) => errors.filter((e) => (e.extensions?.inputPath ?? []).includes(field));
  const save = async (event) => {
    event.preventDefault();
    try {
      const payload = await mutate(CREATE, { input: { ...form, includeSegmentIds: include, excludeSegmentIds: exclude } }, 'createBroadcast');
      location.hash = `#/broadcasts/${payload.broadcast.id}`;
    } catch (e) { setErrors(e.errors ?? [{ message: e.message }]); }
  };
  const field = (key, label, props = {}) => (
    <label class="stack">{label}
      {props.rows ? <textarea rows={props.rows} value={form[key]} onInput={set(key)} aria-invalid={errorFor(key).length > 0} />
        : <input type={props.type ?? 'text'} required={props.required} value={form[key]} onInput={set(key)} aria-invalid={errorFor(key).length > 0} />}
      {errorFor(key).map((e, i) => <span key={i} class="error" role="alert">{e.message}</span>)}
    </label>
  );
  return (
    <section aria-labelledby="compose-title">
      <h1 id="compose-title">New broadcast</h1>
      <form onSubmit={save} class="compose">
        {field('name', 'Name', { required: true })}
        {field('subject', 'Subject', { required: true })}
        {field('fromEmail', 'From (email)', { type: 'email', required: true })}
        {field('html', 'HTML body (Jinja: {{ person.email }}, {{ person.fields.first_name }})', { rows: 6 })}
        {field('text', 'Text body', { rows: 3 })}
        <SegmentPicker legend="Send to members of" segments={list} chosen={include} onChange={setInclude} />
        <SegmentPicker legend="Except members of" segments={list} chosen={exclude} onChange={setExclude} />
        <Waterfall include={include} exclude={exclude} />
        {errors.filter((e) => !['name', 'subject', 'fromEmail', 'html', 'text'].some((f) => (e.extensions?.inputPath ?? []).includes(f)))
          .map((e, i) => <p key={i} role="alert" class="error">{e.message}</p>)}
        <button type="submit">Save draft</button>
      </form>
      <RenderedPreview subject={form.subject} html={form.html} text={form.text} />
    </section>
  );
}

function Progress({ b }) {
  const done = b.sent + b.failed + b.skipped + b.unknown + (b.capped ?? 0);
  const total = b.audience ?? done + b.pending;
  return (
    <div class="progress-block" aria-live="polite">
      <progress max={total || 1} value={done} aria-label="Sending progress" />
      <span data-testid="progress-text"> {fmt(done)} of {fmt(total)} handled · sent {fmt(b.sent)} · failed {fmt(b.failed)} · skipped {fmt(b.skipped)} · unknown {fmt(b.unknown)} · pending {fmt(b.pending)}</span>
    </div>
  );
}

function Report({ id }) {
  const { data, error } = useQuery(REPORT, { id });
  if (error) return <ErrorNote error={error} />;
  if (!data) return <Loading what="Loading the report" />;
  const r = data.broadcast.report;
  const stats = [['Audience', fmt(r.audience)], ['Sent', fmt(r.sent)], ['Delivered', fmt(r.delivered)], ['Failed', fmt(r.failed)],
    ['Bounced', `${fmt(r.bounced)} (${pct(r.bounceRate)})`], ['Unique opens', `${fmt(r.uniqueOpens)} (${pct(r.openRate)})`],
    ['Unique clicks', `${fmt(r.uniqueClicks)} (${pct(r.clickRate)})`], ['Unsubscribed', `${fmt(r.unsubscribed)} (${pct(r.unsubscribeRate)})`],
    ['Revenue', `${r.revenue.toFixed(2)} from ${fmt(r.purchasers)} buyers`]];
  return (
    <section aria-labelledby="report-title" data-testid="report">
      <h2 id="report-title">Report</h2>
      <dl class="stats">{stats.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{v}</dd></div>)}</dl>
      {r.links.length > 0 && (
        <table><caption>Clicks per link</caption><thead><tr><th scope="col">URL</th><th scope="col" class="num">Clicks</th><th scope="col" class="num">People</th></tr></thead>
          <tbody>{r.links.map((l) => <tr key={l.url}><td>{l.url}</td><td class="num">{fmt(l.clicks)}</td><td class="num">{fmt(l.uniqueClicks)}</td></tr>)}</tbody></table>
      )}
    </section>
  );
}

export function BroadcastDetail({ id }) {
  const { data, error, reload } = useQuery(DETAIL, { id });
  const [live, setLive] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [at, setAt] = useState('');
  const b = data?.broadcast ? { ...data.broadcast, ...(live ?? {}) } : null;
  const watching = b && !FINAL.has(b.status) && b.status !== 'DRAFT';
  useEffect(() => {
    if (!watching) return undefined;
    return subscribe(PROGRESS, { id }, {
      next: (d) => d.broadcastProgress && setLive(d.broadcastProgress),
      error: setActionError,
      complete: () => reload(),
    });
  }, [watching, id]);
  if (error) return <ErrorNote error={error} />;
  if (!b) return data ? <p role="alert">No such broadcast.</p> : <Loading />;
  const act = async (query, field, vars) => {
    setActionError(null);
    try { setLive((await mutate(query, vars, field)).broadcast); } catch (e) { setActionError(e); }
  };
  return (
    <section aria-labelledby="broadcast-title">
      <h1 id="broadcast-title">{b.name}</h1>
      <p>Status: <span data-testid="broadcast-status"><Status value={b.status} /></span> · from {b.fromEmail} · “{b.subject}”</p>
      {b.status === 'DRAFT' && (
        <>
          <Waterfall include={b.includeSegmentIds} exclude={b.excludeSegmentIds} />
          <div class="row">
            <button type="button" onClick={() => act(SEND, 'sendBroadcast', { id })}>Send now</button>
            <label>or at <input type="datetime-local" value={at} onInput={(e) => setAt(e.currentTarget.value)} /></label>
            <button type="button" disabled={!at} onClick={() => act(SEND, 'sendBroadcast', { id, at: new Date(at).toISOString() })}>Schedule</button>
          </div>
        </>
      )}
      {b.status === 'SCHEDULED' && <p>Scheduled for {when(b.scheduledAt)}.</p>}
      {b.status !== 'DRAFT' && <Progress b={b} />}
      {!FINAL.has(b.status) && b.status !== 'DRAFT' && <button type="button" onClick={() => act(CANCEL, 'cancelBroadcast', { id })}>Cancel sending</button>}
      {b.error && <p role="alert" class="error">{b.error}</p>}
      <ErrorNote error={actionError} />
      {FINAL.has(b.status) && <Report id={id} key={b.status} />}
    </section>
  );
}
