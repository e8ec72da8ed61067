import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** A segment's size history as a sparkline (uPlot); its numbers are in the label. */
export function Sparkline({ points, width = 120, height = 28, label }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current || points.length < 2) return undefined;
    const xs = points.map((p) => Date.parse(p.recordedAt) / 1000);
    const ys = points.map((p) => p.count);
    const plot = new uPlot({
      width, height, legend: { show: false }, cursor: { show: false }, select: { show: false },
      scales: { x: { time: true } }, axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: '#2563eb', width: 1.5, fill: 'rgba(37,99,235,0.12)' }],
    }, [xs, ys], ref.current);
    return () => plot.destroy();
  }, [JSON.stringify(points), width, height]);
  if (points.length < 2) return <span class="muted">{points.length ? `${points[0].count}` : 'no history yet'}</span>;
  const last = points[points.length - 1].count;
  return <div ref={ref} class="spark" role="img" aria-label={`${label}: ${points[0].count} to ${last} over ${points.length} recordings`} />;
}

/** Several series over time (size history of one segment, with axes). */
export function LineChart({ points, width = 560, height = 200, label }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current || points.length < 1) return undefined;
    const plot = new uPlot({
      width, height, legend: { show: false },
      series: [{}, { label, stroke: '#2563eb', width: 2 }],
      axes: [{}, { size: 60 }],
    }, [points.map((p) => Date.parse(p.recordedAt) / 1000), points.map((p) => p.count)], ref.current);
    return () => plot.destroy();
  }, [JSON.stringify(points)]);
  return <div ref={ref} role="img" aria-label={label} />;
}

/** Grouped bars (engagement rates per segment), drawn by uPlot's bars path. */
export function BarChart({ categories, series, width = 560, height = 220, label }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current || !categories.length) return undefined;
    const colors = ['#2563eb', '#16a34a', '#d97706', '#9333ea'];
    const n = series.length;
    const bars = (i) => uPlot.paths.bars({ size: [0.8 / n, 60], align: 0, disp: { x0: { unit: 2, values: () => categories.map((_, c) => c - 0.4 + (i + 0.5) * (0.8 / n)) } } });
    const plot = new uPlot({
      width, height,
      scales: { x: { time: false, range: [-0.6, categories.length - 0.4] } },
      axes: [{ values: (_, ticks) => ticks.map((t) => categories[t] ?? ''), splits: () => categories.map((_, i) => i) }, { size: 50 }],
      series: [{}, ...series.map((s, i) => ({ label: s.label, fill: colors[i % colors.length], stroke: colors[i % colors.length], paths: bars(i), points: { show: false } }))],
    }, [categories.map((_, i) => i), ...series.map((s) => s.values)], ref.current);
    return () => plot.destroy();
  }, [JSON.stringify([categories, series])]);
  return <div ref={ref} role="img" aria-label={label} />;
}
