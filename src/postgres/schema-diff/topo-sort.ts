/**
 * Kahn's topological sort with a priority among the nodes that are ready, so the output is
 * deterministic and reads well (drops, renames, then creates by kind). A cycle does not stop it:
 * the lowest-priority node of the rest is taken anyway and reported.
 */
export interface SortResult<T> {
  readonly order: readonly T[];
  /** Nodes emitted while their predecessors were not all done (part of a cycle). */
  readonly cycleBroken: readonly T[];
}

export function topoSort<T>(nodes: readonly T[], edges: ReadonlyArray<readonly [T, T]>, compare: (x: T, y: T) => number): SortResult<T> {
  const index = new Map(nodes.map((n, i) => [n, i]));
  const indegree = nodes.map(() => 0);
  const next: number[][] = nodes.map(() => []);
  const seen = new Set<string>();
  for (const [from, to] of edges) {
    const f = index.get(from);
    const t = index.get(to);
    if (f === undefined || t === undefined || f === t) continue;
    const id = `${f}>${t}`;
    if (seen.has(id)) continue;
    seen.add(id);
    next[f]?.push(t);
    indegree[t] = (indegree[t] ?? 0) + 1;
  }
  const heap = new MinHeap<number>((x, y) => compare(nodes[x] as T, nodes[y] as T) || x - y);
  nodes.forEach((_, i) => {
    if (indegree[i] === 0) heap.push(i);
  });
  const done = nodes.map(() => false);
  const order: T[] = [];
  const cycleBroken: T[] = [];
  while (order.length < nodes.length) {
    let i = heap.pop();
    if (i === undefined) {
      // A cycle: take the best remaining node and carry on.
      const rest = nodes.map((_, k) => k).filter((k) => !done[k]);
      rest.sort((x, y) => compare(nodes[x] as T, nodes[y] as T) || x - y);
      i = rest[0] as number;
      cycleBroken.push(nodes[i] as T);
      indegree[i] = 0;
    }
    if (done[i]) continue;
    done[i] = true;
    order.push(nodes[i] as T);
    for (const t of next[i] ?? []) {
      indegree[t] = (indegree[t] ?? 0) - 1;
      if (indegree[t] === 0 && !done[t]) heap.push(t);
    }
  }
  return { order, cycleBroken };
}

class MinHeap<T> {
  private readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => number) {}

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(a[i] as T, a[p] as T) >= 0) break;
      [a[i], a[p]] = [a[p] as T, a[i] as T];
      i = p;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop() as T;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l] as T, a[m] as T) < 0) m = l;
        if (r < a.length && this.less(a[r] as T, a[m] as T) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as T, a[i] as T];
        i = m;
      }
    }
    return top;
  }
}
