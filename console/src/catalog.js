// Choices for the builder (tags, field keys, event names) from the workspace catalog, where
// the server's schema has one (`catalog`); without it the builder takes free text.
import { gql } from './api.js';

const CATALOG = `query Catalog { catalog { tags(first: 100) { tag people } fields(first: 100) { key types people }
  events(first: 50) { name events people } } }`;

let cached = null;

export async function loadCatalog(caps) {
  if (!caps.query.has('catalog')) return {};
  if (cached) return cached;
  try {
    const { catalog } = await gql(CATALOG);
    cached = {
      tags: catalog.tags.map((t) => t.tag),
      fields: catalog.fields.map((f) => f.key),
      events: catalog.events.map((e) => e.name),
      raw: catalog,
    };
  } catch {
    cached = {}; // a catalog of another shape: free text it is
  }
  return cached;
}

export function forgetCatalog() { cached = null; }
