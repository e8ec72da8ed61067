// CSV import of people, shown where the server has imports (Query.importJob): the upload is
// multipart to POST /imports/people, its progress read from importJob until DONE or FAILED.
import { useEffect, useState } from 'preact/hooks';
import { getKey, gql } from '../api.js';
import { forgetCatalog } from '../catalog.js';
import { ErrorNote, fmt, Status, when } from '../components/bits.jsx';
import { useQuery } from '../hooks.js';

const ATTRIBUTES = ['email', 'tags', 'status', 'country', 'region', 'city', 'timezone'];
const TARGETS = { skip: 'ignore', ...Object.fromEntries(ATTRIBUTES.map((a) => [a, a])), string: 'field (text)', number: 'field (number)', boolean: 'field (true/false)' };
const JOB = `query ImportJob($id: ID!) { importJob(id: $id) { id status mode filename rowsTotal rowsProcessed created updated unchanged skipped rejected
  error { code message } errorsUrl createdAt finishedAt errors(first: 20) { totalCount edges { node { row column code message } } } } }`;
const JOBS = `query ImportJobs { importJobs(first: 10) { edges { node { id status filename rowsTotal rowsProcessed rejected createdAt } } } }`;
const FINAL = new Set(['DONE', 'FAILED']);
const FIELD_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/** The header row of a CSV file, read in the browser (the first line, RFC 4180 quotes). */
export function parseHeader(text) {
  const cells = []; let cell = ''; let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 1; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { cells.push(cell.trim()); cell = ''; } else if (c === '\n' || c === '\r') break;
    else cell += c;
  }
  cells.push(cell.trim());
  return cells.map((h) => h.replace(/^\uFEFF/, ''));
}

/** A first guess: attribute columns by name, the rest as text fields (when a valid key). */
export function guessTargets(header) {
  return Object.fromEntries(header.map((h) => {
    const lower = h.toLowerCase().replace(/[^a-z]/g, '');
    const attribute = ATTRIBUTES.find((a) => a === lower || (a === 'email' && lower === 'emailaddress'));
    return [h, attribute ?? (FIELD_KEY.test(h) ? 'string' : 'skip')];
  }));
}

/** The importer's mapping JSON from the chosen targets. */
export function mappingOf(targets) {
  const mapping = { fields: {} };
  for (const [column, target] of Object.entries(targets)) {
    if (ATTRIBUTES.includes(target)) mapping[target] = column;
    else if (target !== 'skip') mapping.fields[column.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^(?![A-Za-z_])/, '_').slice(0, 64)] = target === 'string' ? column : { column, type: target };
  }
  return mapping;
}

function upload(file, mapping, mode, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('mapping', JSON.stringify(mapping));
    form.append('mode', mode);
    form.append('file', file);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/imports/people');
    xhr.setRequestHeader('authorization', `Bearer ${getKey()}`);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status === 202) resolve(body.job);
      else reject(Object.assign(new Error((body.errors ?? []).map((e) => `${e.path ? `${e.path}: ` : ''}${e.message}`).join('\n') || `Upload refused (${xhr.status}).`), { errors: body.errors }));
    };
    xhr.onerror = () => reject(new Error('The upload failed (network).'));
    xhr.send(form);
  });
}

