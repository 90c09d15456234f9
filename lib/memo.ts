// Per-name (per-address) results of what runs at every event: function
// names and addresses repeat from call to call, so each is made once.

/**
 * `f` remembered by its argument. The table forgets everything past `max`
 * entries: names come from the traced program, so they are not bounded.
 */
export function memoize<K, V>(f: (k: K) => V, max = 4096): (k: K) => V {
  const seen = new Map<K, V>();
  return (k) => {
    let v = seen.get(k);
    if (v === undefined) {
      if (seen.size >= max) seen.clear();
      seen.set(k, (v = f(k)));
    }
    return v;
  };
}
