import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataPointsToPaperRows, paperRowsToCsv, PAPER_COLUMNS } from '../../store/export';
import type { DataPoint } from '../../store/types';

const ROOT = resolve(import.meta.dirname, '../..');
/** The paper's file. Missing is a failure, never a skip: the export's layout is defined by it. */
const PAPER_CSV = resolve(ROOT, '../shared/data/benchmark_scores.csv');
const paperHeader = () => readFileSync(PAPER_CSV, 'utf8').split('\n')[0].replace(/\r$/, '');

const axes = { arch: 'resnet18', dataset: 'imagenet', samples_per_class: 100, epochs: 20, seed: 1 };
const final: DataPoint = {
  sweep: 'demo',
  runId: 'resnet18-imagenet-100-20-1-0a1b2c3d',
  axes,
  metrics: { V1: 0.22, V2: 0.29, V4: 0.5, IT: 0.42, Behavioral: 0.31, acc: 0.71 },
  n_params: 11689512,
  n_samples_seen: 2_560_000,
  total_flops: 1.4e16,
};
const checkpoint: DataPoint = {
  ...final,
  epoch: 10,
  // A checkpoint may score fewer regions, in any order.
  metrics: { IT: 0.35, acc: 0.6, V1: 0.2 },
  n_samples_seen: 1_280_000,
  total_flops: 7e15,
};

/** Minimal CSV line splitter that honours quotes. */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

describe('export in the paper layout', () => {
  it('has exactly the header of the paper benchmark_scores.csv', () => {
    const header = paperHeader();
    expect(header.split(',')).toHaveLength(27);
    expect(PAPER_COLUMNS.join(',')).toBe(header);
    expect(paperRowsToCsv([]).split('\n')[0]).toBe(header);
    expect(paperRowsToCsv(dataPointsToPaperRows([final, checkpoint])).split('\n')[0]).toBe(header);
  });

  it('gives one row per (data point, score metric), with acc as a column and not a row', () => {
    const rows = dataPointsToPaperRows([final, checkpoint]);
    expect(rows).toHaveLength(5 + 2);
    expect(rows.some((r) => r.region === 'acc' || r.benchmark_name === 'acc')).toBe(false);
    expect(rows.slice(0, 5).map((r) => [r.region, r.score, r.acc])).toEqual([
      ['V1', 0.22, 0.71],
      ['V2', 0.29, 0.71],
      ['V4', 0.5, 0.71],
      ['IT', 0.42, 0.71],
      ['Behavioral', 0.31, 0.71],
    ]);
    expect(rows.slice(5).map((r) => [r.region, r.score, r.acc])).toEqual([
      ['IT', 0.35, 0.6],
      ['V1', 0.2, 0.6],
    ]);
  });

  it("uses the paper's benchmark ids and names per region, whatever order the metrics come in", () => {
    const rows = dataPointsToPaperRows([
      final,
      checkpoint,
      { ...final, runId: 'extra', metrics: { zeta: 1, V4: 0.4, alpha: 2 } },
    ]);
    const ids = Object.fromEntries(
      rows.filter((r) => r.model_id === final.runId).map((r) => [r.region, r.benchmark_id]),
    );
    expect(ids).toEqual({ V1: 0, V2: 1, V4: 2, IT: 3, Behavioral: 4 });
    expect(rows.filter((r) => r.model_id === `${final.runId}-ep10`).map((r) => [r.region, r.benchmark_id])).toEqual([
      ['IT', 3],
      ['V1', 0],
    ]);
    expect(rows.filter((r) => r.model_id === 'extra').map((r) => [r.region, r.benchmark_id])).toEqual([
      ['zeta', 6],
      ['V4', 2],
      ['alpha', 5],
    ]);
    const names = Object.fromEntries(rows.map((r) => [r.region, r.benchmark_name]));
    expect(names).toMatchObject({
      V1: 'movshon.FreemanZiemba2013public.V1-pls',
      V2: 'movshon.FreemanZiemba2013public.V2-pls',
      V4: 'dicarlo.MajajHong2015public.V4-pls',
      IT: 'dicarlo.MajajHong2015public.IT-pls',
      Behavioral: 'dicarlo.Rajalingham2018public-i2n',
      zeta: 'zeta',
    });
  });

  it('a checkpoint is a model of its own: its own model id, epochs, samples seen and FLOPs', () => {
    const rows = dataPointsToPaperRows([final, checkpoint]);
    const models = [...new Set(rows.map((r) => r.model_id))];
    expect(models).toEqual([final.runId, `${final.runId}-ep10`]);
    const f = rows[0];
    const c = rows[5];
    expect([f.n_epochs, f.n_samples_seen, f.total_flops]).toEqual([20, 2_560_000, 1.4e16]);
    expect([c.n_epochs, c.n_samples_seen, c.total_flops]).toEqual([10, 1_280_000, 7e15]);
    // Both carry the run's cell.
    for (const r of [f, c]) {
      expect(r).toMatchObject({
        arch: 'resnet18',
        dataset: 'imagenet',
        samples_per_class: 100,
        seed: 1,
        n_params: 11689512,
      });
    }
  });

  it('fills the architecture and dataset columns from the tables, and the flags as the paper writes them', () => {
    const [r] = dataPointsToPaperRows([final]);
    // resnet18's values in the paper's standard (non-adversarial) rows, pinned rather than read back
    // from the table the export uses.
    expect(r.flops).toBe(3653033984);
    expect(r.macs).toBe(1826516992);
    expect(r.arch_family).toBe('ResNet');
    expect(r.n_samples).toBe(100 * 1000);
    const csv = paperRowsToCsv([r]).trim().split('\n');
    expect(csv).toHaveLength(2);
    const cells = splitCsvLine(csv[1]);
    expect(cells).toHaveLength(PAPER_COLUMNS.length);
    const byCol = Object.fromEntries(PAPER_COLUMNS.map((c, i) => [c, cells[i]]));
    expect(byCol).toMatchObject({
      model_id: final.runId,
      benchmark_id: '0',
      region: 'V1',
      score: '0.22',
      acc: '0.71',
      is_pretrained: 'False',
      is_random: 'False',
      is_ssl: 'False',
      ssl_method: '',
      is_adv: 'False',
      adv_method: '',
      checkpoint_url: '',
    });
    expect(Number(byCol.total_flops)).toBe(1.4e16);
  });

  it('a point without acc leaves the acc column empty; unknown architectures still export', () => {
    const rows = dataPointsToPaperRows([
      { sweep: 's', runId: 'odd', axes: { arch: 'my,net "v2"', seed: 0 }, metrics: { IT: 0.5 } },
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0].acc).toBeUndefined();
    const line = paperRowsToCsv(rows).trim().split('\n')[1];
    const byCol = Object.fromEntries(PAPER_COLUMNS.map((c, i) => [c, splitCsvLine(line)[i]]));
    expect(byCol).toMatchObject({ model_id: 'odd', arch: 'my,net "v2"', region: 'IT', score: '0.5', acc: '' });
  });
});
