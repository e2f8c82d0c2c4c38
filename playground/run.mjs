// Uses the GraphQL playground the way a person does, in headless Chromium, with no network
// but the server's: opens the page, reads what the first view offers, opens the docs, types
// a token into the headers editor in place of the template's placeholder, waits for the
// docs to load the schema (no re-fetch click), then runs a query and reads the result pane.
//
//   node playground/run.mjs http://127.0.0.1:8000/graphql TOKEN ['{ viewer { name role } }']
//
// Every request to another origin is refused and reported: the page must need nothing but
// the server (its GraphiQL and React come from the server's /playground/assets/), or the
// origins PLAYGROUND_ALLOW (comma-separated) names, such as a GRAPHIQL_ASSETS_URL mirror.
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM); Playwright downloads no browser.
//
// Exit codes: 0 with a JSON report on stdout (below); 1 when the page could not be used
// (the reason, the browser console's errors and any refused request on stderr); 2 for a
// bad command line. PLAYGROUND_SCREENSHOT=FILE.png saves what the page showed at the end.
//
// The report: { exampleQuery, headersTemplate, docsBeforeToken, rootTypes, introspections,
// result, refused, cspViolations, pageErrors, assets }, where assets lists the JavaScript
// and CSS the page asked for (a path on the server, a whole URL elsewhere) and
// introspections the Authorization header of each schema request, the token as TOKEN.

import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

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
const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';
const HEADERS_EDITOR = 'section.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';
const RESPONSE = '.graphiql-response .CodeMirror';
const QUERY_SETTLE_MS = 500;
const PLACEHOLDER = 'PASTE-YOUR-TOKEN-HERE';

function usage(message) {
  process.stderr.write(`${message}\nUsage: node run.mjs GRAPHQL_URL TOKEN [QUERY]\n`);
  process.exit(2);
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
  const allowed = new Set([origin]);
  for (const extra of (process.env.PLAYGROUND_ALLOW || '').split(',').filter(Boolean)) {
    allowed.add(new URL(extra).origin);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (make browser-deps)`);
  }

  const report = {
    refused: [],
    cspViolations: [],
    pageErrors: [],
    assets: [],
    introspections: [],
  };
  const profile = mkdtempSync(path.join(tmpdir(), 'playground-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: TIMEOUT_MS,
    viewport: { width: 1400, height: 900 },
  });
  try {
    context.setDefaultTimeout(TIMEOUT_MS);
    // Not an interception that answers anything: a wall, so that whatever the page would
    // fetch from elsewhere shows up as refused.
    await context.route(
      (url) => !allowed.has(url.origin) && url.protocol !== 'data:',
      async (route) => {
        report.refused.push(route.request().url());
        await route.abort('blockedbyclient');
      },
    );
    // Injected by the browser driver, not an inline script: the page's CSP does not apply.
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (event) => {
        window.__cspViolations.push(`${event.effectiveDirective} ${event.blockedURI}`);
      });
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => report.pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (/\.(js|css)$/.test(url.pathname)) {
        report.assets.push(url.origin === origin ? url.pathname : url.href);
      }
      const body = request.postData() || '';
      if (request.method() === 'POST' && body.includes('IntrospectionQuery')) {
        const authorization = request.headers().authorization ?? null;
        report.introspections.push(authorization && authorization.replace(token, 'TOKEN'));
      }
    });

    await page.goto(address, { waitUntil: 'load' });
    await page.locator(QUERY_EDITOR).waitFor({ state: 'visible' });
    report.exampleQuery = await editorText(page.locator(QUERY_EDITOR));
    const headers = page.locator(HEADERS_EDITOR);
    await headers.waitFor({ state: 'visible' });
    report.headersTemplate = await editorText(headers);

    // The docs, opened before the token is in: the schema request with the placeholder fails.
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.waitFor({ state: 'visible' });
    const error = docs.locator('.graphiql-doc-explorer-error');
    await error.waitFor({ state: 'visible' });
    report.docsBeforeToken = (await error.innerText()).trim();

    // Typed, key by key, over the placeholder, as a person pastes or types it.
    await headers.evaluate((element, placeholder) => {
      const editor = element.CodeMirror;
      const at = editor.getValue().indexOf(placeholder);
      if (at < 0) throw new Error(`No ${placeholder} in the headers editor`);
      editor.focus();
      editor.setSelection(editor.posFromIndex(at), editor.posFromIndex(at + placeholder.length));
    }, PLACEHOLDER);
    await page.keyboard.type(token);

    const rootType = docs.locator('.graphiql-doc-explorer-root-type').first();
    await rootType.waitFor({ state: 'visible' });
    report.rootTypes = await docs
      .locator('.graphiql-doc-explorer-root-type')
      .evaluateAll((spans) => spans.map((span) => span.parentElement.innerText.trim()));

    await setEditor(page.locator(QUERY_EDITOR), query);
    // GraphiQL takes the operation to run from an edit 100 ms after it (debounced): a click
    // sooner would ask for the example's operation by name in the new document.
    await page.waitForTimeout(QUERY_SETTLE_MS);
    const response = page.locator(RESPONSE);
    const before = await editorText(response);
    await page.locator('.graphiql-execute-button').click();
    await page.waitForFunction(
      ([selector, previous]) => {
        const text = document.querySelector(selector)?.CodeMirror?.getValue() ?? '';
        return text.trim() !== '' && text !== previous;
      },
      [RESPONSE, before],
    );
    report.result = JSON.parse(await editorText(response));
    report.cspViolations = await page.evaluate(() => window.__cspViolations);
    if (process.env.PLAYGROUND_SCREENSHOT) {
      await page.screenshot({ path: process.env.PLAYGROUND_SCREENSHOT });
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } catch (error) {
    error.message += report.refused.length ? ` (refused: ${report.refused.join(', ')})` : '';
    if (process.env.PLAYGROUND_SCREENSHOT) {
      const page = context.pages()[0];
      if (page) await page.screenshot({ path: process.env.PLAYGROUND_SCREENSHOT }).catch(() => {});
    }
    throw error;
  } finally {
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

const consoleErrors = [];

main().catch((error) => {
  process.stderr.write(`playground: ${error.message}\n`);
  for (const text of consoleErrors) process.stderr.write(`  browser console: ${text}\n`);
  process.exit(1);
});
