/**
 * Vega-Lite spec -> static SVG string, headless in Node (no browser, no canvas).
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/**
 * Render one spec to SVG. `idPrefix` namespaces the SVG's internal ids (clip paths,
 * gradients): vega numbers them per render, and several figures share one HTML page.
 */
export async function renderSvg(spec: TopLevelSpec, idPrefix: string): Promise<string> {
  const compiled = vl.compile(spec).spec;
  // renderer 'none': we only want the scenegraph serialised, not drawn.
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return namespaceIds(svg, idPrefix).replace(/^<svg /, '<svg style="max-width:100%;height:auto" ');
  } finally {
    view.finalize();
  }
}

/** Prefix every id="..." and its url(#...) / href="#..." references. */
export function namespaceIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) ids.add(m[1]);
  if (ids.size === 0) return svg;
  const esc = [...ids].map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return svg
    .replace(new RegExp(`(\\sid=")(${esc})(")`, 'g'), `$1${prefix}-$2$3`)
    .replace(new RegExp(`url\\(#(${esc})\\)`, 'g'), `url(#${prefix}-$1)`)
    .replace(new RegExp(`(href=")#(${esc})(")`, 'g'), `$1#${prefix}-$2$3`);
}
