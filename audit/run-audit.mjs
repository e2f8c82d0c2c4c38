// Runs graphql-http's server audits (GraphQL over HTTP conformance) against a running
// contacts-server and fails if any audit fails: MUST, SHOULD and MAY alike.
//
//   AUDIT_URL=http://127.0.0.1:8000/graphql AUDIT_TOKEN=<token> node run-audit.mjs
//
// Every request carries the bearer token: without it our server answers 401 before
// GraphQL runs, and the audits would be measuring the authentication check instead.
import { serverAudits } from 'graphql-http';

const url = process.env.AUDIT_URL;
const token = process.env.AUDIT_TOKEN;
if (!url || !token) {
  console.error('Set AUDIT_URL (the /graphql endpoint) and AUDIT_TOKEN (an API token).');
  process.exit(2);
}

/** fetch, plus our Authorization header on every request the audits make. */
async function authenticatedFetch(input, init = {}) {
  const headers = new Headers(init.headers ?? {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

async function describe(response) {
  if (!response) return '';
  let body = '';
  try {
    body = await response.clone().text();
  } catch {
    body = '<unreadable body>';
  }
  const type = response.headers.get('content-type') ?? '<none>';
  return `HTTP ${response.status}, content-type ${type}, body ${body.slice(0, 300)}`;
}

const failures = [];
let passed = 0;
for (const audit of serverAudits({ url, fetchFn: authenticatedFetch })) {
  let result;
  try {
    result = await audit.fn();
  } catch (error) {
    // graphql-http throws (instead of reporting) when the server's answer is unusable.
    result = { id: audit.id, name: audit.name, status: 'error', reason: String(error) };
  }
  if (result.status === 'ok') {
    passed += 1;
    console.log(`ok    ${result.id} ${result.name}`);
  } else {
    const detail = await describe(result.response);
    failures.push(result);
    console.log(`FAIL  ${result.id} ${result.name} [${result.status}]: ${result.reason}`);
    if (detail) console.log(`        ${detail}`);
  }
}

console.log(`\ngraphql-http-audit: ${passed} passed, ${failures.length} failed`);
if (failures.length > 0) {
  console.log('Failed audits:');
  for (const failure of failures) console.log(`  - ${failure.id} ${failure.name}`);
  process.exit(1);
}
