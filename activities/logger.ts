import pino from 'pino';

/** One logger for worker, activities and CLI: pretty on a terminal, JSON lines otherwise (to stderr). */
export function createLogger(name = 'sweep'): pino.Logger {
  const level = process.env.SWEEP_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info';
  if (process.stderr.isTTY) {
    return pino({ name, level, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino({ name, level }, pino.destination(2));
}

export const log = createLogger();
