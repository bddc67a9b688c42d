// A small inline SVG bar chart of verified uses over the last 24 hours.
const NS = 'http://www.w3.org/2000/svg';

export function usageChart(usage) {
  const buckets = usage?.buckets ?? [];
  const w = 144, h = 28;
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('width', String(w));
  svg.setAttribute('height', String(h));
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  const total = usage?.total ?? 0;
  svg.setAttribute('aria-label', `${total} verifications in the last 24 hours`);
  const title = document.createElementNS(NS, 'title');
  title.textContent = `${total} verifications in the last 24 hours (10-minute buckets)`;
  svg.append(title);
  const base = document.createElementNS(NS, 'line');
  base.setAttribute('x1', '0'); base.setAttribute('x2', String(w));
  base.setAttribute('y1', String(h - 0.5)); base.setAttribute('y2', String(h - 0.5));
  base.setAttribute('class', 'chart-base');
  svg.append(base);
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const bw = w / Math.max(1, buckets.length);
  buckets.forEach((b, i) => {
    if (!b.count) return;
    const bh = Math.max(1.5, (b.count / max) * (h - 2));
    const r = document.createElementNS(NS, 'rect');
    r.setAttribute('x', (i * bw).toFixed(2));
    r.setAttribute('y', (h - bh).toFixed(2));
    r.setAttribute('width', Math.max(0.6, bw - 0.2).toFixed(2));
    r.setAttribute('height', bh.toFixed(2));
    r.setAttribute('class', 'chart-bar');
    svg.append(r);
  });
  const wrap = document.createElement('span');
  wrap.className = 'chart-wrap';
  const n = document.createElement('span');
  n.className = 'chart-total';
  n.dataset.testid = 'usage-total';
  n.textContent = String(total);
  wrap.append(svg, n);
  return wrap;
}
