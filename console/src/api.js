// The console's only way to the server: the public GraphQL API with the tab's API key.
import { createClient } from 'graphql-ws';

const KEY = 'sieve.apiKey';
const ENDPOINT = '/graphql';

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (key) => sessionStorage.setItem(KEY, key);
export const clearKey = () => { sessionStorage.removeItem(KEY); closeSocket(); };

export class GraphQLErrors extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join('\n'));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code;
  }
}

/** One operation over HTTP; GraphQL errors are thrown as GraphQLErrors. */
export async function gql(query, variables = {}, { key = getKey(), signal } = {}) {
  const response = await fetch(ENDPOINT, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
    signal,
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphQLErrors([{ message: `The server answered ${response.status}.`, extensions: { code: 'UNAVAILABLE' } }]);
  }
  if (body.errors?.length) throw new GraphQLErrors(body.errors);
  return body.data;
}

/** A mutation's payload; userErrors are thrown as GraphQLErrors with their paths. */
export async function mutate(query, variables, field) {
  const data = await gql(query, variables);
  const payload = data[field];
  if (payload.userErrors?.length) {
    throw new GraphQLErrors(payload.userErrors.map((e) => ({
      message: e.message, extensions: { code: e.code, inputPath: e.path },
    })));
  }
  return payload;
}

let socket = null;
function closeSocket() { socket?.dispose(); socket = null; }

/** A subscription over graphql-ws (the key goes in connection_init); returns unsubscribe. */
export function subscribe(query, variables, { next, error, complete }) {
  if (!socket) {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${ENDPOINT}`;
    socket = createClient({ url, connectionParams: () => ({ Authorization: `Bearer ${getKey()}` }), lazy: true });
  }
  return socket.subscribe({ query, variables }, {
    next: (result) => (result.errors ? error?.(new GraphQLErrors(result.errors)) : next(result.data)),
    error: (e) => error?.(e instanceof Error ? e : new GraphQLErrors(Array.isArray(e) ? e : [{ message: String(e?.reason || 'connection closed') }])),
    complete: () => complete?.(),
  });
}

const INTROSPECT = `query ConsoleCapabilities {
  __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } }
  person: __type(name: "Person") { fields { name } }
  segment: __type(name: "Segment") { fields { name } }
  workspace: __type(name: "Workspace") { fields { name } }
  audience: __type(name: "AudiencePreview") { fields { name } }
  condition: __type(name: "ConditionInput") { inputFields { name type { name kind ofType { name } } } }
}`;

/**
 * What this server's schema offers, asked once at sign-in: screens whose fields are absent
 * (an older server, or an API still to come) are hidden instead of failing.
 */
export async function capabilities(key) {
  const data = await gql(INTROSPECT, {}, { key });
  const names = (type) => new Set((type?.fields ?? []).map((f) => f.name));
  return {
    query: names(data.__schema.queryType),
    mutation: names(data.__schema.mutationType),
    subscription: names(data.__schema.subscriptionType),
    person: names(data.person),
    segment: names(data.segment),
    workspace: names(data.workspace),
    audience: names(data.audience),
    conditionKinds: (data.condition?.inputFields ?? []).map((f) => f.name).filter((n) => n !== 'group'),
  };
}

/** Split a preview's error message ("path: message; path: message") into one per path. */
export function splitPathErrors(errors) {
  const out = [];
  for (const error of errors) {
    const parts = error.message.split(/; (?=definition[\w.[\]]*: )/);
    if (parts.length > 1 || /^definition[\w.[\]]*: /.test(parts[0])) {
      for (const part of parts) {
        const match = /^(definition[\w.[\]]*): ([\s\S]*)$/.exec(part);
        out.push(match ? { message: match[2], extensions: { ...error.extensions, path: match[1], inputPath: undefined } } : { ...error, message: part });
      }
    } else out.push(error);
  }
  return out;
}
