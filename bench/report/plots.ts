/** Plots: vega-lite → vega (headless, renderer 'none') → SVG → PNG with resvg. */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { runLabel } from './format.ts';
import { bestStep, byName, ok, opened, type ResultFile, type Run, type Step, TARGETS } from './load.ts';

export type Plot = { name: string; title: string; caption: string; needs: string; spec?: TopLevelSpec; path?: string };

const FONT = 'DejaVu Sans';
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => join('/usr/share/fonts/truetype/dejavu', f));
const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#9d755d'];
const CONFIG = {
  font: FONT,
  background: 'white',
  title: { fontSize: 16, anchor: 'start', subtitleFontSize: 12, subtitleColor: '#555' },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal' },
  legend: { labelFontSize: 12, titleFontSize: 12, orient: 'right' },
  view: { stroke: '#ddd' },
} as const;

const colorScale = (targets: string[]) => ({
  domain: targets,
  range: targets.map((_, i) => PALETTE[i % PALETTE.length] as string),
});
function targetOrder(files: ResultFile[]): string[] {
  const seen = new Set(files.flatMap((f) => f.runs.filter(ok).map((r) => r.target)));
  return [...TARGETS.filter((t) => seen.has(t)), ...[...seen].filter((t) => !TARGETS.includes(t)).sort(byName)];
}

/** Log-log latency against `field` (connections or deliveries/s), coloured by target. */
function latencyEncoding(field: string, title: string, targets: string[]) {
  return {
    x: { field, type: 'quantitative', scale: { type: 'log', nice: false, padding: 24 }, title, axis: { format: '~s' } },
    y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'delivery latency (ms)' },
    color: { field: 'target', type: 'nominal', scale: colorScale(targets), title: 'target' },
  } as const;
}

function latencyVsConnections(files: ResultFile[]): Plot {
  const rows = files
    .filter((f) => f.scenario === 'chat')
    .flatMap((f) =>
      f.runs.filter((r) => ok(r) && r.steps.length === 1 && opened(r)).map((r) => ({ f, r, s: r.steps[0] as Step }))
    )
    .flatMap(({ f, r, s }) =>
      (['p50', 'p99'] as const)
        .filter((k) => (s.latencyMs[k] ?? 0) > 0)
        .map((k) => ({ target: r.target, percentile: k, connections: opened(r), ms: s.latencyMs[k], run: runLabel(f) }))
    );
  const targets = targetOrder(files);
  const plot: Plot = {
    name: 'latency-vs-connections.png',
    title: 'Delivery latency against connections',
    caption:
      'p50 and p99 delivery latency of every single-rate chat run, by connections opened (both axes log). Multi-step runs are in the next plot.',
    needs: 'single-rate chat runs with latency',
  };
  if (rows.length === 0) return plot;
  const enc = latencyEncoding('connections', 'connections opened', targets);
  plot.spec = {
    width: 680,
    height: 380,
    title: { text: plot.title, subtitle: 'single-rate chat runs; solid p50, dashed p99' },
    data: { values: rows },
    encoding: enc,
    layer: [
      {
        mark: { type: 'line', strokeWidth: 2 },
        encoding: {
          strokeDash: { field: 'percentile', type: 'nominal', sort: ['p50', 'p99'], title: 'percentile' },
          order: { field: 'connections', type: 'quantitative' },
        },
      },
      {
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          shape: { field: 'percentile', type: 'nominal', sort: ['p50', 'p99'], title: 'percentile' },
          tooltip: [{ field: 'run' }],
        },
      },
    ],
    config: CONFIG,
  } as TopLevelSpec;
  return plot;
}

function latencyVsThroughput(files: ResultFile[]): Plot {
  const rows = files.flatMap((f) =>
    f.runs.filter(ok).flatMap((r) =>
      r.steps.flatMap((s, i) =>
        (['p50', 'p99'] as const)
          .filter((k) => (s.latencyMs[k] ?? 0) > 0 && (s.n.deliveriesPerSec ?? 0) > 0)
          .map((k) => ({
            target: r.target,
            percentile: k,
            run: runLabel(f),
            series: `${r.target} ${runLabel(f)} ${k}`,
            step: i,
            dps: s.n.deliveriesPerSec,
            ms: s.latencyMs[k],
          }))
      )
    )
  );
  const targets = targetOrder(files);
  const runs = files.map(runLabel).filter((l) => rows.some((x) => x.run === l));
  const plot: Plot = {
    name: 'latency-vs-throughput.png',
    title: 'Delivery latency against throughput',
    caption:
      'p50 (solid) and p99 (dashed) delivery latency of every rate step, by deliveries/s; steps of one run are joined, marker shape names the run (log axes).',
    needs: 'runs with rate steps',
  };
  if (rows.length === 0) return plot;
  plot.spec = {
    width: 640,
    height: 400,
    title: { text: plot.title, subtitle: 'every rate step of every run; solid p50, dashed p99' },
    data: { values: rows },
    encoding: latencyEncoding('dps', 'deliveries/s', targets),
    layer: [
      {
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          detail: { field: 'series', type: 'nominal' },
          strokeDash: { field: 'percentile', type: 'nominal', sort: ['p50', 'p99'], title: 'percentile' },
          order: { field: 'step', type: 'quantitative' },
        },
      },
      {
        mark: { type: 'point', filled: true, size: 55 },
        encoding: { shape: { field: 'run', type: 'nominal', sort: runs, title: 'run' } },
      },
    ],
    config: CONFIG,
  } as TopLevelSpec;
  return plot;
}

