// Uses the GraphQL playground (GraphiQL) the way a person does, in headless Chromium:
// opens the page, puts an Authorization header in GraphiQL's headers editor, sets a
// query, clicks the run button and prints what the result pane shows.
//
//   node playground/run.mjs http://127.0.0.1:8000/graphql TOKEN ['{ viewer { name } }']
//
// Offline: the page loads React, GraphiQL and its explorer plugin from a CDN (or from
// GRAPHIQL_ASSETS_URL on the server). Every request that does not go to the server is
// intercepted here: a URL ending in PACKAGE@VERSION/PATH is answered from this folder's
// node_modules when that exact version is installed (package.json pins the versions the
// page names; the page's integrity hashes check the bytes), and anything else is refused
// and reported. Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM); Playwright
// downloads no browser.
//
// Exit codes: 0 with the result pane's text on stdout (and on stderr, each file served in
// place of the CDN's); 1 when the page could not be used (the reason, the browser console's
// errors and any refused request on stderr); 2 for a bad command line.
// PLAYGROUND_SCREENSHOT=FILE.png saves what the page showed at the end.

import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODULES = path.join(HERE, 'node_modules');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT_MS = Number(process.env.PLAYGROUND_TIMEOUT_MS || 45_000);
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const CONTENT_TYPES = {
  '.js': 'application/javascript; charset=utf-8',
  '.mjs': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
// "@scope/name@1.2.3/some/file.js" or "name@1.2.3/file.js" at the end of a URL's path.
const PACKAGE_FILE = /\/((?:@[^/@]+\/)?[^/@]+)@([^/]+)\/(.+)$/;

function usage(message) {
  process.stderr.write(`${message}\nUsage: node run.mjs GRAPHQL_URL TOKEN [QUERY]\n`);
  process.exit(2);
}

/** The file of an installed package for a CDN URL, or a reason why there is none. */
function packageFile(url) {
  const match = PACKAGE_FILE.exec(new URL(url).pathname);
  if (!match) return { error: `not a PACKAGE@VERSION/PATH URL: ${url}` };
  const [, name, version, file] = match;
  const root = path.join(MODULES, ...name.split('/'));
  const manifest = path.join(root, 'package.json');
  if (!existsSync(manifest)) {
    return { error: `${name} is not installed: run npm ci --prefix playground (${url})` };
  }
  const installed = JSON.parse(readFileSync(manifest, 'utf8')).version;
  if (installed !== version) {
    return {
      error: `the page wants ${name}@${version}, playground/package.json has ${installed} (${url})`,
    };
  }
  const target = path.resolve(root, decodeURIComponent(file));
  if (!target.startsWith(root + path.sep) || !existsSync(target)) {
    return { error: `no file ${file} in ${name}@${version} (${url})` };
  }
  return { path: target };
}

async function main() {
  const [address, token, query = '{ viewer { name role } }'] = process.argv.slice(2);
  if (!address || !token) usage('A GraphQL URL and a token are needed.');
  let origin;
  try {
    origin = new URL(address).origin;
  } catch {
    usage(`Not a URL: ${address}`);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (make browser-deps)`);
  }

  const profile = mkdtempSync(path.join(tmpdir(), 'playground-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: TIMEOUT_MS,
  });
  try {
    context.setDefaultTimeout(TIMEOUT_MS);
    await context.route(
      (url) => url.origin !== origin && url.protocol !== 'data:',
      async (route) => {
        const url = route.request().url();
        const found = packageFile(url);
        if (found.error) {
          problems.push(`refused ${found.error}`);
          process.exitCode = 1;
          await route.abort('blockedbyclient');
          return;
        }
        served.push(url);
        await route.fulfill({
          status: 200,
          body: readFileSync(found.path),
          headers: {
            'content-type':
              CONTENT_TYPES[path.extname(found.path)] || 'application/octet-stream',
            // The page loads these with `crossorigin` and integrity hashes.
            'access-control-allow-origin': '*',
          },
        });
      },
    );
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });

    await page.goto(address, { waitUntil: 'load' });
    const editorsReady = page
      .locator('.graphiql-query-editor .CodeMirror')
      .waitFor({ state: 'visible' });
    await Promise.race([
      editorsReady,
      page.waitForTimeout(TIMEOUT_MS).then(() => {
        throw new Error('GraphiQL did not appear');
      }),
    ]).catch((error) => {
      throw new Error(`${error.message}${problems.length ? `: ${problems.join('; ')}` : ''}`);
    });

    // The headers editor: its tab, then its (now visible) CodeMirror.
    await page.locator('.graphiql-editor-tools button[data-name="headers"]').click();
    const headers = page.locator('section.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror');
    await headers.waitFor({ state: 'visible' });
    await setEditor(headers, JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2));
    await setEditor(page.locator('.graphiql-query-editor .CodeMirror'), query);

    const response = page.locator('.graphiql-response .CodeMirror');
    const before = await editorText(response);
    const sent = page.waitForRequest(
      (request) =>
        request.method() === 'POST' &&
        request.url().startsWith(origin) &&
        (request.postData() || '').includes(JSON.stringify(query).slice(1, -1)),
    );
    await page.locator('.graphiql-execute-button').click();
    const request = await sent;
    if (!(request.headers().authorization || '').includes(token)) {
      throw new Error('The query was sent without the Authorization header from the editor');
    }
    await page.waitForFunction(
      ([selector, previous]) => {
        const text = document.querySelector(selector)?.CodeMirror?.getValue() ?? '';
        return text.trim() !== '' && text !== previous;
      },
      ['.graphiql-response .CodeMirror', before],
    );
    process.stdout.write(`${await editorText(response)}\n`);
    for (const url of served) process.stderr.write(`served ${url} from node_modules\n`);
  } finally {
    if (process.env.PLAYGROUND_SCREENSHOT) {
      const page = context.pages()[0];
      if (page) await page.screenshot({ path: process.env.PLAYGROUND_SCREENSHOT }).catch(() => {});
    }
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Replace a CodeMirror editor's text through its own API (typing would auto-close brackets). */
async function setEditor(locator, text) {
  await locator.evaluate((element, value) => {
    element.CodeMirror.setValue(value);
  }, text);
}

async function editorText(locator) {
  return locator.evaluate((element) => element.CodeMirror.getValue());
}

const problems = [];
const served = [];
const consoleErrors = [];

main()
  .then(() => {
    if (problems.length) process.stderr.write(`playground: ${problems.join('\n')}\n`);
  })
  .catch((error) => {
    process.stderr.write(`playground: ${error.message}\n`);
    for (const problem of problems) process.stderr.write(`  ${problem}\n`);
    for (const text of consoleErrors) process.stderr.write(`  browser console: ${text}\n`);
    process.exit(1);
  });
