import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

type Read = (path: string) => string | undefined;

const readText: Read = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * The CPU limit of this process's cgroup, in cores (fractions kept), or undefined when there
 * is none. cgroup v2 `cpu.max` is "<quota> <period>" or "max <period>"; v1 has the two in
 * separate files, -1 meaning no limit. A Kubernetes CPU limit lands here; a CPU request does not.
 */
export function cgroupCpuLimit(read: Read = readText): number | undefined {
  const v2 = read('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2 !== undefined && v2.length === 2) {
    const [quota, period] = v2.map(Number) as [number, number];
    return v2[0] === 'max' || !(quota > 0 && period > 0) ? undefined : quota / period;
  }
  const quota = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim());
  const period = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim());
  return quota > 0 && period > 0 ? quota / period : undefined;
}

/**
 * What `--threads auto` means here: the cores this process may run on (its CPU affinity), no
 * more than its cgroup CPU limit rounded up (a limit of 1.5 cores gets 2 threads: the half
 * core is still worth a loop), and at least 1.
 */
export function autoThreads(cores = availableParallelism(), limit = cgroupCpuLimit()): number {
  const capped = limit === undefined ? cores : Math.min(cores, Math.ceil(limit));
  return Math.max(1, capped);
}
