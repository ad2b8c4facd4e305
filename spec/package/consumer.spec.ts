/**
 * The package as a consumer gets it: a copy of the repository's sources is packed with `npm pack`
 * (its `prepack` builds), and a fresh project in a temporary directory installs only the tarball,
 * `typescript`, `@types/node` and the packages the README's examples import. There the README's
 * TypeScript examples and typed-event checks (spec/package/fixtures) compile with `strict` and
 * without `skipLibCheck`, as CommonJS and as ESM, under `nodenext` and `bundler` resolution; and
 * the package loads with `require()` and `import` and echoes a message.
 *
 * Packages come from npm's local cache when they are there (`--prefer-offline`: the repository's
 * own `npm ci` put every one of them there), from the registry otherwise.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The repository root: build/spec/package -> root. */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = path.join(ROOT, 'spec', 'package', 'fixtures');

/** What the copy of the repository needs to build and pack: the sources, configs and documents. */
const PACKED_SOURCES = ['lib', 'package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE'];

/** Documents whose ```ts blocks a consumer must be able to compile as they are. */
const DOCUMENTS = ['README.md', path.join('docs', 'migrating-from-ws.md')];

/** Installed next to the tarball, at the versions the repository itself uses. */
const CONSUMER_PACKAGES = ['typescript', '@types/node', 'redis', 'https-proxy-agent'];

interface Run {
  stdout: string;
  stderr: string;
}

/**
 * The environment for child processes: npm's own variables from the `npm test` around us are
 * dropped, so the nested npm works on its own directory (npm_config_local_prefix would point it at
 * the repository).
 */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD'));
}

/** Runs a command to completion; rejects with its whole output when it fails. */
function run(file: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 240_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${path.basename(file)} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\n${stdout}\n${stderr}`));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

function npm(args: readonly string[], cwd: string): Promise<Run> {
  return run(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, cwd);
}

function installedVersion(name: string): string {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The ```ts blocks of a Markdown document, dedented (list items indent theirs). */
function typescriptBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  const pattern = /^([ \t]*)```ts[ \t]*\n([\s\S]*?)^\1```[ \t]*$/gm;
  for (const match of markdown.matchAll(pattern)) {
    const indent = match[1].length;
    blocks.push(match[2].split('\n').map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length))).join('\n'));
  }
  return blocks;
}

/** Every public export name of the built library in this repository. */
function repositoryExports(): string[] {
  return Object.keys(require('../../lib/index') as object).sort();
}

