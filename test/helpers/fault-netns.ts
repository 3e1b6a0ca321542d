import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A network namespace joined to this one by a veth pair: a "client machine" whose cable a test can
 * pull. The host side has `hostAddress`, the namespace side `nsAddress` (a /30 of 10.213.0.0/16
 * picked per run; only ever used between this machine and the namespace it made). Needs root and
 * iproute2; `probe()` says why not when it cannot work.
 */
export class FaultNetns {
  private readonly children = new Set<ChildProcess>();
  private cleaned = false;

  private constructor(
    readonly name: string,
    readonly hostIf: string,
    readonly nsIf: string,
    readonly hostAddress: string,
    readonly nsAddress: string,
  ) {}

  /** Null when namespaces work here, otherwise the reason they do not. */
  static async probe(): Promise<string | null> {
    if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
    if (process.getuid?.() !== 0) return `network namespaces need root (uid ${process.getuid?.()})`;
    const name = `hfprobe${process.pid}`;
    try {
      await run('ip', ['netns', 'add', name]);
    } catch (error) {
      return `"ip netns add" failed: ${((error as { stderr?: string }).stderr || (error as Error).message).trim()}`;
    }
    await run('ip', ['netns', 'del', name]).catch(() => {});
    return null;
  }

  /** Creates the namespace and the veth pair, both up, with unique names for this run. */
  static async create(): Promise<FaultNetns> {
    const tag = `${process.pid % 100_000}${randomInt(100, 999)}`;
    const subnet = randomInt(1, 255);
    const base = randomInt(0, 63) * 4;
    const ns = new FaultNetns(`hf${tag}`, `hfh${tag}`, `hfn${tag}`, `10.213.${subnet}.${base + 1}`, `10.213.${subnet}.${base + 2}`);
    try {
      await run('ip', ['netns', 'add', ns.name]);
      await run('ip', ['link', 'add', ns.hostIf, 'type', 'veth', 'peer', 'name', ns.nsIf]);
      await run('ip', ['link', 'set', ns.nsIf, 'netns', ns.name]);
      await run('ip', ['addr', 'add', `${ns.hostAddress}/30`, 'dev', ns.hostIf]);
      await run('ip', ['link', 'set', ns.hostIf, 'up']);
      await ns.exec(['ip', 'addr', 'add', `${ns.nsAddress}/30`, 'dev', ns.nsIf]);
      await ns.exec(['ip', 'link', 'set', ns.nsIf, 'up']);
      await ns.exec(['ip', 'link', 'set', 'lo', 'up']);
    } catch (error) {
      await ns.cleanup();
      throw error;
    }
    return ns;
  }

  /** Runs a command inside the namespace to completion. */
  async exec(argv: string[]) {
    return run('ip', ['netns', 'exec', this.name, ...argv]);
  }

  /** Starts a long-running process inside the namespace (killed by cleanup). */
  spawn(argv: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, ...argv], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * Pulls the cable: the namespace's end of the link goes down, so nothing the client side would
   * send (FIN, RST, ACK) reaches this side any more, and nothing sent to it arrives.
   */
  async pullCable() {
    await this.exec(['ip', 'link', 'set', this.nsIf, 'down']);
  }

  /** Kills the namespace's processes and deletes the namespace and the veth pair. Idempotent. */
  async cleanup() {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const c of this.children) c.kill('SIGKILL');
    await run('ip', ['netns', 'del', this.name]).catch(() => {});
    // Deleting the namespace destroys its veth end and so the pair; delete explicitly in case it did not exist yet.
    await run('ip', ['link', 'del', this.hostIf]).catch(() => {});
  }
}
