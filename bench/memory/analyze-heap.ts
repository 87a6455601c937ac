/**
 * Compares two V8 heap snapshots (baseline and with N idle connections) and attributes the growth
 * per connection.
 *
 *   npx tsx bench/memory/analyze-heap.ts <baseline.heapsnapshot> <loaded.heapsnapshot> <N> [--top 40]
 *
 * Prints (1) self size and count growth per N by "kind" (constructor name for objects, function
 * name for closures, `system / Context` for closure scopes, …), (2) for the classes of interest
 * (Hono Context, Request, Headers, URL, IncomingMessage, ws WebSocket, Conn, …) the instance count,
 * self size and retained size (dominator tree) per connection, and (3) one retainer path of a
 * new instance of each, from the GC roots, to show what keeps it alive.
 */
import { readFileSync } from 'node:fs';

type Snap = {
  nodeFieldCount: number;
  edgeFieldCount: number;
  nodes: Uint32Array;
  edges: Uint32Array;
  strings: string[];
  nodeTypes: string[];
  edgeTypes: string[];
  nType: number;
  nName: number;
  nId: number;
  nSelf: number;
  nEdges: number;
  eType: number;
  eName: number;
  eTo: number;
  count: number;
  /** First edge index (in edges array units / edgeFieldCount) of each node. */
  firstEdge: Uint32Array;
};

export function load(path: string): Snap {
  const raw = JSON.parse(readFileSync(path, 'utf8'));
  const meta = raw.snapshot.meta;
  const nf: string[] = meta.node_fields;
  const ef: string[] = meta.edge_fields;
  const nodes = Uint32Array.from(raw.nodes as number[]);
  const edges = Uint32Array.from(raw.edges as number[]);
  const s: Snap = {
    nodeFieldCount: nf.length,
    edgeFieldCount: ef.length,
    nodes,
    edges,
    strings: raw.strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    nType: nf.indexOf('type'),
    nName: nf.indexOf('name'),
    nId: nf.indexOf('id'),
    nSelf: nf.indexOf('self_size'),
    nEdges: nf.indexOf('edge_count'),
    eType: ef.indexOf('type'),
    eName: ef.indexOf('name_or_index'),
    eTo: ef.indexOf('to_node'),
    count: nodes.length / nf.length,
    firstEdge: new Uint32Array(nodes.length / nf.length + 1),
  };
  let e = 0;
  for (let i = 0; i < s.count; i++) {
    s.firstEdge[i] = e;
    e += nodes[i * s.nodeFieldCount + s.nEdges] as number;
  }
  s.firstEdge[s.count] = e;
  return s;
}

const typeOf = (s: Snap, i: number) => s.nodeTypes[s.nodes[i * s.nodeFieldCount + s.nType] as number] as string;
const nameOf = (s: Snap, i: number) => s.strings[s.nodes[i * s.nodeFieldCount + s.nName] as number] as string;
const idOf = (s: Snap, i: number) => s.nodes[i * s.nodeFieldCount + s.nId] as number;
const selfOf = (s: Snap, i: number) => s.nodes[i * s.nodeFieldCount + s.nSelf] as number;

function edgeName(s: Snap, e: number): string {
  const t = s.edgeTypes[s.edges[e * s.edgeFieldCount + s.eType] as number];
  const v = s.edges[e * s.edgeFieldCount + s.eName] as number;
  return t === 'element' || t === 'hidden' ? `[${v}]` : (s.strings[v] as string);
}
const edgeType = (s: Snap, e: number) => s.edgeTypes[s.edges[e * s.edgeFieldCount + s.eType] as number] as string;
const edgeTo = (s: Snap, e: number) => (s.edges[e * s.edgeFieldCount + s.eTo] as number) / s.nodeFieldCount;

/** The aggregation key of a node: what one would call its "type" in a heap profiler. */
export function kindOf(s: Snap, i: number): string {
  const t = typeOf(s, i);
  const name = nameOf(s, i);
  switch (t) {
    case 'object':
      return name;
    case 'closure':
      return `(closure ${name || 'anonymous'})`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)';
    case 'array':
      return `(array ${name})`;
    case 'hidden':
    case 'native':
    case 'synthetic':
      return `(${t} ${name.replace(/\s*\/\s*[^/]*$/, '').slice(0, 60) || name.slice(0, 60)})`;
    case 'code':
      return '(code)';
    case 'number':
      return '(heap number)';
    case 'object shape':
      return '(object shape)';
    default:
      return `(${t})`;
  }
}

