import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'easel'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'password', '*.password', 'token', '*.token'], remove: true },
  });
}