function JobProgress({ id, onDone }) {
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  const [report, setReport] = useState(null);
  useEffect(() => {
    let stop = false;
    const poll = async () => {
      try {
        const { importJob } = await gql(JOB, { id });
        if (stop) return;
        setJob(importJob);
        if (!FINAL.has(importJob.status)) setTimeout(poll, 400);
        else { forgetCatalog(); onDone?.(); }
      } catch (e) { setError(e); }
    };
    poll();
    return () => { stop = true; };
  }, [id]);
  const download = async () => {
    const response = await fetch(job.errorsUrl, { headers: { authorization: `Bearer ${getKey()}` } });
    setReport({ href: URL.createObjectURL(await response.blob()), name: `${job.filename}-errors.csv` });
  };
  if (error) return <ErrorNote error={error} />;
  if (!job) return null;
  return (
    <section aria-labelledby="job-title" data-testid="import-job">
      <h2 id="job-title">Import of {job.filename}: <span data-testid="import-status"><Status value={job.status} /></span></h2>
      <p aria-live="polite">
        <progress max={job.rowsTotal || 1} value={job.rowsProcessed} aria-label="Import progress" />{' '}
        {fmt(job.rowsProcessed)} of {job.rowsTotal == null ? '…' : fmt(job.rowsTotal)} rows
      </p>
      <dl class="stats" data-testid="import-counters">
        {['created', 'updated', 'unchanged', 'skipped', 'rejected'].map((k) => <div key={k}><dt>{k}</dt><dd>{fmt(job[k])}</dd></div>)}
      </dl>
      {job.error && <p role="alert" class="error">{job.error.code}: {job.error.message}</p>}
      {job.errors.totalCount > 0 && (
        <>
          <table>
            <caption>Refused rows ({fmt(job.errors.totalCount)}; nothing of them was applied)</caption>
            <thead><tr><th scope="col">Row</th><th scope="col">Column</th><th scope="col">Code</th><th scope="col">Message</th></tr></thead>
            <tbody>{job.errors.edges.map(({ node }, i) => <tr key={i}><td>{node.row}</td><td>{node.column}</td><td>{node.code}</td><td>{node.message}</td></tr>)}</tbody>
          </table>
          <button type="button" onClick={download}>Prepare error report (CSV)</button>{' '}
          {report && <a href={report.href} download={report.name}>Download {report.name}</a>}
        </>
      )}
    </section>
  );
}

export function ImportPeople() {
  const [file, setFile] = useState(null);
  const [header, setHeader] = useState([]);
  const [targets, setTargets] = useState({});
  const [mode, setMode] = useState('CREATE_OR_UPDATE');
  const [sent, setSent] = useState(null);
  const [uploaded, setUploaded] = useState(null);
  const [error, setError] = useState(null);
  const history = useQuery(JOBS, {}, { interval: 0 });
  const choose = async (event) => {
    const chosen = event.currentTarget.files[0];
    setFile(chosen); setError(null); setUploaded(null);
    if (!chosen) return;
    const head = parseHeader(await chosen.slice(0, 65536).text());
    setHeader(head);
    setTargets(guessTargets(head));
  };
  const start = async (event) => {
    event.preventDefault();
    setError(null); setSent(0);
    try {
      const job = await upload(file, mappingOf(targets), mode, setSent);
      setUploaded(job.id);
      history.reload();
    } catch (e) { setError(e); setSent(null); }
  };
  return (
    <section aria-labelledby="import-title">
      <h1 id="import-title">Import people</h1>
      <form onSubmit={start}>
        <div class="row">
          <label for="import-file">CSV file</label>
          <input id="import-file" type="file" accept=".csv,text/csv" required onChange={choose} />
          <label for="import-mode">Mode</label>
          <select id="import-mode" value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
            <option value="CREATE_OR_UPDATE">create or update</option>
            <option value="CREATE_ONLY">create only (leave existing people)</option>
          </select>
        </div>
        {header.length > 0 && (
          <table data-testid="import-mapping">
            <caption>Columns of {file.name}: what each becomes</caption>
            <thead><tr><th scope="col">Column</th><th scope="col">Imported as</th></tr></thead>
            <tbody>{header.map((h) => (
              <tr key={h}><th scope="row">{h}</th><td>
                <select aria-label={`Column ${h} imported as`} value={targets[h]} onChange={(e) => setTargets({ ...targets, [h]: e.currentTarget.value })}>
                  {Object.entries(TARGETS).map(([v, label]) => <option key={v} value={v}>{label}</option>)}
                </select>
              </td></tr>
            ))}</tbody>
          </table>
        )}
        <button type="submit" disabled={!file || sent != null && !uploaded && !error}>Upload and import</button>
        {sent != null && !uploaded && <p role="status"><progress max="1" value={sent} aria-label="Upload progress" /> uploading {Math.round(sent * 100)}%</p>}
        <ErrorNote error={error} />
      </form>
      {uploaded && <JobProgress id={uploaded} key={uploaded} onDone={history.reload} />}
      {history.data?.importJobs.edges.length > 0 && (
        <table>
          <caption>Recent imports</caption>
          <thead><tr><th scope="col">File</th><th scope="col">Status</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Refused</th><th scope="col">Started</th></tr></thead>
          <tbody>{history.data.importJobs.edges.map(({ node }) => (
            <tr key={node.id}><td>{node.filename}</td><td><Status value={node.status} /></td><td class="num">{fmt(node.rowsProcessed)} / {fmt(node.rowsTotal)}</td>
              <td class="num">{fmt(node.rejected)}</td><td>{when(node.createdAt)}</td></tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}
