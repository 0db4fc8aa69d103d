/**
 * Three network namespaces for enforcement tests: a device (10.1.0.2), a gateway that routes
 * between the device's segment and the cloud's and runs nftables, and a cloud (10.2.0.10 and
 * 10.2.0.11). Needs root, `ip` and `nft`: `netnsSkipReason()` says why not, and the test says
 * `skipped: <reason>`. TCP servers and probes are small node programs run in a namespace.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { onPath } from './tools.js';

export const DEVICE = '10.1.0.2';
export const CLOUD_A = '10.2.0.10';
export const CLOUD_B = '10.2.0.11';

/** Why the namespaces cannot be made here, or undefined when they can. */
export function netnsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const tool of ['ip', 'nft']) if (!onPath(tool)) return `${tool} is not installed`;
  const probe = `al-probe-${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
  } catch {
    return 'this machine does not let root make network namespaces';
  }
  return undefined;
}

export interface Topology {
  device: string;
  gateway: string;
  cloud: string;
  /** Listens on `address:port` in the cloud namespace until the function it gives is called (or `close()`). */
  serve(address: string, port: number): Promise<() => Promise<void>>;
  /** Listens on the device for connections towards it. */
  serveOnDevice(port: number): Promise<() => Promise<void>>;
  /** Whether a TCP connection from `ns` to `address:port` opens (optionally from a given source). */
  connects(
    ns: string,
    address: string,
    port: number,
    from?: { localAddress: string; localPort?: number },
  ): Promise<boolean>;
  /**
   * Serves the two cloud servers on port 443 and proves that the device reaches both while
   * no table is in force: a probe that says `false` later can fail.
   */
  serveCloud(): Promise<void>;
  close(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

export function makeTopology(tag: string): Topology {
  const device = `al-${tag}-dev`;
  const gateway = `al-${tag}-gw`;
  const cloud = `al-${tag}-cloud`;
  const all = [device, gateway, cloud];
  const children: ChildProcess[] = [];
  const close = () => {
    for (const c of children) c.kill('SIGKILL');
    for (const n of all)
      try {
        ip('netns', 'del', n);
      } catch {
        // not there
      }
  };
  close();
  try {
    for (const n of all) {
      ip('netns', 'add', n);
      ip('-n', n, 'link', 'set', 'lo', 'up');
    }
    ip(
      'link',
      'add',
      'd0',
      'netns',
      device,
      'type',
      'veth',
      'peer',
      'name',
      'g0',
      'netns',
      gateway,
    );
    ip('link', 'add', 'g1', 'netns', gateway, 'type', 'veth', 'peer', 'name', 'c0', 'netns', cloud);
    ip('-n', device, 'addr', 'add', `${DEVICE}/24`, 'dev', 'd0');
    ip('-n', device, 'link', 'set', 'd0', 'up');
    ip('-n', device, 'route', 'add', 'default', 'via', '10.1.0.1');
    ip('-n', gateway, 'addr', 'add', '10.1.0.1/24', 'dev', 'g0');
    ip('-n', gateway, 'addr', 'add', '10.2.0.1/24', 'dev', 'g1');
    ip('-n', gateway, 'link', 'set', 'g0', 'up');
    ip('-n', gateway, 'link', 'set', 'g1', 'up');
    execFileSync('ip', ['netns', 'exec', gateway, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    ip('-n', cloud, 'addr', 'add', `${CLOUD_A}/24`, 'dev', 'c0');
    ip('-n', cloud, 'addr', 'add', `${CLOUD_B}/24`, 'dev', 'c0');
    ip('-n', cloud, 'link', 'set', 'c0', 'up');
    ip('-n', cloud, 'route', 'add', 'default', 'via', '10.2.0.1');
  } catch (e) {
    close();
    throw e;
  }

  const listen = (ns: string, address: string, port: number) =>
    new Promise<() => Promise<void>>((resolve, reject) => {
      const script = `require('node:net').createServer((s) => { s.on('error', () => {}); s.end('hi'); }).listen(${port}, '${address}', () => console.log('up'));`;
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      const onExit = (code: number | null) =>
        reject(new Error(`server ${address}:${port} exited ${code}`));
      child.once('exit', onExit);
      child.stdout!.once('data', () => {
        child.off('exit', onExit);
        resolve(async () => {
          child.kill('SIGKILL');
          await exited;
        });
      });
    });

  const connects: Topology['connects'] = (ns, address, port, from) =>
    new Promise((resolve) => {
      const opts = JSON.stringify({ host: address, port, ...from });
      // The exit code says it: 0 opened, 1 refused, 2 nothing came back (dropped).
      const script = `const s = require('node:net').connect(${opts}, () => { s.destroy(); process.exit(0); }); s.on('error', () => process.exit(1)); setTimeout(() => process.exit(2), 1500);`;
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], {
        stdio: 'ignore',
      });
      child.on('close', (code) => resolve(code === 0));
    });

  return {
    device,
    gateway,
    cloud,
    serve: (address, port) => listen(cloud, address, port),
    serveOnDevice: (port) => listen(device, DEVICE, port),
    connects,
    async serveCloud() {
      await listen(cloud, CLOUD_A, 443);
      await listen(cloud, CLOUD_B, 443);
      for (const server of [CLOUD_A, CLOUD_B])
        if (!(await connects(device, server, 443)))
          throw new Error(`the device does not reach ${server}:443 without any table`);
    },
    close,
  };
}