/** Grouped bars: one group per scenario+size, one bar per target. */
function groupedBars(files: ResultFile[], value: (r: Run) => number | undefined, yTitle: string, format: string) {
  const rows = files.flatMap((f) =>
    f.runs.filter(ok).flatMap((r) => {
      const v = value(r);
      return v === undefined ? [] : [{ run: runLabel(f), target: r.target, value: v }];
    })
  );
  const targets = targetOrder(files);
  const runs = files.map(runLabel).filter((l) => rows.some((x) => x.run === l));
  const layer = [
    { mark: { type: 'bar' } },
    {
      mark: { type: 'text', dy: -7, fontSize: 11 },
      encoding: { text: { field: 'value', type: 'quantitative', format } },
    },
  ];
  const encoding = {
    x: {
      field: 'run',
      type: 'nominal',
      sort: runs,
      title: 'scenario and size',
      axis: { labelAngle: runs.length > 6 ? -30 : 0 },
    },
    xOffset: { field: 'target', type: 'nominal', sort: targets },
    y: { field: 'value', type: 'quantitative', title: yTitle },
    color: { field: 'target', type: 'nominal', scale: colorScale(targets), title: 'target' },
  };
  return { rows, layer, encoding };
}

function deliveriesPlot(files: ResultFile[]): Plot {
  const figure = (r: Run) => (r.steps.length === 1 ? r.steps[0]?.n.deliveriesPerSec : bestStep(r)?.n.deliveriesPerSec);
  const { rows, layer, encoding } = groupedBars(files, figure, 'deliveries/s', '.3~s');
  const plot: Plot = {
    name: 'deliveries.png',
    title: 'Deliveries per second',
    caption:
      'Deliveries/s per scenario and size per target. Single-rate runs show their one step; rate sweeps show their highest ' +
      'step with p99 ≤ 100 ms and nothing lost (no bar when no step qualifies).',
    needs: 'runs with deliveries/s',
  };
  if (rows.length === 0) return plot;
  plot.spec = {
    width: 680,
    height: 380,
    title: {
      text: plot.title,
      subtitle: 'single-rate runs: their step; rate sweeps: best step with p99 ≤ 100 ms, none lost',
    },
    data: { values: rows },
    encoding,
    layer,
    config: CONFIG,
  } as TopLevelSpec;
  return plot;
}

function memoryPlot(files: ResultFile[]): Plot {
  const { rows, layer, encoding } = groupedBars(
    files,
    (r) => r.memPerConnKB,
    'server memory per connection (KB)',
    '.1f',
  );
  const plot: Plot = {
    name: 'memory-per-connection.png',
    title: 'Server memory per connection',
    caption: 'KB of chat-instance RSS per connection opened, per run and target; the red rule is the 10 KB target.',
    needs: 'runs with memPerConnKB',
  };
  if (rows.length === 0) return plot;
  plot.spec = {
    width: 680,
    height: 380,
    title: { text: plot.title, subtitle: 'Σ instances (loaded − baseline RSS) / connections opened' },
    layer: [
      { data: { values: rows }, encoding, layer },
      {
        data: { values: [{ y: 10, label: 'target 10 KB' }] },
        layer: [
          {
            mark: { type: 'rule', color: '#d62728', strokeDash: [6, 4], strokeWidth: 2 },
            encoding: { y: { field: 'y', type: 'quantitative' } },
          },
          {
            mark: { type: 'text', color: '#d62728', align: 'right', dy: -7, x: 'width', fontSize: 12 },
            encoding: { y: { field: 'y', type: 'quantitative' }, text: { field: 'label' } },
          },
        ],
      },
    ],
    config: CONFIG,
  } as TopLevelSpec;
  return plot;
}

async function toPng(spec: TopLevelSpec): Promise<Buffer> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const fontFiles = FONT_FILES.filter((f) => existsSync(f));
  const font = { fontFiles, loadSystemFonts: fontFiles.length === 0, defaultFontFamily: FONT };
  return new Resvg(svg, { font, fitTo: { mode: 'width', value: 900 }, background: 'white' }).render().asPng();
}

/** Writes the four plots; a plot without data is not written (and an older copy is removed). */
export async function renderPlots(files: ResultFile[], dir: string): Promise<Plot[]> {
  const plots = [latencyVsConnections(files), latencyVsThroughput(files), deliveriesPlot(files), memoryPlot(files)];
  mkdirSync(dir, { recursive: true });
  for (const p of plots) {
    const path = join(dir, p.name);
    if (p.spec) {
      writeFileSync(path, await toPng(p.spec));
      p.path = path;
    } else if (existsSync(path)) rmSync(path);
  }
  return plots;
}
