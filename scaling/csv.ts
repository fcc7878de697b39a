/**
 * A small RFC 4180 CSV parser for the paper's layout (header row, comma separated, optional
 * double-quoted fields). Takes a string; reading the file is the caller's business.
 */
export interface ParsedCsv {
  columns: string[];
  /** One record per data row; every column present (missing trailing cells are ""). */
  rows: Record<string, string>[];
  /** 1-based line number of each row in the text (for error messages). */
  lines: number[];
}

export class CsvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CsvError';
  }
}

export function parseCsv(text: string): ParsedCsv {
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let recordLine = 1;
  let fieldStarted = false;
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (inQuotes) {
      if (ch === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === '') {
      inQuotes = true;
      fieldStarted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      fieldStarted = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && src[i + 1] === '\n') i++;
      if (fieldStarted || field !== '' || fields.length) {
        fields.push(field);
        records.push({ fields, line: recordLine });
      }
      fields = [];
      field = '';
      fieldStarted = false;
      line++;
      recordLine = line;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (inQuotes) throw new CsvError(`line ${recordLine}: unterminated quoted field`);
  if (fieldStarted || field !== '' || fields.length) {
    fields.push(field);
    records.push({ fields, line: recordLine });
  }
  if (!records.length) throw new CsvError('the CSV is empty (no header row)');
  const columns = records[0].fields.map((c) => c.trim());
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) throw new CsvError(`duplicate column "${c}" in the header`);
    seen.add(c);
  }
  const rows: Record<string, string>[] = [];
  const lines: number[] = [];
  for (const rec of records.slice(1)) {
    if (rec.fields.length > columns.length) {
      throw new CsvError(`line ${rec.line}: ${rec.fields.length} cells but the header has ${columns.length} columns`);
    }
    const row: Record<string, string> = {};
    columns.forEach((c, j) => (row[c] = rec.fields[j] ?? ''));
    rows.push(row);
    lines.push(rec.line);
  }
  return { columns, rows, lines };
}
