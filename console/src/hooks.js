import { useEffect, useRef, useState } from 'preact/hooks';
import { gql } from './api.js';

/** Run a query when its inputs change; `reload` runs it again. */
export function useQuery(query, variables, { skip = false, interval = 0 } = {}) {
  const [state, setState] = useState({ data: null, error: null, loading: !skip });
  const [tick, setTick] = useState(0);
  const json = JSON.stringify(variables ?? {});
  useEffect(() => {
    if (skip) return undefined;
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    gql(query, JSON.parse(json), { signal: controller.signal })
      .then((data) => setState({ data, error: null, loading: false }))
      .catch((error) => { if (error.name !== 'AbortError') setState({ data: null, error, loading: false }); });
    return () => controller.abort();
  }, [query, json, skip, tick]);
  useEffect(() => {
    if (!interval || skip) return undefined;
    const timer = setInterval(() => { if (!document.hidden) setTick((t) => t + 1); }, interval);
    return () => clearInterval(timer);
  }, [interval, skip]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** The value after it has stopped changing for `ms`. */
export function useDebounced(value, ms) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

export function useHashRoute() {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const onChange = () => setHash(location.hash || '#/');
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash.slice(1).split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
}

export function useMounted() {
  const ref = useRef(true);
  useEffect(() => () => { ref.current = false; }, []);
  return ref;
}
