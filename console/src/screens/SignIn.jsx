import { useState } from 'preact/hooks';

export function SignIn({ onSignIn }) {
  const [key, setKeyValue] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSignIn(key.trim());
    } catch (e) {
      setError(e.code === 'UNAUTHENTICATED' ? 'That API key is not valid.' : e.message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin">
      <h1>Sieve Console</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" required
          value={key} onInput={(e) => setKeyValue(e.currentTarget.value)} placeholder="sk_…" />
        <p id="signin-help" class="hint">Kept in this tab only (session storage). <code>sieve demo</code> prints one.</p>
        <button type="submit" disabled={busy || !key.trim()}>{busy ? 'Signing in…' : 'Sign in'}</button>
        {error && <p role="alert" class="error">{error}</p>}
      </form>
    </main>
  );
}
