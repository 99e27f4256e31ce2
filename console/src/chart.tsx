// Time-series charts drawn by uPlot: x is time (seconds), one or more y series with a legend,
// sized to the card and redrawn when the data or the width changes.

import { useEffect, useRef } from "react";
import uPlot from "uplot";

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** Draw as bars instead of a line. */
  bars?: boolean;
  /** Always mark the points (series with gaps: a lone value has no line to show it). */
  points?: boolean;
}

export const PALETTE = ["#2563eb", "#dc2626", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9ca3af"];

/**
 * A time chart. `times` are epoch seconds (bucket starts), `format` renders y values on the axis
 * and in the legend.
 */
export function TimeChart({ times, series, format = (v) => String(v), height = 220, testId }: { times: number[]; series: ChartSeries[]; format?: (v: number) => string; height?: number; testId?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const bars = uPlot.paths.bars?.({ size: [0.7, 40] });
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: "#6b7280", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e5e7eb" } },
        { stroke: "#6b7280", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e5e7eb" }, size: 64, values: (_u, splits) => splits.map(format) },
      ],
      series: [
        { value: "{YYYY}-{MM}-{DD} {HH}:{mm}" },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: s.bars ? `${s.color}cc` : `${s.color}14`,
          paths: s.bars ? bars : undefined,
          points: { show: s.points || times.length <= 12 },
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? "–" : format(v)),
        })),
      ],
      legend: { live: true },
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, [times, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [times, series, format, height]);

  return <div className="chart" ref={box} data-testid={testId} data-points={times.length} />;
}

/** A horizontal bar for a share of the largest value (tables of top N). */
export function ShareBar({ value, max }: { value: number; max: number }) {
  const pct = max > 0 ? Math.max(1, Math.round((value / max) * 100)) : 0;
  return (
    <div className="share-bar" aria-hidden="true">
      <div style={{ width: `${pct}%` }} />
    </div>
  );
}