describe('the published package', function () {
  // Packing, installing and three compilations: generous, the machine may be busy.
  this.timeout(600_000);

  let work: string;
  let consumer: string;
  let tarball: string;
  let files: string[];
  /** How many ```ts blocks each document gave. */
  const blockCounts = new Map<string, number>();

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'wsframe-package-'));

    // A clean checkout: the sources without any build output, the repository's node_modules linked
    // in for the build tools, as `npm install` would have put them there.
    const checkout = path.join(work, 'checkout');
    fs.mkdirSync(checkout);
    for (const entry of PACKED_SOURCES) fs.cpSync(path.join(ROOT, entry), path.join(checkout, entry), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules'), 'dir');
    const packed = await npm(['pack', '--json', '--pack-destination', work], checkout);
    const [manifest] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(work, manifest.filename);
    files = manifest.files.map((file) => file.path).sort();

    consumer = path.join(work, 'consumer');
    writeJson(path.join(consumer, 'package.json'), { name: 'wsframe-consumer', private: true, type: 'commonjs' });
    const packages = CONSUMER_PACKAGES.map((name) => `${name}@${installedVersion(name)}`);
    await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, ...packages], consumer);

    // The same sources as CommonJS (cjs/, by the project's "type") and as ESM (esm/ has its own
    // package.json saying "module").
    const blocks = DOCUMENTS.flatMap((document) => {
      const found = typescriptBlocks(fs.readFileSync(path.join(ROOT, document), 'utf8'));
      blockCounts.set(document, found.length);
      return found;
    });
    for (const dir of ['cjs', 'esm']) {
      fs.mkdirSync(path.join(consumer, dir));
      blocks.forEach((block, i) => {
        // Each block is a module of its own, so two blocks may use the same names.
        const source = /^\s*(import|export)\s/m.test(block) ? block : `${block}\nexport {};\n`;
        fs.writeFileSync(path.join(consumer, dir, `example-${i + 1}.ts`), source);
      });
      fs.copyFileSync(path.join(FIXTURES, 'typed-events.ts'), path.join(consumer, dir, 'typed-events.ts'));
    }
    writeJson(path.join(consumer, 'esm', 'package.json'), { type: 'module' });
    fs.copyFileSync(path.join(FIXTURES, 'require-style.ts'), path.join(consumer, 'cjs', 'require-style.ts'));
    fs.copyFileSync(path.join(FIXTURES, 'runtime.cjs'), path.join(consumer, 'runtime.cjs'));
    fs.copyFileSync(path.join(FIXTURES, 'runtime.mjs'), path.join(consumer, 'runtime.mjs'));

    const strict = { strict: true, skipLibCheck: false, noEmit: true, target: 'es2022' };
    writeJson(path.join(consumer, 'tsconfig.nodenext.json'), {
      compilerOptions: { ...strict, module: 'nodenext', moduleResolution: 'nodenext' }, include: ['cjs', 'esm'],
    });
    writeJson(path.join(consumer, 'tsconfig.bundler.json'), {
      compilerOptions: { ...strict, module: 'preserve', moduleResolution: 'bundler' }, include: ['cjs', 'esm'],
    });
    writeJson(path.join(consumer, 'tsconfig.bundler-esm.json'), {
      compilerOptions: { ...strict, module: 'esnext', moduleResolution: 'bundler' }, include: ['esm'],
    });
  });

  after(() => {
    if (work !== undefined) fs.rmSync(work, { recursive: true, force: true });
  });

  /** Type-checks the consumer project with one of its configs; resolves with tsc's output. */
  async function typecheck(config: string): Promise<string> {
    const tsc = path.join(consumer, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      const { stdout, stderr } = await run(process.execPath, [tsc, '-p', config], consumer);
      return stdout + stderr;
    } catch (error) {
      return (error as Error).message;
    }
  }

  it('packs a clean checkout into the compiled library, its declarations, README and LICENSE', () => {
    expect(files).to.include.members([
      'LICENSE', 'README.md', 'package.json', 'build/lib/index.js', 'build/lib/index.d.ts', 'build/lib/cli/main.js',
      'build/lib/pubsub/redis.js', 'build/lib/pubsub/redis.d.ts',
    ]);
    const outside = files.filter((file) => !['LICENSE', 'README.md', 'package.json'].includes(file) && !file.startsWith('build/lib/'));
    expect(outside, 'files outside build/lib').to.deep.equal([]);
    expect(files.filter((file) => !/\.(js|d\.ts)$/.test(file) && file.startsWith('build/')), 'maps or other files').to.deep.equal([]);
    // Every module of lib/ is there, compiled and declared.
    const sources = fs.readdirSync(path.join(ROOT, 'lib'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
    for (const source of sources) {
      const base = `build/lib/${source.split(path.sep).join('/').slice(0, -3)}`;
      expect(files, source).to.include.members([`${base}.js`, `${base}.d.ts`]);
    }
  });

  it('declares readable-stream as its only dependency and bufferutil as an optional peer', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules', 'wsframe', 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    expect(Object.keys(manifest.dependencies ?? {})).to.deep.equal(['readable-stream']);
    expect(manifest.optionalDependencies).to.equal(undefined);
    expect(manifest.peerDependenciesMeta?.bufferutil?.optional).to.equal(true);
    // Nothing installed it: a consumer opts in.
    expect(fs.existsSync(path.join(consumer, 'node_modules', 'bufferutil'))).to.equal(false);
  });

  it('finds the TypeScript examples of the README and the migration guide', () => {
    // README: the decoder, server and client, proxy, raw pipeline and Redis examples.
    expect(blockCounts.get('README.md')).to.be.at.least(5);
    expect(blockCounts.get(path.join('docs', 'migrating-from-ws.md'))).to.be.at.least(3);
  });

  it('compiles the README examples and the typed-event checks as CommonJS and ESM under nodenext, strict, without skipLibCheck', async () => {
    expect(await typecheck('tsconfig.nodenext.json')).to.equal('');
  });

  it('compiles them under bundler resolution, with module preserve (import and require) and esnext', async () => {
    expect(await typecheck('tsconfig.bundler.json')).to.equal('');
    expect(await typecheck('tsconfig.bundler-esm.json')).to.equal('');
  });

  it('fails to compile a listener of the wrong type (the checks can fail)', async () => {
    // A copy of the checks with one wrong listener outside any @ts-expect-error.
    const broken = path.join(consumer, 'esm', 'broken.ts');
    fs.writeFileSync(broken, "import type { WebSocket } from 'wsframe';\nexport function f(ws: WebSocket): void {\n  ws.on('close', (code: string) => { void code; });\n}\n");
    try {
      expect(await typecheck('tsconfig.bundler-esm.json')).to.match(/broken\.ts\(3,/);
    } finally {
      fs.rmSync(broken);
    }
  });

  it('loads with require(): every export of the library, wsframe/redis, and a working echo without bufferutil', async () => {
    const { stdout } = await run(process.execPath, ['runtime.cjs'], consumer);
    const result = JSON.parse(stdout) as { exports: string[]; redisBroker: string; unmask: string; echoed: boolean };
    expect(result.exports).to.deep.equal(repositoryExports());
    expect(result.exports).to.include.members(['FrameDecoder', 'FrameEncoder', 'MessageDecoder', 'MessageEncoder', 'WebSocket', 'WebSocketServer', 'connect']);
    expect(result.redisBroker).to.equal('function');
    expect(result.unmask).to.equal('js');
    expect(result.echoed).to.equal(true);
  });

  it('loads with import: the same names as named exports', async () => {
    const { stdout } = await run(process.execPath, ['runtime.mjs'], consumer);
    const result = JSON.parse(stdout) as { exports: string[]; named: boolean };
    expect(result.exports).to.deep.equal(repositoryExports());
    expect(result.named).to.equal(true);
  });

  it('installs the wsframe command', async () => {
    const { stdout } = await run(path.join(consumer, 'node_modules', '.bin', 'wsframe'), ['--version'], consumer);
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(stdout.trim()).to.equal(manifest.version);
  });
});
