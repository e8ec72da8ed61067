import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { gql, GraphQLErrors, mutate, splitPathErrors } from '../api.js';
import { Builder } from '../components/Builder.jsx';
import { ErrorNote, fmt, Loading } from '../components/bits.jsx';
import { loadCatalog } from '../catalog.js';
import { useDebounced } from '../hooks.js';
import { useSession } from '../session.js';
import { errorsByNode, fromInput, group, leaf, toInput } from '../tree.js';

const EXPLAIN_FIELDS = 'kind matched count value';
// ExplainNode nested as deep as a definition may be (depth 8), within the query depth limit.
const explainSelection = (depth) => (depth === 0 ? EXPLAIN_FIELDS : `${EXPLAIN_FIELDS} children { ${explainSelection(depth - 1)} }`);
export const EXPLAIN = explainSelection(8);

const PREVIEW = `query Preview($definition: FilterGroupInput!) {
  previewSegment(definition: $definition) { count members(first: 10) { edges { node { id email status } } } }
}`;
const PREVIEW_EXPLAIN = `query PreviewExplain($definition: FilterGroupInput!, $personId: ID!) {
  previewSegment(definition: $definition) { explain(personId: $personId) { ${EXPLAIN} } }
}`;
const LOAD = `query Segment($id: ID!) { segment(id: $id) { id name description definitionInput } }`;
const SEGMENTS = `query SegmentChoices { segments(first: 1000) { edges { node { id name } } } }`;
const CREATE = `mutation Create($input: CreateSegmentInput!) { createSegment(input: $input) { segment { id } userErrors { path message code } } }`;
const UPDATE = `mutation Update($input: UpdateSegmentInput!) { updateSegment(input: $input) { segment { id } userErrors { path message code } } }`;
const PERSON = `query PersonByEmail($email: String!) { person(email: $email) { id email } }`;

export const PREVIEW_DEBOUNCE_MS = 250;

function starter() {
  return group('ALL', [leaf('event', { names: ['email_opened'], count: { op: 'GTE', value: 1 }, window: { lastDays: 30 } })]);
}

/** Live count and first members of the definition being edited (debounced previewSegment).
 * Stale (aria-busy) from the edit until the answer for exactly that definition is in: also
 * in the render between the debounce settling and the request starting. */
function usePreview(tree) {
  const definition = useMemo(() => toInput(tree), [tree]);
  const settled = useDebounced(definition, PREVIEW_DEBOUNCE_MS);
  const key = JSON.stringify(settled);
  const [state, setState] = useState({});
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    const started = performance.now();
    // a newer edit aborts the request in flight: the server stops its statement too
    const controller = new AbortController();
    gql(PREVIEW, { definition: settled }, { signal: controller.signal })
      .then((data) => mine === seq.current && setState({ preview: data.previewSegment, ms: performance.now() - started, errors: [], key }))
      .catch((e) => e.name !== 'AbortError' && mine === seq.current && setState({ errors: e instanceof GraphQLErrors ? splitPathErrors(e.errors) : [{ message: e.message }], key }));
    return () => controller.abort();
  }, [key]);
  return { ...state, stale: settled !== definition || state.key !== key };
}

