// Simulates a machine where the uWebSockets.js native binary cannot load: resolving it throws.
import { register } from 'node:module';

const hook = `export async function resolve(specifier, context, next) {
  if (specifier === 'uWebSockets.js') throw new Error('simulated: uWebSockets.js binary cannot load on this platform');
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);
