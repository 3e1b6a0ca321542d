import { existsSync, readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const read = (path: string) => JSON.parse(readFileSync(new URL(path, root), 'utf8'));

interface Manifest {
  version?: string;
  engines?: { node?: string };
}

describe('Node engines', () => {
  const project: Manifest = read('package.json');
  const lock: { packages: Record<string, { optional?: boolean }> } = read('package-lock.json');

  it('states a Node range that the running Node satisfies', () => {
    expect(project.engines?.node).toBeTruthy();
    expect(semver.satisfies(process.version, project.engines?.node ?? '')).toBe(true);
  });

  // `npm install` prints EBADENGINE for each package refusing the running Node, and a user on a
  // Node that package.json claims to support gets the same, so the claim must hold for every package
  // installed, dev dependencies included: each package's range must contain the project's.
  it("every installed package's engines.node accepts the running Node and every Node the project claims", () => {
    const claimed = project.engines?.node ?? '';
    const refused: string[] = [];
    let checked = 0;
    for (const path of Object.keys(lock.packages)) {
      if (!path.startsWith('node_modules/') || !existsSync(new URL(`${path}/package.json`, root))) continue;
      const manifest: Manifest = read(`${path}/package.json`);
      checked++;
      const range = manifest.engines?.node;
      if (!range) continue;
      if (!semver.satisfies(process.version, range))
        refused.push(`${path}@${manifest.version} wants node ${range}, not ${process.version}`);
      else if (!semver.subset(claimed, range)) refused.push(`${path}@${manifest.version} wants node ${range}, narrower than ${claimed}`);
    }
    expect(checked).toBeGreaterThan(100);
    expect(refused).toEqual([]);
  });
});