export function SegmentEditor({ id }) {
  const session = useSession();
  const [tree, setTree] = useState(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [saveErrors, setSaveErrors] = useState([]);
  const [loadError, setLoadError] = useState(null);
  const [segments, setSegments] = useState([]);
  const [catalog, setCatalog] = useState({});
  const [explainEmail, setExplainEmail] = useState('');
  const [explain, setExplain] = useState(null);
  const [explainError, setExplainError] = useState(null);

  useEffect(() => {
    loadCatalog(session.caps).then(setCatalog);
    gql(SEGMENTS).then((d) => setSegments(d.segments.edges.map((e) => e.node).filter((s) => s.id !== id)));
    if (!id) { setTree(starter()); return; }
    gql(LOAD, { id }).then(({ segment }) => {
      if (!segment) throw new Error('No such segment.');
      setName(segment.name); setDescription(segment.description);
      setTree(fromInput(segment.definitionInput));
    }).catch(setLoadError);
  }, [id]);

  if (loadError) return <ErrorNote error={loadError} />;
  if (!tree) return <Loading />;
  return <EditorBody {...{ id, tree, setTree, name, setName, description, setDescription, saveErrors, setSaveErrors, segments, catalog, session, explainEmail, setExplainEmail, explain, setExplain, explainError, setExplainError }} />;
}

function EditorBody(props) {
  const { id, tree, setTree, name, setName, description, setDescription, saveErrors, setSaveErrors, segments, catalog, session } = props;
  const preview = usePreview(tree);
  const nodeErrors = useMemo(() => errorsByNode(tree, [...(preview.errors ?? []), ...saveErrors]), [tree, preview.errors, saveErrors]);
  const unplaced = saveErrors.filter((e) => !String(e.extensions?.inputPath ?? '').includes('definition'));
  const onChange = (next) => { setTree(next); setSaveErrors([]); props.setExplain(null); };

  const save = async (event) => {
    event.preventDefault();
    const input = { name, description, definition: toInput(tree) };
    try {
      const payload = id
        ? await mutate(UPDATE, { input: { id, ...input } }, 'updateSegment')
        : await mutate(CREATE, { input }, 'createSegment');
      location.hash = `#/segments/${payload.segment.id}`;
    } catch (e) {
      setSaveErrors((e.errors ?? [{ message: e.message }]).map((err) => ({
        ...err, extensions: { ...err.extensions, inputPath: (err.extensions?.inputPath ?? []).filter((p) => p !== 'input') },
      })));
    }
  };

  const runExplain = async (event) => {
    event.preventDefault();
    props.setExplainError(null);
    try {
      const { person } = await gql(PERSON, { email: props.explainEmail });
      if (!person) throw new Error(`No person with the email ${props.explainEmail}.`);
      const data = await gql(PREVIEW_EXPLAIN, { definition: toInput(tree), personId: person.id });
      props.setExplain({ person, node: data.previewSegment.explain });
    } catch (e) { props.setExplainError(e); }
  };

  return (
    <section aria-labelledby="editor-title">
      <h1 id="editor-title">{id ? `Edit segment: ${name}` : 'New segment'}</h1>
      <div class="editor">
        <form class="editor-main" onSubmit={save}>
          <div class="row">
            <label>Name <input value={name} required onInput={(e) => setName(e.currentTarget.value)} /></label>
            <label>Description <input value={description} onInput={(e) => setDescription(e.currentTarget.value)} /></label>
          </div>
          <Builder tree={tree} onChange={onChange} kinds={session.caps.conditionKinds} errors={nodeErrors}
            explain={props.explain?.node} catalog={catalog} segments={segments} />
          {unplaced.map((e, i) => <p key={i} role="alert" class="error">{e.message}</p>)}
          <button type="submit">{id ? 'Save segment' : 'Create segment'}</button>
        </form>
        <aside class="preview" aria-labelledby="preview-title">
          <h2 id="preview-title">Live preview</h2>
          <p class="count" aria-live="polite" data-testid="live-count" aria-busy={preview.stale ? 'true' : 'false'}>
            {preview.preview ? <><strong>{fmt(preview.preview.count)}</strong> people</> : preview.errors?.length ? 'Fix the highlighted conditions' : '…'}
          </p>
          {preview.ms != null && <p class="muted small">counted in {Math.round(preview.ms)} ms</p>}
          {preview.preview && (
            <>
              <h3>First members</h3>
              <ul class="members">
                {preview.preview.members.edges.map(({ node }) => <li key={node.id}><a href={`#/people/${node.id}`}>{node.email}</a></li>)}
              </ul>
            </>
          )}
          <form onSubmit={runExplain} class="explain-form">
            <h3>Why is this person (not) in it?</h3>
            <label for="explain-email">Person's email</label>
            <input id="explain-email" type="email" required value={props.explainEmail} onInput={(e) => props.setExplainEmail(e.currentTarget.value)} />
            <button type="submit">Explain</button>
            <ErrorNote error={props.explainError} />
            {props.explain && (
              <p data-testid="explain-result" role="status">
                {props.explain.person.email} {props.explain.node?.matched ? 'is in this segment' : 'is not in this segment'}: see ✓/✗ at each condition.
              </p>
            )}
          </form>
        </aside>
      </div>
    </section>
  );
}
