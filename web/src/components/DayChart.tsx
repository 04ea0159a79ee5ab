/** Calls per interval (bars) and service level (line, right axis) over the day, drawn by uPlot. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface DayPoint {
  start: number;
  calls: number;
  answered: number;
  serviceLevel: number | null;
}

export function DayChart({ points }: { points: DayPoint[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const bars = uPlot.paths.bars?.({ size: [0.6, 40] });
    const chart = new uPlot(
      {
        width: Math.max(280, el.clientWidth),
        height: 220,
        scales: { x: { time: true }, calls: { range: (_u, _min, max) => [0, Math.max(4, max)] }, sl: { range: [0, 100] } },
        axes: [{}, { scale: 'calls', label: 'Calls' }, { scale: 'sl', side: 1, label: 'Service level %', grid: { show: false } }],
        series: [
          {},
          { label: 'Calls', scale: 'calls', stroke: '#3465a4', fill: 'rgba(52,101,164,0.35)', paths: bars },
          { label: 'Answered', scale: 'calls', stroke: '#4e9a06', fill: 'rgba(78,154,6,0.35)', paths: bars },
          { label: 'Service level %', scale: 'sl', stroke: '#c4a000', width: 2, spanGaps: true },
        ],
      },
      [[], [], [], []],
      el,
    );
    plot.current = chart;
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData([points.map((p) => p.start / 1000), points.map((p) => p.calls), points.map((p) => p.answered), points.map((p) => p.serviceLevel)]);
  }, [points]);

  return <div ref={box} className="chart" role="img" aria-label="Calls and service level by hour today" />;
}