/** Cooper–Harvey–Kennedy dominators over the snapshot graph (weak edges ignored); retained sizes. */
export function retainedSizes(s: Snap): { idom: Int32Array; retained: Float64Array } {
  const n = s.count;
  // Iterative DFS post-order from the root (node 0).
  const post = new Int32Array(n).fill(-1);
  const order: number[] = [];
  const visited = new Uint8Array(n);
  const stack: number[] = [0];
  const edgeCursor = new Uint32Array(n);
  visited[0] = 1;
  for (let i = 0; i < n; i++) edgeCursor[i] = s.firstEdge[i] as number;
  while (stack.length) {
    const v = stack[stack.length - 1] as number;
    const end = s.firstEdge[v + 1] as number;
    let pushed = false;
    while ((edgeCursor[v] as number) < end) {
      const e = edgeCursor[v] as number;
      edgeCursor[v] = e + 1;
      if (edgeType(s, e) === 'weak') continue;
      const w = edgeTo(s, e);
      if (!visited[w]) {
        visited[w] = 1;
        stack.push(w);
        pushed = true;
        break;
      }
    }
    if (!pushed && (edgeCursor[v] as number) >= end) {
      stack.pop();
      post[v] = order.length;
      order.push(v);
    }
  }
  // Predecessors (only reachable nodes, non-weak edges).
  const predCount = new Uint32Array(n + 1);
  for (let v = 0; v < n; v++) {
    if (!visited[v]) continue;
    for (let e = s.firstEdge[v] as number; e < (s.firstEdge[v + 1] as number); e++) {
      if (edgeType(s, e) === 'weak') continue;
      const w = edgeTo(s, e) + 1;
      predCount[w] = (predCount[w] as number) + 1;
    }
  }
  for (let i = 0; i < n; i++) predCount[i + 1] = (predCount[i + 1] as number) + (predCount[i] as number);
  const preds = new Uint32Array(predCount[n] as number);
  const fill = predCount.slice(0, n);
  for (let v = 0; v < n; v++) {
    if (!visited[v]) continue;
    for (let e = s.firstEdge[v] as number; e < (s.firstEdge[v + 1] as number); e++) {
      if (edgeType(s, e) === 'weak') continue;
      const w = edgeTo(s, e);
      const at = fill[w] as number;
      fill[w] = at + 1;
      preds[at] = v;
    }
  }
  const idom = new Int32Array(n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while ((post[a] as number) < (post[b] as number)) a = idom[a] as number;
      while ((post[b] as number) < (post[a] as number)) b = idom[b] as number;
    }
    return a;
  };
  let changed = true;
  while (changed) {
    changed = false;
    for (let k = order.length - 1; k >= 0; k--) {
      const v = order[k] as number;
      if (v === 0) continue;
      let d = -1;
      for (let p = predCount[v] as number; p < (predCount[v + 1] as number); p++) {
        const u = preds[p] as number;
        if (idom[u] === -1) continue;
        d = d === -1 ? u : intersect(u, d);
      }
      if (d !== -1 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(n);
  for (let i = 0; i < n; i++) if (visited[i]) retained[i] = selfOf(s, i);
  for (const v of order) {
    const d = idom[v] as number;
    if (v !== 0 && d !== -1 && d !== v) retained[d] = (retained[d] as number) + (retained[v] as number);
  }
  return { idom, retained };
}

/** Shortest retainer path from the root to node `target` (BFS over non-weak edges). */
export function retainerPath(s: Snap, target: number): string[] {
  const prev = new Int32Array(s.count).fill(-1);
  const prevEdge = new Int32Array(s.count).fill(-1);
  const q = new Int32Array(s.count);
  let head = 0;
  let tail = 0;
  q[tail++] = 0;
  prev[0] = 0;
  while (head < tail) {
    const v = q[head++] as number;
    if (v === target) break;
    for (let e = s.firstEdge[v] as number; e < (s.firstEdge[v + 1] as number); e++) {
      if (edgeType(s, e) === 'weak') continue;
      const w = edgeTo(s, e);
      if (prev[w] !== -1) continue;
      prev[w] = v;
      prevEdge[w] = e;
      q[tail++] = w;
    }
  }
  if (prev[target] === -1) return ['(unreachable)'];
  const path: string[] = [];
  for (let v = target; v !== 0; v = prev[v] as number) {
    path.push(`${kindOf(s, v)} @${idOf(s, v)}  ◀─ .${edgeName(s, prevEdge[v] as number)} (${edgeType(s, prevEdge[v] as number)})`);
  }
  return path.reverse();
}

export const INTEREST = [
  'Context',
  'HonoRequest',
  'Request',
  'Response',
  'Headers',
  'HeadersList',
  'URL',
  'URLContext',
  'AbortSignal',
  'AbortController',
  'IncomingMessage',
  'WebSocket',
  'Socket',
  'TCP',
  'Receiver',
  'Sender',
  'Conn',
  '(closure onOpen)',
  '(closure onMessage)',
  '(closure onClose)',
];

export function compare(basePath: string, loadedPath: string, n: number, top = 40): string {
  const out: string[] = [];
  const base = load(basePath);
  const loaded = load(loadedPath);
  const agg = (s: Snap) => {
    const m = new Map<string, { count: number; self: number }>();
    for (let i = 0; i < s.count; i++) {
      const k = kindOf(s, i);
      const a = m.get(k) ?? { count: 0, self: 0 };
      a.count++;
      a.self += selfOf(s, i);
      m.set(k, a);
    }
    return m;
  };
  const a = agg(base);
  const b = agg(loaded);
  const total = (m: Map<string, { self: number }>) => [...m.values()].reduce((x, y) => x + y.self, 0);
  const growth = (total(b) - total(a)) / n;
  out.push(`snapshots: baseline ${base.count} nodes, loaded ${loaded.count} nodes; N = ${n}`);
  out.push(`total self size growth: ${growth.toFixed(0)} B/conn\n`);
  const rows = [...b.entries()]
    .map(([k, v]) => {
      const o = a.get(k) ?? { count: 0, self: 0 };
      return { k, dc: (v.count - o.count) / n, ds: (v.self - o.self) / n };
    })
    .sort((x, y) => y.ds - x.ds);
  out.push('| kind | +count/conn | +self B/conn |');
  out.push('|---|---:|---:|');
  for (const r of rows.slice(0, top)) out.push(`| \`${r.k}\` | ${r.dc.toFixed(2)} | ${r.ds.toFixed(0)} |`);
  const shown = rows.slice(0, top).reduce((x, r) => x + r.ds, 0);
  out.push(`| (rest) | | ${(growth - shown).toFixed(0)} |`);

  // Retained sizes of the classes of interest, per connection, in the loaded snapshot.
  const { retained, idom } = retainedSizes(loaded);
  const baseIds = new Set<number>();
  for (let i = 0; i < base.count; i++) baseIds.add(idOf(base, i));
  out.push('\nNew instances (not in the baseline snapshot) of the classes of interest:\n');
  out.push('| kind | new/conn | self B/conn | retained B/conn | retained B/instance | immediate dominator (most common) |');
  out.push('|---|---:|---:|---:|---:|---|');
  const examples: [string, number][] = [];
  for (const k of INTEREST) {
    let count = 0;
    let self = 0;
    let ret = 0;
    const doms = new Map<string, number>();
    let example = -1;
    for (let i = 0; i < loaded.count; i++) {
      if (kindOf(loaded, i) !== k || baseIds.has(idOf(loaded, i))) continue;
      count++;
      self += selfOf(loaded, i);
      ret += retained[i] as number;
      const d = idom[i] as number;
      const dk = d >= 0 ? kindOf(loaded, d) : '(unreachable)';
      doms.set(dk, (doms.get(dk) ?? 0) + 1);
      if (example === -1) example = i;
    }
    if (!count) {
      out.push(`| \`${k}\` | 0 | | | | |`);
      continue;
    }
    const dom = [...doms.entries()].sort((x, y) => y[1] - x[1])[0] as [string, number];
    out.push(
      `| \`${k}\` | ${(count / n).toFixed(2)} | ${(self / n).toFixed(0)} | ${(ret / n).toFixed(0)} | ${(ret / count).toFixed(0)} | \`${dom[0]}\` (${((dom[1] / count) * 100).toFixed(0)}%) |`,
    );
    examples.push([k, example]);
  }
  out.push('\nRetainer paths (root → one new instance; shortest path over strong edges):');
  for (const [k, i] of examples) {
    if (!['Context', 'Request', 'IncomingMessage', 'Conn', 'URL', 'Response', 'Headers'].includes(k)) continue;
    out.push(`\n${k}:`);
    for (const step of retainerPath(loaded, i)) out.push(`  ${step}`);
  }
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [basePath, loadedPath, n, ...rest] = process.argv.slice(2);
  if (!basePath || !loadedPath || !n) {
    console.error('usage: analyze-heap.ts <baseline.heapsnapshot> <loaded.heapsnapshot> <N> [--top 40]');
    process.exit(1);
  }
  const top = rest[0] === '--top' ? Number(rest[1]) : 40;
  console.log(compare(basePath, loadedPath, Number(n), top));
}
