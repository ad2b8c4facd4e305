/**
 * The demo on every core: a `node:cluster` primary forks one demo process (examples/demo-server.ts)
 * per worker, all listening on one port (the primary hands each new connection to the next worker
 * in turn), and /chat is one room across all of them through Redis (`RedisBroker`).
 *
 *   REDIS_URL=redis://127.0.0.1:6379 WORKERS=4 PORT=8080 npm start
 *   node build/examples/cluster.js          WORKERS defaults to the number of cores
 *
 * A worker that dies is replaced; SIGINT or SIGTERM stops every worker and then the primary.
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { DEFAULT_REDIS_URL } from '../lib/pubsub/redis';
import { startDemoServer } from './demo-server';

/** A worker that exits sooner than this after starting is not restarted (a crash loop, say a port in use). */
const MIN_UPTIME_MS = 5_000;

export interface ClusterOptions {
  port: number;
  host: string;
  /** Default redis://127.0.0.1:6379: without a shared Redis each worker would be a chat of its own. */
  redisUrl?: string;
  /** Default: one per core (`os.availableParallelism()`). */
  workers?: number;
}

/** In the primary: forks the workers and keeps them running. In a worker: starts one demo. */
export function runCluster(options: ClusterOptions): void {
  // Where the workers meet when REDIS_URL is not set: RedisBroker's own default.
  const redisUrl = options.redisUrl === undefined || options.redisUrl === '' ? DEFAULT_REDIS_URL : options.redisUrl;
  if (cluster.isPrimary) {
    primary({ ...options, redisUrl });
    return;
  }
  startDemoServer({ port: options.port, host: options.host, redisUrl }).then((demo) => {
    const stop = (): void => { void demo.close().then(() => process.exit(0)); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // The primary went away: stop too.
    cluster.worker?.once('disconnect', stop);
  }, (err: unknown) => {
    console.error(`worker ${process.pid}:`, err);
    process.exit(1);
  });
}

function primary(options: ClusterOptions & { redisUrl: string }): void {
  const requested = options.workers;
  const count = requested !== undefined && Number.isInteger(requested) && requested > 0 ? requested : availableParallelism();
  let stopping = false;
  const started = new Map<number, number>();
  const fork = (): void => {
    const worker = cluster.fork();
    started.set(worker.id, Date.now());
  };
  cluster.on('exit', (worker, code, signal) => {
    const uptime = Date.now() - (started.get(worker.id) ?? 0);
    started.delete(worker.id);
    if (stopping) {
      if (started.size === 0) process.exit(0);
      return;
    }
    console.error(`worker ${worker.process.pid} exited (${signal ?? code})${uptime < MIN_UPTIME_MS ? '; not restarted: it failed at start' : '; restarting'}`);
    if (uptime >= MIN_UPTIME_MS) fork();
    else if (started.size === 0) process.exit(1);
  });
  const stop = (): void => {
    stopping = true;
    if (started.size === 0) process.exit(0);
    // Each worker closes its connections (1001) and its broker, then exits. (Not
    // worker.disconnect(): it waits for the http server to close, which waits for the very
    // WebSocket connections that only the worker's own shutdown closes.)
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Said once every worker listens: from then on connections are spread over all of them.
  let listening = 0;
  const onListening = (): void => {
    if (++listening < count) return;
    cluster.off('listening', onListening);
    console.log(`wsframe demo: ${count} workers on http://${options.host}:${options.port}/, /chat shared through ${options.redisUrl}`);
  };
  cluster.on('listening', onListening);
  for (let i = 0; i < count; i++) fork();
}

if (require.main === module) {
  runCluster({
    port: Number(process.env.PORT ?? 8080),
    host: process.env.HOST ?? '127.0.0.1',
    redisUrl: process.env.REDIS_URL,
    workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
  });
}
