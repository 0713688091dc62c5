/**
 * Global setup of the browser tier: one Chromium, and the apps it tests.
 *
 * - Browser: Debian's `chromium` (TODO_CHROMIUM, default /usr/bin/chromium) driven by
 *   playwright-core; nothing is downloaded.
 * - Apps: with TODO_BROWSER_BASE_URL set (e.g. a cluster's NodePort), the tests run against that
 *   URL. Otherwise `python -m tests.apps` (tests/apps.py, shared with the pytest end-to-end test)
 *   starts the real backend on SQLite and the built frontend on 127.0.0.1, and lets the outage
 *   test stop and start the backend through its control URL.
 *   tests/apps.py runs with TODO_BROWSER_PYTHON, else the repository's .venv/bin/python, else python3.
 * - Output: screenshots and the apps' logs under TODO_BROWSER_ARTIFACTS (default
 *   <repo>/artifacts/browser, git-ignored), emptied at the start of each run.
 * - A missing Chromium, frontend build or backend dependency FAILS the tier in CI (CI=true or
 *   TODO_CI_STRICT=1) and skips it, with the reason, elsewhere.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { type BrowserServer, chromium } from 'playwright-core';
import type { TestProject } from 'vitest/node';

import { CHROMIUM_ARGS, type TierContext } from './tier';

const FRONTEND_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REPO_DIR = path.resolve(FRONTEND_DIR, '../..');
const APPS_START_TIMEOUT_MS = 180_000;

function strict(): boolean {
  return process.env.CI?.toLowerCase() === 'true' || process.env.TODO_CI_STRICT === '1';
}

function python(): string {
  const venv = path.join(REPO_DIR, '.venv', 'bin', 'python');
  return process.env.TODO_BROWSER_PYTHON || (existsSync(venv) ? venv : 'python3');
}

interface Apps {
  frontend: string;
  control: string;
  logs: string;
}

/** Start tests/apps.py and read its one JSON line: the URLs, or why the apps cannot run. */
function startApps(workDir: string): Promise<{ child: ChildProcess; apps: Apps | { unavailable: string } }> {
  const child = spawn(python(), ['-m', 'tests.apps', workDir], {
    cwd: REPO_DIR,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`tests/apps.py did not report within ${APPS_START_TIMEOUT_MS / 1000} s`));
    }, APPS_START_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const report = JSON.parse(line) as Partial<Apps> & { unavailable?: string; error?: string };
      if (report.error) reject(new Error(`the apps did not start: ${report.error}`));
      else if (report.unavailable) resolve({ child, apps: { unavailable: report.unavailable } });
      else resolve({ child, apps: report as Apps });
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tests/apps.py exited with ${code} before reporting`));
    });
  });
}

function stopApps(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.stdin?.end(); // tests/apps.py stops both apps when its stdin closes
  });
}

/** Delete what the tests created (every title carries the run's tag): this matters when the
 * tier ran against a live deployment. */
async function deleteTagged(context: TierContext): Promise<void> {
  const api = `${context.baseUrl}/api/backend/api/todos`;
  const todos = (await (await fetch(api)).json()) as { id: number; title: string }[];
  for (const todo of todos.filter((t) => t.title.includes(context.tag))) {
    await fetch(`${api}/${todo.id}`, { method: 'DELETE' });
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const artifacts = process.env.TODO_BROWSER_ARTIFACTS || path.join(REPO_DIR, 'artifacts', 'browser');
  const screenshots = path.join(artifacts, 'screenshots');
  rmSync(screenshots, { recursive: true, force: true });
  mkdirSync(screenshots, { recursive: true });

  const context: TierContext = {
    skip: null,
    baseUrl: '',
    control: null,
    wsEndpoint: '',
    screenshots,
    tag: `bt-${randomBytes(3).toString('hex')}`,
  };
  const unavailable = (reason: string): (() => Promise<void>) => {
    if (strict()) throw new Error(`browser tier: ${reason} (CI must provide it)`);
    console.warn(`\nbrowser tier SKIPPED: ${reason}\n`);
    project.provide('tier', { ...context, skip: reason });
    return async () => {};
  };

  const executablePath = process.env.TODO_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    return unavailable(`${executablePath} is missing (apt-get install chromium, or set TODO_CHROMIUM)`);
  }

  let child: ChildProcess | null = null;
  let appLogs: string | null = null;
  const external = process.env.TODO_BROWSER_BASE_URL?.trim();
  if (external) {
    context.baseUrl = external.replace(/\/+$/, '');
  } else {
    const appsDir = path.join(artifacts, 'apps');
    rmSync(appsDir, { recursive: true, force: true });
    const started = await startApps(appsDir);
    child = started.child;
    if ('unavailable' in started.apps) {
      await stopApps(child);
      return unavailable(started.apps.unavailable);
    }
    context.baseUrl = started.apps.frontend;
    context.control = started.apps.control;
    appLogs = started.apps.logs;
  }

  let server: BrowserServer;
  try {
    server = await chromium.launchServer({ executablePath, args: CHROMIUM_ARGS, headless: true });
  } catch (error) {
    if (child) await stopApps(child);
    throw error;
  }
  context.wsEndpoint = server.wsEndpoint();
  console.info(`browser tier: ${context.baseUrl} with ${executablePath}; screenshots in ${screenshots}`);
  if (appLogs) console.info(`browser tier: app logs in ${appLogs}`);
  project.provide('tier', context);

  return async () => {
    try {
      await server.close();
      await deleteTagged(context);
    } finally {
      if (child) await stopApps(child);
    }
  };
}
