import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { capabilities, clearKey, getKey, gql, setKey } from './api.js';
import { useHashRoute } from './hooks.js';
import { SessionContext } from './session.js';
import { SignIn } from './screens/SignIn.jsx';
import { People, PersonProfile } from './screens/People.jsx';
import { SegmentDetail, Segments } from './screens/Segments.jsx';
import { SegmentEditor } from './screens/SegmentEditor.jsx';
import { BroadcastCompose, BroadcastDetail, Broadcasts } from './screens/Broadcasts.jsx';
import { FlowDetail, Flows } from './screens/Flows.jsx';
import { ImportPeople } from './screens/Import.jsx';
import './style.css';

/** Who the key is: the workspace's name where the schema offers it. */
async function startSession(key) {
  const caps = await capabilities(key);
  let workspace = { name: 'your workspace' };
  if (caps.query.has('workspace')) {
    workspace = (await gql('query Workspace { workspace { id name keyScope } }', {}, { key })).workspace;
  } else {
    await gql('query Check { segments(first: 1) { totalCount } }', {}, { key });
  }
  return { key, caps, workspace };
}

function Nav({ session, onSignOut, route }) {
  const links = [['people', 'People'], ['segments', 'Segments'], ['broadcasts', 'Broadcasts'], ['flows', 'Flows']];
  if (session.caps.query.has('importJob')) links.push(['import', 'Import']);
  return (
    <header class="top">
      <a class="skip" href="#main">Skip to content</a>
      <span class="brand">Sieve Console</span>
      <nav aria-label="Main">
        <ul>
          {links.map(([path, label]) => (
            <li key={path}><a href={`#/${path}`} aria-current={route[0] === path ? 'page' : undefined}>{label}</a></li>
          ))}
        </ul>
      </nav>
      <span class="workspace" data-testid="workspace-name">{session.workspace.name}</span>
      <button type="button" class="link" onClick={onSignOut}>Sign out</button>
    </header>
  );
}

function Screen({ route }) {
  const [area, id, action] = route;
  switch (area) {
    case 'people': return id ? <PersonProfile id={id} /> : <People />;
    case 'segments':
      if (id === 'new') return <SegmentEditor />;
      if (id && action === 'edit') return <SegmentEditor id={id} />;
      return id ? <SegmentDetail id={id} /> : <Segments />;
    case 'broadcasts':
      if (id === 'new') return <BroadcastCompose />;
      return id ? <BroadcastDetail id={id} /> : <Broadcasts />;
    case 'flows': return id ? <FlowDetail id={id} /> : <Flows />;
    case 'import': return <ImportPeople />;
    default: return <Segments />;
  }
}

function App() {
  const route = useHashRoute();
  const [session, setSession] = useState(null);
  const [restoring, setRestoring] = useState(Boolean(getKey()));
  useEffect(() => {
    performance.mark('console-interactive'); // first render done: benchmarks/console.py reads it
    const key = getKey();
    if (!key) return;
    startSession(key).then(setSession).catch(() => clearKey()).finally(() => setRestoring(false));
  }, []);
  useEffect(() => {
    const main = document.getElementById('main');
    if (main && document.activeElement === document.body) main.focus({ preventScroll: true });
  }, [route.join('/')]);
  if (restoring) return <p class="loading" role="status">Loading…</p>;
  if (!session) {
    return (
      <SignIn onSignIn={async (key) => {
        const started = await startSession(key);
        setKey(key);
        setSession(started);
        if (!location.hash || location.hash === '#/') location.hash = '#/segments';
      }} />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Nav session={session} route={route} onSignOut={() => { clearKey(); setSession(null); }} />
      <main id="main" tabIndex={-1}><Screen route={route} /></main>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById('app'));
