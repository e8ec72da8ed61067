// CSV import, shown only where the server's schema has importPeople (see docs/console.md).
export function ImportPeople() {
  return (
    <section aria-labelledby="import-title">
      <h1 id="import-title">Import people</h1>
      <p class="muted">This server's API has no import yet.</p>
    </section>
  );
}
