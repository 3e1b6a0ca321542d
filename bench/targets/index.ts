import { b0, b0p, b0r, socketio } from './baselines.ts';
import { herald } from './herald.ts';
import type { Target } from './types.ts';

export const TARGETS: Record<string, Target> = { b0, b0r, b0p, socketio, herald };

export function getTarget(name: string): Target {
  const t = TARGETS[name];
  if (!t) throw new Error(`unknown target "${name}" (known: ${Object.keys(TARGETS).join(', ')})`);
  return t;
}
