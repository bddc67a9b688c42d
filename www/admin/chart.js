// Verified uses of one secret over the last 24 hours, as 24 hourly bars
// with a time axis and the peak labelled, in an inline SVG. The API counts
// in short buckets (`bucket_secs`, 10 minutes); one bar per bucket made a
// single use a bar one pixel wide, so the buckets are summed per hour,
// counting back from the newest (the last bar is the hour ending now).
const NS = 'http://www.w3.org/2000/svg';

const BARS = 24;
const BAR_W = 6;
const GAP = 2;
const PLOT_W = BARS * (BAR_W + GAP) - GAP; // 190
const TOP = 12; // room for the peak label
const PLOT_H = 26;
const BASE = TOP + PLOT_H;
const W = PLOT_W;
const H = BASE + 12; // room for the axis labels

/** Sums `usage.buckets` into hours, oldest first: [{ start, end, count }]. */
export function hourly(usage) {
  const buckets = usage?.buckets ?? [];
  const secs = usage?.bucket_secs || 600;
  const per = Math.max(1, Math.round(3600 / secs));
  const hours = [];
  for (let h = 0; h < BARS; h++) {
    const hi = buckets.length - (BARS - 1 - h) * per;
    const slice = buckets.slice(Math.max(0, hi - per), Math.max(0, hi));
    const last = slice[slice.length - 1];
    hours.push({
      start: slice[0]?.start ?? null,
      end: last ? last.start + secs : null,
      count: slice.reduce((n, b) => n + (b.count || 0), 0),
    });
  }
  return hours;
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const clock = (t) => new Date(t * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

export function usageChart(usage) {
  const hours = hourly(usage);
  const total = usage?.total ?? hours.reduce((n, h) => n + h.count, 0);
  const peak = Math.max(0, ...hours.map((h) => h.count));
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart', role: 'img' });
  svg.setAttribute('aria-label', `${total} verifications in the last 24 hours; busiest hour ${peak}`);
  svg.append(svgEl('title', {}, `${total} verifications in the last 24 hours, per hour; busiest hour: ${peak}`));

  // Faint slots show where each hour is, so an empty hour reads as zero.
  hours.forEach((h, i) => {
    svg.append(svgEl('rect', { x: i * (BAR_W + GAP), y: TOP, width: BAR_W, height: PLOT_H, class: 'chart-slot' }));
  });
  let peakX = null;
  hours.forEach((h, i) => {
    if (!h.count) return;
    // At least 3 px, so one use next to a busy hour still shows.
    const bh = Math.max(3, (h.count / peak) * PLOT_H);
    const x = i * (BAR_W + GAP);
    const bar = svgEl('rect', { x, y: BASE - bh, width: BAR_W, height: bh, class: 'chart-bar' });
    bar.dataset.count = String(h.count);
    const when = h.start !== null ? `${clock(h.start)}–${clock(h.end)}` : `hour ${i + 1}`;
    bar.append(svgEl('title', {}, `${when}: ${h.count} verification${h.count === 1 ? '' : 's'}`));
    svg.append(bar);
    if (h.count === peak && peakX === null) peakX = x + BAR_W / 2;
  });
  svg.append(svgEl('line', { x1: 0, x2: W, y1: BASE + 0.5, y2: BASE + 0.5, class: 'chart-base' }));
  for (const [x, anchor, text] of [[0, 'start', '−24 h'], [W / 2, 'middle', '−12 h'], [W, 'end', 'now']]) {
    svg.append(svgEl('text', { x, y: H - 1, 'text-anchor': anchor, class: 'chart-axis' }, text));
  }
  if (peakX !== null) {
    // The peak's number above its bar, kept inside the chart.
    const anchor = peakX < 30 ? 'start' : peakX > W - 30 ? 'end' : 'middle';
    const x = anchor === 'start' ? 0 : anchor === 'end' ? W : peakX;
    const label = svgEl('text', { x, y: TOP - 3, 'text-anchor': anchor, class: 'chart-peak' }, `peak ${peak}/h`);
    label.dataset.testid = 'usage-peak';
    svg.append(label);
  } else {
    svg.append(svgEl('text', { x: W / 2, y: TOP + PLOT_H / 2 + 3, 'text-anchor': 'middle', class: 'chart-axis' }, 'no verifications'));
  }

  const wrap = document.createElement('span');
  wrap.className = 'chart-wrap';
  const sum = document.createElement('span');
  sum.className = 'chart-sum';
  const n = document.createElement('span');
  n.className = 'chart-total';
  n.dataset.testid = 'usage-total';
  n.textContent = String(total);
  sum.append(n, document.createTextNode(' total'));
  wrap.append(svg, sum);
  return wrap;
}
