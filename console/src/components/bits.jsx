export const fmt = (n) => (n == null ? '—' : Number(n).toLocaleString('en-US'));
export const pct = (x) => (x == null ? '—' : `${(x * 100).toFixed(1)}%`);
export const when = (iso) => (iso ? new Date(iso).toLocaleString('en-GB', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' }) + ' UTC' : '—');

export function Status({ value }) {
  return <span class={`badge badge-${String(value).toLowerCase()}`}>{value}</span>;
}

export function ErrorNote({ error }) {
  if (!error) return null;
  return <p role="alert" class="error">{error.message}</p>;
}

export function Loading({ what = 'Loading' }) {
  return <p role="status" class="muted">{what}…</p>;
}
