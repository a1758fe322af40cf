import type { Point } from "./sampler.js";

const W = 600;
const H = 180;
const PAD = 28;
/** room for the y-axis labels ("100.0 %") */
const LEFT = 56;

export interface Line {
  label: string;
  /** a CSS class: colours come from the stylesheet (the CSP allows no inline style) */
  cls: string;
  points: Point[];
}

const fmt = (v: number, percent: boolean) => (percent ? `${(v * 100).toFixed(1)} %` : v < 10 ? v.toFixed(2) : v.toFixed(0));

/** A server-rendered SVG line chart over the last hour, with the latest values as text beside it. */
export function LineChart({ id, title, lines, percent = false }: { id: string; title: string; lines: Line[]; percent?: boolean }) {
  const all = lines.flatMap((l) => l.points);
  const end = all.length ? Math.max(...all.map((p) => p.t)) : Date.now();
  const start = end - 3600_000;
  const max = percent ? 1 : Math.max(1, ...all.map((p) => p.v));
  const x = (t: number) => LEFT + ((t - start) / 3600_000) * (W - LEFT - PAD);
  const y = (v: number) => H - PAD - (v / max) * (H - 2 * PAD);
  const latest = (l: Line) => l.points[l.points.length - 1]?.v ?? 0;
  return (
    <figure class="chart" id={id}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-title`} data-points={String(all.length)}>
        <title id={`${id}-title`}>{title}</title>
        <line class="axis" x1={LEFT} y1={H - PAD} x2={W - PAD} y2={H - PAD} />
        <line class="axis" x1={LEFT} y1={PAD} x2={LEFT} y2={H - PAD} />
        <text class="tick" x={LEFT - 4} y={PAD + 4} text-anchor="end">
          {fmt(max, percent)}
        </text>
        <text class="tick" x={LEFT - 4} y={H - PAD} text-anchor="end">
          0
        </text>
        <text class="tick" x={LEFT} y={H - 8}>
          −60 min
        </text>
        <text class="tick" x={W - PAD} y={H - 8} text-anchor="end">
          now
        </text>
        {lines.map((l) => (
          <polyline class={`series ${l.cls}`} fill="none" points={l.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ")} />
        ))}
      </svg>
      <figcaption>
        <strong>{title}</strong>
        <ul class="legend">
          {lines.map((l) => (
            <li>
              <span class={`swatch ${l.cls}`} aria-hidden="true" /> {l.label}: {fmt(latest(l), percent)}
              {percent ? "" : "/s"}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}

/** A horizontal bar chart of counts (keys by status). */
export function BarChart({ id, title, bars }: { id: string; title: string; bars: { label: string; cls: string; value: number }[] }) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rowH = 30;
  const h = bars.length * rowH + 10;
  return (
    <figure class="chart" id={id}>
      <svg viewBox={`0 0 ${W} ${h}`} role="img" aria-labelledby={`${id}-title`}>
        <title id={`${id}-title`}>{title}</title>
        {bars.map((b, i) => (
          <g>
            <text class="tick" x={110} y={i * rowH + 24} text-anchor="end">
              {b.label}
            </text>
            <rect class={`bar ${b.cls}`} x={120} y={i * rowH + 8} height={20} width={Math.max(1, (b.value / max) * (W - 200))} />
            <text class="tick" x={128 + Math.max(1, (b.value / max) * (W - 200))} y={i * rowH + 24}>
              {String(b.value)}
            </text>
          </g>
        ))}
      </svg>
      <figcaption>
        <strong>{title}</strong>
      </figcaption>
    </figure>
  );
}
